"""ONNX Runtime as an engine: real fusions, real per-node timings, on the CPU here and on a GPU where there is one.

The only part of the explorer that imports ``onnxruntime``, lazily (see :mod:`.session`). By role:

* :mod:`.session` - availability, providers, session options, the shared thread pool, running a model;
* :mod:`.convert` - precision conversion (fp16/bf16) and int8 quantization;
* :mod:`.inputs` - input specs, shapes, random inputs;
* :mod:`.profiler` - the profiler's overhead, calibrated, and per-node statistics corrected for it;
* :mod:`.trace` - the profiler's trace file;
* :mod:`.mapping` - the optimized graph mapped onto the original;
* :mod:`.build` - the build itself, phase by phase;
* :mod:`.report` - :class:`OrtBuildResult` (what crosses the worker's pipe) and the explorer's report of it.

What a build does (:func:`build`, run in the worker process that :mod:`explorer.backends.jobs` starts):

1. **load** the model and give every node its explorer id as its name (ONNX Runtime refuses duplicate node
   names, and the ids are what every report uses);
2. **convert** to the requested precision: fp16/bf16 through :mod:`explorer.backends.precision`, int8
   through ``onnxruntime.quantization.quantize_static`` (QDQ format, symmetric int8 activations and weights:
   zero points of 0, what TensorRT needs), calibrated on a few random batches - good for exploring what
   quantization does to the graph and the timings, not for accuracy; a model that already has Q/DQ nodes is
   kept as is; fp8 is not something ONNX Runtime builds;
3. **optimize**: create the sessions at the graph optimization level that matches ``opt_level``
   (:data:`ORT_LEVELS`) and save ONNX Runtime's optimized graph, compared with the original to find the
   fusions (:func:`map_optimized_graph`);
4. **calibrate** the profiler's overhead, **warm up**, then **time**: ``runs`` runs in a session without
   the profiler (the end-to-end time) and up to ``runs`` in an identical session with it (per-node times),
   alternating in blocks so both see the same machine; one progress step per run;
5. **report**: per-node median / p10 / p90 / mean over the runs, provider placement, memory.

Optimization levels (``opt_level`` is TensorRT's builder optimization level, 0-5):

==========  =====================  ==========================================================================
opt_level   ONNX Runtime level     what it adds
==========  =====================  ==========================================================================
0           ORT_DISABLE_ALL        nothing: the graph as written
1           ORT_ENABLE_BASIC       constant folding, redundant node removal, Conv+BatchNorm/Add/Mul folding
2           ORT_ENABLE_EXTENDED    + FusedConv (Conv+activation), MatMul+Add -> Gemm, Gelu, LayerNormalization,
                                   SkipLayerNormalization, Attention, QDQ -> QLinear* ops ...
3, 4, 5     ORT_ENABLE_ALL         + layout optimizations: on the CPU, NCHWc (``com.microsoft.nchwc``) Conv /
                                   pooling nodes with Reorder nodes around them. These are specific to the
                                   CPU they were made on; they are reported like any other node.
==========  =====================  ==========================================================================
"""

from __future__ import annotations

from ...model.quantization import has_qdq
from ...model.transforms import name_nodes_by_id
from .build import build
from .convert import CALIBRATION_BATCHES, Conversion, convert_precision, quantize_int8
from ..inputs import graph_input_specs
from .inputs import InputPlan, plan_inputs, random_inputs, resolve_input_shapes
from .mapping import GraphMapping, MappedNode, VanishedGroup, map_optimized_graph
from .profiler import (CALIBRATION_NODES, CORRECTED_FLOOR_US, PARALLEL_NODES, DurationStats, ProfilerCalibration,
                       calibrate_profiler_overhead, calibration_summary, corrected_stats, recent_calibration,
                       stats_ms, whole_us_median, whole_us_quantiles)
from .report import (OrtBuildResult, OrtFusion, OrtLatency, OrtLayer, OrtMemory, OrtSettings, OrtTensor,
                     report_from_onnxruntime)
from .session import (ORT_LEVELS, SHARED_POOL_ENV, Cancelled, available, choose_providers, create_session,
                      graph_optimization_level, make_session_options, run, shared_thread_pool,
                      tensorrt_provider_options, version)
from .trace import NodeProfile, Profile, nested_event_counts, parse_profile, read_profile_file

__all__ = ["CALIBRATION_BATCHES", "CALIBRATION_NODES", "CORRECTED_FLOOR_US", "Cancelled", "Conversion",
           "DurationStats", "GraphMapping", "MappedNode", "NodeProfile", "ORT_LEVELS", "OrtBuildResult", "OrtFusion",
           "OrtLatency", "OrtLayer", "OrtMemory", "OrtSettings", "OrtTensor", "PARALLEL_NODES", "Profile",
           "ProfilerCalibration", "SHARED_POOL_ENV", "VanishedGroup", "available", "build",
           "calibrate_profiler_overhead", "calibration_summary", "choose_providers", "convert_precision",
           "corrected_stats", "create_session", "graph_input_specs", "graph_optimization_level", "has_qdq",
           "make_session_options", "map_optimized_graph", "name_nodes_by_id", "nested_event_counts",
           "parse_profile", "plan_inputs", "InputPlan", "quantize_int8", "random_inputs", "read_profile_file", "recent_calibration",
           "report_from_onnxruntime", "resolve_input_shapes", "run", "shared_thread_pool", "stats_ms",
           "tensorrt_provider_options", "version", "whole_us_median", "whole_us_quantiles"]
