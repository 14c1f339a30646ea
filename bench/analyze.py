"""How fast is ``python -m explorer analyze MODEL --json`` next to the floor it cannot beat?

Four generated families (bench/graphs.py ``FAMILIES``): decoder blocks with few shared initializers,
decoder blocks with per-layer initializers and Constant nodes, a branchy CNN (Concat/Add joins, deep skips,
a plugin op every 25 blocks), and If/Loop bodies with model-local functions. For each family and size this
prints, measured in the same run, each figure the best of ``--repeat`` fresh processes:

- floor: a fresh ``python`` doing ``onnx.load`` + ``onnx.shape_inference.infer_shapes`` (the analysis needs both)
- cli: a fresh ``python -m explorer analyze MODEL --json > file`` (target at 100k nodes: <= 1.5x the floor)
- in-process: ``explorer.analyze(path)`` in this process, per node (flat from 1k to 100k = linear growth)
- the CLI's peak RSS (ru_maxrss: its largest process) above a fresh ``import onnx``, per node, and the JSON's
  size per node (nodes in If/Loop bodies counted, as in the per-node times)

then the peak RSS of the command on a model with 1 GB of (sparse) external weights, against ``import onnx``.

``--profile`` instead runs the CLI once per family at the largest size in a fresh process whose functions
are wrapped with timers (exclusive time: a phase's nested phases are not counted twice) and prints seconds
per phase: interpreter start/exit, imports, reading, parsing, building the IR, waiting for the shape
inference child, judging, partitioning, serialising.

Usage: python bench/analyze.py [--families decoder ...] [--sizes 1000 10000 100000] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)
from graphs import FAMILIES, model_with_external_weights  # noqa: E402

TARGET = 1.5

FLOOR = "import sys, onnx; onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]))"

# Runs a command; prints its wall seconds, the peak RSS (KiB) of its process tree and its exit code.
MEASURE = ("import resource, subprocess, sys, time; out = open(sys.argv[1], 'wb'); t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[2:], stdout=out); w = time.perf_counter() - t; "
           "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")


CODE = REPO  # whose explorer package the fresh processes run (--code: e.g. an older checkout, to compare)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (CODE, e.get("PYTHONPATH")) if p)
    return e


def measure(cmd: list[str], stdout: str = os.devnull) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a fresh process running ``cmd``."""
    out = subprocess.run([sys.executable, "-c", MEASURE, stdout, *cmd], capture_output=True, text=True,
                         check=True, env=env(), cwd=CODE)  # cwd: `-m`/`-c` put it first on the path
    wall, kib, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"command failed ({rc}): {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return float(wall), int(kib) / 1024


def best(repeat: int, cmd: list[str], stdout: str = os.devnull) -> tuple[float, float]:
    runs = [measure(cmd, stdout) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def interleaved(repeat: int, floor_cmd: list[str], cmd: list[str], stdout: str) -> tuple[float, float, float]:
    """(best floor s, best command s, peak RSS MiB of the command), the two run in turn so that a burst of
    load on the machine hits both alike."""
    floors, runs = [], []
    for _ in range(repeat):
        floors.append(measure(floor_cmd)[0])
        runs.append(measure(cmd, stdout))
    return min(floors), min(r[0] for r in runs), max(r[1] for r in runs)


def cli(path: str) -> list[str]:
    return [sys.executable, "-m", "explorer", "analyze", path, "--json"]


def count_nodes(path: str) -> tuple[int, int, int]:
    """(top-level nodes, nodes with bodies, initializers) of a saved model."""
    import onnx

    model = onnx.load(path, load_external_data=False)

    def walk(graph) -> int:
        total = 0
        for node in graph.node:
            total += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    total += walk(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    total += sum(walk(g) for g in attr.graphs)
        return total

    return len(model.graph.node), walk(model.graph), len(model.graph.initializer)


def make(tmp: str, family: str, size: int) -> str:
    import onnx

    path = os.path.join(tmp, f"{family}_{size}.onnx")
    if not os.path.exists(path):
        onnx.save(FAMILIES[family](size), path)
    return path


def in_process(path: str, repeat: int) -> float:
    import explorer

    explorer.analyze(path)  # warm: imports, the matrix's compiled rules, the shape-inference child
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        explorer.analyze(path)
        times.append(time.perf_counter() - start)
    return min(times)


def run_sizes(tmp: str, families: list[str], sizes: list[int], repeat: int) -> None:
    _, base_rss = best(repeat, [sys.executable, "-c", "import onnx"])
    print(f"memory baseline: a fresh `import onnx` peaks at {base_rss:.0f} MiB (subtracted below)\n")
    summary = []
    for family in families:
        print(f"{family}")
        print(f"{'nodes':>8} {'+bodies':>8} {'inits':>7} {'floor s':>8} {'cli s':>7} {'ratio':>6} "
              f"{'in-proc us/node':>15} {'cli us/node':>11} {'RSS MiB':>8} {'KiB/node':>8} {'JSON B/node':>11}")
        for size in sizes:
            path = make(tmp, family, size)
            top, total, inits = count_nodes(path)
            out = os.path.join(tmp, "out.json")
            floor, took, rss = interleaved(repeat, [sys.executable, "-c", FLOOR, path], cli(path), out)
            json_bytes = os.path.getsize(out)
            with open(out) as f:
                json.load(f)  # complete and valid
            inproc = in_process(path, max(1, repeat - 1))
            print(f"{top:>8} {total:>8} {inits:>7} {floor:>8.3f} {took:>7.3f} {took / floor:>6.2f} "
                  f"{inproc / total * 1e6:>15.1f} {took / total * 1e6:>11.1f} {rss:>8.0f} "
                  f"{max(0.0, rss - base_rss) * 1024 / total:>8.2f} {json_bytes / total:>11.0f}")
        summary.append((family, top, took / floor))
        print()
    worst = max(r for _, _, r in summary)
    print("cli / floor at the largest size: " + ", ".join(f"{f} {r:.2f}x" for f, _, r in summary)
          + f"  (target <= {TARGET}x; worst {worst:.2f}x)")


def run_external(tmp: str, repeat: int) -> None:
    big = model_with_external_weights(os.path.join(tmp, "external_1gb.onnx"), 1024**3)
    wall, rss = best(repeat, cli(big))
    _, baseline = best(repeat, [sys.executable, "-c", "import onnx"])
    print(f"\n1 GB external weights (sparse file, never read): `analyze --json` {wall:.2f} s, peak RSS {rss:.0f} MiB; "
          f"a fresh `import onnx` {baseline:.0f} MiB (+{rss - baseline:.0f} MiB)")


# ------------------------------------------------------------------------------------------- --profile

#: (module, attribute, phase): functions whose exclusive time is a phase; missing ones are skipped
PHASES = [
    ("explorer.model.loader", "_read_file", "read file"),
    ("explorer.model.loader", "_parse", "parse protobuf"),
    ("explorer.model.loader", "_build_graph", "build IR"),
    ("explorer.model.loader", "_collect", "parse inferred model"),
    ("explorer.model.loader", "_attach_types", "attach inferred types"),
    ("explorer.model.loader", "_receive_types", "parse inferred model"),
    ("explorer.isolation", "Pending.result", "wait: shape inference child"),
    ("explorer.support.analysis", "_choose_source", "choose source, load matrix"),
    ("explorer.support.rules", "judge_graph", "judge (rules)"),
    ("explorer.support.rules", "_rules", "compile matrix rules"),
    ("explorer.support.analysis", "_matrix_verdicts", "verdict objects"),
    ("explorer.support.analysis", "_partitions", "partition"),
    ("explorer.support.report", "SupportReport.to_dict", "to_dict"),
    ("explorer.support.report", "SupportReport.write_json", "serialise JSON"),
    ("explorer.cli", "print_json", "serialise JSON"),
]

DRIVER = r"""
import importlib, json, sys, time
T0 = time.perf_counter()
phases, stack = {}, [["other", T0]]

def switch_in(label):
    now = time.perf_counter()
    top = stack[-1]
    phases[top[0]] = phases.get(top[0], 0.0) + now - top[1]
    stack.append([label, now])

def switch_out():
    now = time.perf_counter()
    label, since = stack.pop()
    phases[label] = phases.get(label, 0.0) + now - since
    stack[-1][1] = now

def timed(fn, label):
    def wrapper(*a, **k):
        switch_in(label)
        try:
            return fn(*a, **k)
        finally:
            switch_out()
    wrapper.__wrapped__ = fn
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(wrapper, attr, getattr(fn, attr, None))
    return wrapper

bootstrap = sys.modules["_frozen_importlib"]

PHASES = json.loads(sys.argv[2])
pending = {m: [] for m, _, _ in PHASES}
for m, attr, label in PHASES:
    pending[m].append((attr, label))

def install(m):
    # wrap a module's phase functions once it has finished executing
    mod = sys.modules.get(m)
    for attr, label in pending.pop(m, []) if mod is not None else []:
        owner, name = mod, attr
        if "." in attr:
            cls, name = attr.split(".")
            owner = getattr(mod, cls, None)
        if owner is not None and callable(getattr(owner, name, None)):
            setattr(owner, name, timed(getattr(owner, name), label))

original = bootstrap._find_and_load
def find_and_load(name, import_):
    switch_in("imports")
    try:
        return original(name, import_)
    finally:
        switch_out()
        if name in pending:
            install(name)
bootstrap._find_and_load = find_and_load

from explorer.cli import main
for m in [m for m in pending if m in sys.modules]:
    install(m)
with open(sys.argv[3], "w") as out:
    real, sys.stdout = sys.stdout, out
    code = main(["analyze", sys.argv[1], "--json"])
    sys.stdout = real
now = time.perf_counter()
phases["other"] = phases.get("other", 0.0) + now - stack[0][1]
phases["(total in main)"] = time.perf_counter() - T0
sys.stderr.write("PHASES " + json.dumps(phases) + "\n")
"""


def profile(tmp: str, families: list[str], size: int) -> None:
    print(f"where `analyze --json` spends its time at ~{size} nodes (one fresh process each; exclusive seconds)")
    rows = {}
    totals = {}
    for family in families:
        path = make(tmp, family, size)
        floor, _ = best(1, [sys.executable, "-c", FLOOR, path])
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", DRIVER, path, json.dumps(PHASES), os.path.join(tmp, "p.json")],
                             capture_output=True, text=True, env=env(), cwd=CODE)
        wall = time.perf_counter() - start
        line = [ln for ln in out.stderr.splitlines() if ln.startswith("PHASES ")]
        if out.returncode != 0 or not line:
            raise SystemExit(f"profile run failed:\n{out.stderr[-3000:]}")
        phases = json.loads(line[0][len("PHASES "):])
        inside = phases.pop("(total in main)")
        phases["interpreter start + exit"] = wall - inside
        rows[family] = phases
        totals[family] = (wall, floor)
    labels = []
    for phases in rows.values():
        labels += [k for k in phases if k not in labels]
    labels.sort(key=lambda k: -max(rows[f].get(k, 0.0) for f in rows))
    width = max(len(k) for k in labels)
    print(f"{'phase':<{width}} " + " ".join(f"{f:>22}" for f in families))
    for label in labels:
        print(f"{label:<{width}} " + " ".join(f"{rows[f].get(label, 0.0):>22.3f}" for f in families))
    print(f"{'wall (profiled)':<{width}} " + " ".join(f"{totals[f][0]:>22.3f}" for f in families))
    print(f"{'floor (same run)':<{width}} " + " ".join(f"{totals[f][1]:>22.3f}" for f in families))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="per-phase seconds at the largest size instead")
    parser.add_argument("--no-external", action="store_true", help="skip the 1 GB external-weights run")
    parser.add_argument("--external-only", action="store_true", help="only the 1 GB external-weights run")
    parser.add_argument("--code", default=REPO, help="directory holding the explorer package to measure "
                                                     "(default: this checkout)")
    args = parser.parse_args()
    global CODE
    CODE = os.path.abspath(args.code)
    if CODE != REPO:
        print(f"measuring the explorer package in {CODE}")
        sys.path.insert(0, CODE)  # for the in-process figures too
        os.chdir(CODE)  # and for their isolation children (`python -m` puts the working directory first)
    warnings.simplefilter("ignore")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        if args.profile:
            profile(tmp, args.families, max(args.sizes))
            return
        if args.external_only:
            run_external(tmp, args.repeat)
            return
        run_sizes(tmp, args.families, sorted(args.sizes), args.repeat)
        if not args.no_external:
            run_external(tmp, args.repeat)


if __name__ == "__main__":
    main()
