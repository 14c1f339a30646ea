"""What Polygraphy does with TensorRT for the calls the explorer makes, so the API check can follow them.

Read from Polygraphy's source (``polygraphy/backend/trt/config.py``, ``loader.py``, ``profile.py``,
``runner.py``; 0.53.6). For each Polygraphy callable the explorer imports: ``uses[None]`` is the TensorRT
API every call reaches, ``uses[keyword]`` what giving that keyword adds; ``source`` is the Polygraphy file
the uses are read from (:func:`table` checks each member name still appears there, so the table cannot
silently go stale when Polygraphy changes), ``returns`` what calling the made object gives. Uses are
``"Class.member"`` (``" (set)"`` for an assigned property), checked against each TensorRT version's dump.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

USES: dict[str, dict[str, Any]] = {
    "polygraphy.backend.trt.CreateConfig": {
        "source": "polygraphy/backend/trt/config.py",
        "returns": "IBuilderConfig",  # CreateConfig(...)(builder, network)
        "uses": {
            None: ["Builder.create_builder_config", "IBuilderConfig.add_optimization_profile",
                   "IBuilderConfig.create_timing_cache", "IBuilderConfig.set_timing_cache",
                   "IBuilderConfig.profiling_verbosity (set)"],
            "tf32": ["BuilderFlag.TF32", "IBuilderConfig.set_flag"],
            "fp16": ["BuilderFlag.FP16", "IBuilderConfig.set_flag"],
            "bf16": ["BuilderFlag.BF16", "IBuilderConfig.set_flag"],
            "int8": ["BuilderFlag.INT8", "IBuilderConfig.set_flag"],
            "fp8": ["BuilderFlag.FP8", "IBuilderConfig.set_flag"],
            "sparse_weights": ["BuilderFlag.SPARSE_WEIGHTS", "IBuilderConfig.set_flag"],
            "profiling_verbosity": ["IBuilderConfig.profiling_verbosity (set)"],
            "memory_pool_limits": ["IBuilderConfig.set_memory_pool_limit"],
            "builder_optimization_level": ["IBuilderConfig.builder_optimization_level (set)"],
            "progress_monitor": ["IBuilderConfig.progress_monitor (set)"],
            "load_timing_cache": ["IBuilderConfig.create_timing_cache"],
        },
    },
    "polygraphy.backend.trt.Profile": {
        "source": "polygraphy/backend/trt/profile.py",
        "uses": {  # Profile.to_trt, called by CreateConfig for every profile
            None: ["Builder.create_optimization_profile", "IOptimizationProfile.set_shape",
                   "INetworkDefinition.get_input", "INetworkDefinition.num_inputs", "ITensor.is_shape_tensor",
                   "ITensor.shape"],
        },
    },
    "polygraphy.backend.trt.EngineBytesFromNetwork": {
        "source": "polygraphy/backend/trt/loader.py",
        "uses": {
            None: ["Builder.build_serialized_network"],
            "save_timing_cache": ["IBuilderConfig.get_timing_cache", "IBuilderConfig.create_timing_cache",
                                  "ITimingCache.combine", "ITimingCache.serialize"],
        },
    },
    "polygraphy.backend.trt.TrtRunner": {
        "source": "polygraphy/backend/trt/runner.py",
        "uses": {
            None: ["IExecutionContext.engine", "IExecutionContext.set_input_shape",
                   "IExecutionContext.set_tensor_address", "IExecutionContext.get_tensor_address",
                   "IExecutionContext.get_tensor_shape", "IExecutionContext.execute_async_v3",
                   "ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name", "ICudaEngine.get_tensor_mode",
                   "ICudaEngine.get_tensor_dtype", "ICudaEngine.is_shape_inference_io"],
        },
    },
    "polygraphy.util.LockFile": {"source": "polygraphy/util/util.py", "uses": {None: []}},
}


def table() -> dict[str, dict[str, Any]]:
    """:data:`USES` with each callable's parameter names from the installed Polygraphy; raises when a name or
    a member of the table is not in the installed Polygraphy's source (the table needs re-reading)."""
    import polygraphy

    root = Path(polygraphy.__file__).resolve().parent.parent
    out: dict[str, dict[str, Any]] = {}
    for qual, entry in USES.items():
        module_name, _, name = qual.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name)
        # a class's keywords: its __init__'s and, where that forwards **kwargs, its bases' (CreateConfig's)
        inits = [vars(c)["__init__"] for c in obj.__mro__ if "__init__" in vars(c) and c is not object] \
            if inspect.isclass(obj) else [obj]
        params: dict[str, inspect.Parameter] = {}
        var_kw = True
        for init in inits:
            own = inspect.signature(init).parameters
            params.update({k: v for k, v in own.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)})
            if not any(p.kind is p.VAR_KEYWORD for p in own.values()):
                var_kw = False
                break
        text = (root / entry["source"]).read_text()
        for uses in entry["uses"].values():
            for use in uses:
                member = use.split(" ")[0].split(".")[1]
                if member not in text:
                    raise LookupError(f"{qual}: {member} is not in {entry['source']} of Polygraphy "
                                      f"{polygraphy.__version__}; re-read what it uses of TensorRT")
        out[qual] = {**entry, "params": [p for p in params if p != "self"], "var_kw": var_kw,
                     "version": polygraphy.__version__}
    return out
