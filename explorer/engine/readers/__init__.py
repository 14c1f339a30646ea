"""Readers of what TensorRT writes; each returns a partial :class:`~explorer.engine.report.EngineReport`.

* :func:`read_layer_info` - trtexec ``--exportLayerInfo`` / engine inspector JSON (8.x-11.x, names-only form)
* :func:`read_profile` - trtexec ``--exportProfile`` (per-layer latency)
* :func:`read_times` - trtexec ``--exportTimes`` (end-to-end latency percentiles, throughput)
* :func:`read_build_log` - verbose build logs 7.x/8.x/10.x (tactics, choices, memory), streamed
* :func:`read_dump_profile` - the per-layer table ``trtexec --dumpProfile`` prints in its log (7.x-11.x)
* :func:`read_trex_folder` - a TREx-layout folder (``E.graph.json``, ``E.profile.json``, ``E.timing.json``,
  ``E.*.metadata.json``), one engine of it; :func:`list_engines` names them
* :func:`read_rtx_trace` - the TensorRT-RTX execution provider's per-layer trace (``nv_enable_profiling``)
* :func:`read_artifact` - any of these from one path, told apart by content (:func:`artifact_kind`)
"""

from ..report import tactic_key
from .build_log import LogParser, read_build_log
from .layer_info import read_layer_info
from .profile import read_profile, read_times
from .dump_profile import read_dump_profile
from .rtx_trace import read_rtx_trace
from .trex_folder import list_engines, read_trex_folder
from .artifact import artifact_kind, read_artifact, read_log

__all__ = ["LogParser", "artifact_kind", "list_engines", "read_artifact", "read_build_log", "read_dump_profile",
           "read_layer_info", "read_log", "read_profile", "read_rtx_trace", "read_times", "read_trex_folder",
           "tactic_key"]
