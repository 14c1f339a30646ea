"""How often the support-matrix prediction agrees with NVIDIA's real ONNX parser, node by node.

The real parser is TensorRT-RTX's (the onnx-tensorrt parser, from PyPI; it runs on the CPU), judged through
``explorer.trt.verdicts`` (every node gets a verdict: unknown subgraphs are re-checked). Three corpora:

- ONNX's own node test models (``onnx.backend.test.case.node.collect_testcases()``), every node compared;
  cases the parser rejects as a whole (model-level errors, unreadable) are left out and counted.
- The sample models (``sample_models/*.onnx``).
- ``bench/fidelity_cases.py``: small models for edge cases read from the onnx-tensorrt parser source, each
  with the file:line it comes from.

Ops where TensorRT-RTX's parser differs from TensorRT's by design (``TENSORRT_RTX.differs_by_design``: NonZero,
which TensorRT imports through a plugin TensorRT-RTX lacks) are left out of the agreement and counted apart:
the version predictions are TensorRT's.

Last, the explorer's real-parser source itself (``explorer.analyze(model, source="tensorrt-rtx")``, through its
isolated child) is held against direct calls of the parser's own API on the sample models: every node the
parser names in an error must be unsupported with that message, a model ``supports_model_v2`` takes whole
must be supported throughout, and every top-level verdict must equal :mod:`explorer.trt.verdicts` called
directly.

Usage: ``PYTHONPATH=. .venv/bin/python bench/fidelity.py [--versions 10.1,10.15] [--show N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import onnx  # noqa: E402

from explorer.model import load_model  # noqa: E402
from explorer.support.matrix import load_matrix  # noqa: E402
from explorer.support.rules import judge_graph  # noqa: E402
from explorer.trt.library import TENSORRT_RTX  # noqa: E402
from explorer.trt.verdicts import SUPPORTED, UNSUPPORTED, judge_in_subprocess  # noqa: E402

BY_DESIGN = dict(TENSORRT_RTX.differs_by_design)  # ops where TensorRT-RTX's parser differs from TensorRT's


def node_test_models(folder: Path) -> list[tuple[str, Path]]:
    from onnx.backend.test.case.node import collect_testcases

    out = []
    for case in collect_testcases():
        path = folder / f"{case.name}.onnx"
        onnx.save(case.model, path)
        out.append((case.name, path))
    return out


def _prepared(path: Path):
    """The explorer's Model of a trusted test file, shape inference done here (no child per model)."""
    proto = onnx.load(path)
    try:
        proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # keep the declared types
        pass
    return load_model(proto, infer_shapes=False)


EXAMPLES = 3
VERBOSE = False


class Tally:
    def __init__(self):
        self.agree = 0
        self.total = 0
        self.by_op: dict[str, Counter] = defaultdict(Counter)
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.by_design: Counter = Counter()  # disagreements on ops TensorRT-RTX treats differently by design

    def add(self, op: str, agree: bool, example: str) -> None:
        if not agree and op in BY_DESIGN:
            self.by_design[op] += 1  # left out of the agreement: the prediction is TensorRT's, on purpose
            return
        self.total += 1
        self.agree += agree
        self.by_op[op]["total"] += 1
        if not agree:
            self.by_op[op]["disagree"] += 1
            if len(self.examples[op]) < EXAMPLES:
                self.examples[op].append(example)

    def line(self, label: str) -> str:
        pct = 100.0 * self.agree / self.total if self.total else 0.0
        return f"{label}: {self.agree}/{self.total} node verdicts agree ({pct:.1f}%)"


def compare(named: list[tuple[str, Path]], verdicts, matrices, tallies, *, skipped: Counter) -> None:
    for (name, path), result in zip(named, verdicts):
        if result.failure or result.model_errors or not result.nodes:
            skipped["model-level parser error or unreadable"] += 1
            if VERBOSE:
                why = result.failure or "; ".join(e.message for e in result.model_errors)[:200]
                print(f"    left out {name}: {why}")
            continue
        try:
            model = _prepared(path)
        except Exception:  # the explorer cannot load it: nothing to compare
            skipped["explorer cannot load"] += 1
            continue
        main = result.main
        if len(main) != len(model.graph.nodes):
            skipped["node count differs"] += 1
            continue
        for version, matrix in matrices.items():
            judgements = judge_graph(model, matrix)
            for node, v in zip(model.graph.nodes, main):
                if v.status not in (SUPPORTED, UNSUPPORTED):
                    continue
                j = judgements[node.id]
                agree = j.supported == (v.status == SUPPORTED)
                if agree:
                    example = ""
                elif v.status == UNSUPPORTED:
                    example = f"{name}: parser says no ({v.message[:160]}), prediction yes"
                else:
                    example = f"{name}: parser says yes, prediction no ({'; '.join(j.reasons)[:160]})"
                tallies[version].add(node.op_type, agree, example)


def report(title: str, tallies: dict[str, "Tally"], show: int) -> None:
    print(f"\n== {title}")
    for version, tally in tallies.items():
        print("  " + tally.line(f"support-matrix {version} prediction"))
        if tally.by_design:
            print("    left out, TensorRT-RTX differs from TensorRT by design: " +
                  "; ".join(f"{op} {n} ({BY_DESIGN[op]})" for op, n in tally.by_design.items()))
    last = list(tallies.values())[-1]
    worst = sorted(((c["disagree"], op) for op, c in last.by_op.items() if c["disagree"]), reverse=True)
    if worst:
        print(f"  disagreements by op family ({list(tallies)[-1]}): " +
              ", ".join(f"{op} {n}/{last.by_op[op]['total']}" for n, op in worst))
        for _, op in worst[:show]:
            for example in last.examples[op]:
                print(f"    - {example}")


_DIRECT = r"""
import json, sys
import tensorrt_rtx_libs  # noqa: F401  (loads the shared libraries)
import tensorrt_rtx_bindings as trt
out = []
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
for path in sys.argv[1:]:
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    data = open(path, "rb").read()
    whole = bool(parser.supports_model_v2(data, path))
    errors = [(parser.get_error(i).node(), parser.get_error(i).desc()) for i in range(parser.num_errors)]
    out.append({"whole": whole, "errors": errors})
    del parser, network
print(json.dumps(out))
"""


def source_vs_direct(paths: list[Path], direct_verdicts) -> None:
    """The explorer's real-parser source against the parser's own API called directly (see the docstring)."""
    import json
    import subprocess

    import explorer

    raw = subprocess.run([sys.executable, "-c", _DIRECT, *map(str, paths)], capture_output=True, text=True,
                         check=True, timeout=600)
    direct = json.loads(raw.stdout.strip().splitlines()[-1])
    checks = agree = 0
    misses = []
    for path, answer, verdicts in zip(paths, direct, direct_verdicts):
        model = load_model(str(path))
        report = explorer.analyze(model, source="tensorrt-rtx")
        by_index = {n.file_index: n for n in model.graph.nodes}
        mine = {v.node: v for v in report.verdicts}
        for index, desc in answer["errors"]:
            node = by_index.get(index)
            if node is None:
                continue
            checks += 1
            v = mine[node.id]
            reasons = " ".join(v.reasons)
            # the parser's own words: its quoted message, else its first line (the explorer joins a multi-line
            # description with "; " and leaves CUDA's noise out)
            words = desc.split('"')[1::2] or [desc.splitlines()[0] if desc else ""]
            ok = (not v.supported) and all(part in reasons for part in words)
            agree += ok
            if not ok:
                misses.append(f"{path.stem}: {node.id} (parser error {desc[:80]!r}; explorer {reasons[:80]!r})")
        if answer["whole"]:
            for v in report.verdicts:
                checks += 1
                agree += v.supported
                if not v.supported:
                    misses.append(f"{path.stem}: {v.node} unsupported in a model the parser takes whole")
        direct_status = {n.index: n.status for n in verdicts.nodes if not n.path}
        for node in model.graph.nodes:
            status = direct_status.get(node.file_index)
            if status not in (SUPPORTED, UNSUPPORTED):
                continue
            checks += 1
            same = mine[node.id].supported == (status == SUPPORTED)
            agree += same
            if not same:
                misses.append(f"{path.stem}: {node.id} differs from explorer.trt.verdicts called directly")
    print("\n== the real-parser source (explorer.analyze source='tensorrt-rtx') vs direct parser calls")
    print(f"  {agree}/{checks} checks agree ({100.0 * agree / max(1, checks):.1f}%) on {len(paths)} sample models")
    for line in misses[:10]:
        print(f"    - {line}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", default="10.1,10.15")
    ap.add_argument("--show", type=int, default=12, help="op families to show examples of")
    ap.add_argument("--skip-node-tests", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="name every model left out and why")
    ap.add_argument("--examples", type=int, default=3, help="disagreeing cases shown per op family")
    args = ap.parse_args(argv)
    global EXAMPLES, VERBOSE
    EXAMPLES = args.examples
    VERBOSE = args.verbose
    matrices = {v: load_matrix(v) for v in args.versions.split(",")}
    from fidelity_cases import build_cases

    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        folder = Path(tmp)
        corpora = []
        if not args.skip_node_tests:
            corpora.append(("ONNX node test models (onnx " + onnx.__version__ + ")", node_test_models(folder)))
        corpora.append(("sample models", [(p.stem, p) for p in sorted((ROOT / "sample_models").glob("*.onnx"))]))
        cases = build_cases()
        edge = []
        for case in cases:
            path = folder / f"edge_{case.name}.onnx"
            onnx.save(case.model, path)
            edge.append((f"{case.name} [{case.source}]", path))
        corpora.append(("edge cases from the onnx-tensorrt source (bench/fidelity_cases.py)", edge))

        everything = [p for _, named in corpora for _, p in named]
        started = time.perf_counter()
        verdicts = judge_in_subprocess(everything, timeout=3000)
        elapsed = time.perf_counter() - started
        parser = next((v.parser for v in verdicts if v.parser), "?")
        parses = sum(v.parses for v in verdicts)
        print(f"real parser: {parser} (explorer.trt.verdicts, one child process): {len(everything)} models, "
              f"{parses} parser calls, {elapsed:.1f} s")
        offset = 0
        for title, named in corpora:
            chunk = verdicts[offset:offset + len(named)]
            offset += len(named)
            tallies = {v: Tally() for v in matrices}
            skipped: Counter = Counter()
            compare(named, chunk, matrices, tallies, skipped=skipped)
            report(title, tallies, args.show)
            kept = len(named) - sum(skipped.values())
            print(f"  {kept} of {len(named)} models compared" +
                  ("; left out: " + ", ".join(f"{n} ({why})" for why, n in skipped.items()) if skipped else ""))
            if title == "sample models":
                source_vs_direct([p for _, p in named], chunk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
