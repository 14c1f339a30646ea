"""How often the support-matrix prediction agrees with NVIDIA's real ONNX parser, node by node.

The real parser is TensorRT-RTX's (the onnx-tensorrt parser, from PyPI; it runs on the CPU), judged through
``explorer.trt.verdicts`` (every node gets a verdict: unknown subgraphs are re-checked). Three corpora:

- ONNX's own node test models (``onnx.backend.test.case.node.collect_testcases()``), every node compared;
  cases the parser rejects as a whole (model-level errors, unreadable) are left out and counted.
- The sample models (``sample_models/*.onnx``).
- ``bench/fidelity_cases.py``: small models for edge cases read from the onnx-tensorrt parser source, each
  with the file:line it comes from.

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
from explorer.trt.verdicts import SUPPORTED, UNSUPPORTED, judge_in_subprocess  # noqa: E402


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

    def add(self, op: str, agree: bool, example: str) -> None:
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
    last = list(tallies.values())[-1]
    worst = sorted(((c["disagree"], op) for op, c in last.by_op.items() if c["disagree"]), reverse=True)
    if worst:
        print(f"  disagreements by op family ({list(tallies)[-1]}): " +
              ", ".join(f"{op} {n}/{last.by_op[op]['total']}" for n, op in worst))
        for _, op in worst[:show]:
            for example in last.examples[op]:
                print(f"    - {example}")


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
