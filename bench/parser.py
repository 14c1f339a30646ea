"""Real-parser verdicts for a 100k-node model next to the floor they cannot beat: one bare parse.

In the same run, on the generated decoder model (bench/graphs.py), each in a fresh child process:
- bare: ``OnnxParser.supports_model_v2`` once (TensorRT-RTX from PyPI; no GPU needed), nothing else;
- verdicts: ``explorer.trt.judge_isolated`` (the isolated child, the whole verdict algorithm, the JSON
  back) and ``explorer.analyze(path, source="tensorrt-rtx")`` (load + verdicts + partitions);
- their ratio (target: verdicts within 1.2x of bare) and the peak RSS of each child.
Then the same for the model with a few unsupported nodes (one Unique every --bad-every layers), whose
unknown subgraphs need re-checks: the number of parses and the ratio are printed.

Usage: python bench/parser.py [--nodes 100000] [--repeat 2] [--bad-every 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from graphs import decoder_model  # noqa: E402

# Each measurement runs in its own Python, so peaks do not add up; the child prints seconds and peak RSS.
_CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
kind, path = sys.argv[1], sys.argv[2]
extra = {}
if kind == "bare":
    import tensorrt_rtx_libs, tensorrt_rtx_bindings as trt
    data = open(path, "rb").read()
    t = time.perf_counter()
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    builder = trt.Builder(logger)  # kept: the network must not outlive it
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    extra["supported"] = bool(parser.supports_model_v2(data, path))
    took = time.perf_counter() - t
elif kind == "judge":
    from explorer.trt import TENSORRT_RTX, judge_isolated
    t = time.perf_counter()
    result = judge_isolated(path, TENSORRT_RTX)
    took = time.perf_counter() - t
    extra = {"parses": result.parses, "unsupported": len(result.unsupported)}
else:
    import explorer
    t = time.perf_counter()
    report = explorer.analyze(path, source="tensorrt-rtx")
    took = time.perf_counter() - t
    extra = {"unsupported": len(report.unsupported), "source": report.source}
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": took, "rss": own, "child_rss": children, **extra}))
"""


def measure(kind: str, path: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, path], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def with_bad_nodes(model: onnx.ModelProto, every: int) -> onnx.ModelProto:
    """A Unique (no TensorRT importer for it) after the Relu of every ``every``-th layer."""
    nodes = list(model.graph.node)
    out, layer = [], 0
    for node in nodes:
        out.append(node)
        if node.op_type == "Relu" and node.name.endswith("/out/Relu"):
            if layer % every == 0:
                old = node.output[0]
                node.output[0] = old + "_pre"
                out.append(helper.make_node("Unique", [old + "_pre"], [old], name=node.name + "_unique"))
            layer += 1
    del model.graph.node[:]
    model.graph.node.extend(out)
    return model


def best(kind: str, path: str, repeat: int) -> dict:
    runs = [measure(kind, path) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def report(title: str, path: str, repeat: int) -> None:
    nodes = len(onnx.load(path, load_external_data=False).graph.node)
    bare = best("bare", path, repeat)
    judge = best("judge", path, repeat)
    full = best("analyze", path, repeat)
    print(f"\n{title}: {nodes} nodes (TensorRT-RTX, best of {repeat})")
    print(f"  bare supports_model_v2      {bare['seconds']:7.2f} s   peak RSS {bare['rss']:7.0f} MiB")
    print(f"  verdicts (judge_isolated)   {judge['seconds']:7.2f} s   peak RSS parent {judge['rss']:5.0f} MiB, "
          f"parser child {judge['child_rss']:5.0f} MiB   {judge['parses']} parse(s), "
          f"{judge['unsupported']} unsupported")
    print(f"  explorer.analyze(tensorrt-rtx) {full['seconds']:4.2f} s   peak RSS parent {full['rss']:5.0f} MiB, "
          f"parser child {full['child_rss']:5.0f} MiB")
    print(f"  ratio verdicts / bare: {judge['seconds'] / bare['seconds']:.2f} (target <= 1.2); "
          f"analyze / bare: {full['seconds'] / bare['seconds']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--bad-every", type=int, default=500,
                        help="also measure a model with a Unique every N layers (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "decoder.onnx")
        onnx.save(decoder_model(args.nodes), path)
        report("generated decoder model", path, args.repeat)
        if args.bad_every:
            bad = os.path.join(tmp, "decoder_bad.onnx")
            onnx.save(with_bad_nodes(decoder_model(args.nodes), args.bad_every), bad)
            report(f"same with a Unique every {args.bad_every} layers", bad, args.repeat)


if __name__ == "__main__":
    main()
