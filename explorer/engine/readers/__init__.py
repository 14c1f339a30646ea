"""Readers of what TensorRT writes; each returns a partial :class:`~explorer.engine.report.EngineReport`.

* :func:`read_layer_info` - trtexec ``--exportLayerInfo`` / engine inspector JSON (8.x-11.x, names-only form)
* :func:`read_profile` - trtexec ``--exportProfile`` (per-layer latency)
* :func:`read_times` - trtexec ``--exportTimes`` (end-to-end latency percentiles, throughput)
* :func:`read_build_log` - verbose build logs 7.x/8.x/10.x (tactics, choices, memory), streamed
"""

from ..report import tactic_key
from .build_log import LogParser, read_build_log
from .layer_info import read_layer_info
from .profile import read_profile, read_times

__all__ = ["LogParser", "read_build_log", "read_layer_info", "read_profile", "read_times", "tactic_key"]
