"""What explorer.build(backend="tensorrt-rtx") costs over TensorRT-RTX's bare build, measured in the same run.

    python bench/rtx_build.py [--models resnet18 transformer_encoder ...] [--repeat 3]

For each model: the bare build in this process (``OnnxParser.parse_from_file``, a builder config with
SM86 and DETAILED verbosity, ``build_serialized_network``: the best of ``--repeat``), then
``explorer.build(model, backend="tensorrt-rtx")`` (best of ``--repeat``, the worker kept warm): the
worker's own total (parse + config + build + log + plan written; target: within 1.2x of the bare build)
and the wall time the caller sees (worker round trip and the report made from the builder's log). No
assertions: figures as measured on this machine (2 shared cores: expect noise).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ["resnet18", "transformer_encoder", "resnet18_qat"]


def bare_build(path: str) -> float:
    """Seconds for parse + config + build_serialized_network, TensorRT-RTX alone (a quiet logger)."""
    import tensorrt_rtx_libs  # noqa: F401
    import tensorrt_rtx_bindings as trt

    class Quiet(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)

        def log(self, severity, msg):
            pass

    logger = Quiet()
    t0 = time.perf_counter()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(path):
        raise RuntimeError(f"parse failed: {path}")
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    config.num_compute_capabilities = 1
    config.set_compute_capability(trt.ComputeCapability.SM86, 0)
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - t0
    assert plan is not None
    del plan, config, parser, network, builder
    return seconds


def main(argv=None) -> int:
    import explorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    explorer.build(str(REPO / "sample_models" / "hostile_names.onnx"), backend="tensorrt-rtx")  # warm worker
    print(f"{'model':<22}{'bare s':>9}{'worker s':>10}{'ratio':>8}{'wall s':>9}{'wall/bare':>11}  target: worker "
          "within 1.2x of bare")
    for name in args.models:
        path = str(REPO / "sample_models" / f"{name}.onnx")
        precision = "int8" if "qat" in name or "qdq" in name else "fp32"
        bare = min(bare_build(path) for _ in range(args.repeat))
        worker, wall = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            report = explorer.build(path, backend="tensorrt-rtx", precision=precision, runs=1, warmup=0)
            wall.append(time.perf_counter() - t0)
            worker.append(report.timings["worker_s"]["total"])
        ratio = min(worker) / bare
        print(f"{name:<22}{bare:>9.3f}{min(worker):>10.3f}{ratio:>8.2f}{min(wall):>9.3f}{min(wall) / bare:>11.2f}  "
              f"{'ok' if ratio <= 1.2 else 'over'}")
    print("source: TensorRT-RTX 1.7.1 AOT (SM86) builds made now; worker = TensorRTBuildResult.total_seconds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
