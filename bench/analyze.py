"""How fast is `explorer.analyze` next to the floor it cannot beat?

For decoder-style graphs of 1k, 10k and 100k nodes this prints, measured in the same run:
- floor: ``onnx.load`` + ``onnx.shape_inference.infer_shapes`` (the analysis needs both)
- analyze: ``explorer.analyze(path)`` (load, shape inference, judging every node, partitions)
- their ratio (target at 100k: <= 2x) and the cost per node (flat = linear growth)
- the whole ``python -m explorer analyze --json`` command at 100k (target <= 5 s)
and the peak RSS of the command on a model with 1 GB of external weights (target <= 150 MB).

Usage: python bench/analyze.py [--sizes 1000 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graphs import decoder_model, model_with_external_weights  # noqa: E402

import explorer  # noqa: E402


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_mib(cmd: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB) of that child alone."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True)
    wall, kib, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}")
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'nodes':>8} {'floor s':>9} {'analyze s':>10} {'ratio':>6} {'analyze us/node':>16} {'partitions':>10}")
        command_path = None
        for size in args.sizes:
            path = os.path.join(tmp, f"decoder_{size}.onnx")
            onnx.save(decoder_model(size), path)
            nodes = len(onnx.load(path).graph.node)
            floor = best_of(args.repeat, lambda: onnx.shape_inference.infer_shapes(onnx.load(path)))
            report = explorer.analyze(path)
            took = best_of(args.repeat, lambda: explorer.analyze(path))
            print(f"{nodes:>8} {floor:>9.3f} {took:>10.3f} {took / floor:>6.2f} {took / nodes * 1e6:>16.1f} "
                  f"{len(report.partitions):>10}")
            command_path = path
        if command_path:
            wall, rss = peak_rss_mib([sys.executable, "-m", "explorer", "analyze", command_path, "--json"])
            print(f"\n`python -m explorer analyze --json` on {nodes} nodes: {wall:.2f} s wall (target <= 5 s), "
                  f"peak RSS {rss:.0f} MiB")

        big = model_with_external_weights(os.path.join(tmp, "external_1gb.onnx"), 1024**3)
        wall, rss = peak_rss_mib([sys.executable, "-m", "explorer", "analyze", big, "--json"])
        baseline_wall, baseline_rss = peak_rss_mib([sys.executable, "-c", "import explorer"])
        print(f"1 GB external weights: `analyze` {wall:.2f} s, peak RSS {rss:.0f} MiB (target <= 150 MiB; "
              f"`import explorer` alone: {baseline_rss:.0f} MiB)")


if __name__ == "__main__":
    main()
