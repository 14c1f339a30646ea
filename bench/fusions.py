"""Predicted fusions vs. the fusions real TensorRT engines made (ResNet-18 fp32 / fp16 / QAT on an A100).

    python bench/fusions.py [--json]

For each variant: the engine's actual groups (layers mapped to ONNX node sets, reformat layers and weight
names dropped), the predicted groups compared, exact matches, precision and recall, and every mismatch.
A naive baseline (every node its own layer) shows what the rules add. Comparison rule: over the nodes the
engine names (see :mod:`explorer.fusions.compare`). Targets: recall >= 90% fp32, >= 80% QAT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explorer import load_model  # noqa: E402
from explorer.fusions import FusionGroup, compare_with_engine, predict_fusions  # noqa: E402

def _fixtures() -> Path:
    """EXPLORER_FIXTURES, else the repo's copy (tests/fixtures/trt), else ../shared/fixtures/trt beside the repo."""
    if os.environ.get("EXPLORER_FIXTURES"):
        return Path(os.environ["EXPLORER_FIXTURES"])
    for candidate in (REPO / "tests" / "fixtures" / "trt", REPO.parent / "shared" / "fixtures" / "trt"):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "fixtures" / "trt"


FIXTURES = _fixtures()
VARIANTS = [("fp32", "resnet18.onnx", 0.90), ("fp16", "resnet18.onnx", 0.90), ("qat", "resnet18_qat.onnx", 0.80)]


def run() -> list[dict]:
    rows = []
    for variant, model_file, target in VARIANTS:
        graph = FIXTURES / f"a100_resnet_{variant}.graph.json"
        model_path = REPO / "sample_models" / model_file
        if not graph.exists() or not model_path.exists():
            print(f"skip {variant}: missing {graph if not graph.exists() else model_path}", file=sys.stderr)
            continue
        model = load_model(model_path)
        groups = predict_fusions(model)
        result = compare_with_engine(groups, graph, model)
        naive = compare_with_engine([FusionGroup("single", "baseline", [n.id]) for n in model.nodes], graph, model)
        rows.append({"variant": variant, "model": model_file, "engine": graph.name, "target_recall": target,
                     "baseline_recall": naive.recall, "baseline_precision": naive.precision, **result.to_dict()})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'variant':<8}{'actual':>8}{'predicted':>11}{'exact':>7}{'precision':>11}{'recall':>8}"
              f"{'target':>8}{'baseline recall':>17}")
        for r in rows:
            print(f"{r['variant']:<8}{r['actual_groups']:>8}{r['predicted_groups']:>11}{r['exact_matches']:>7}"
                  f"{_pct(r['precision']):>11}{_pct(r['recall']):>8}{r['target_recall']:>8.0%}"
                  f"{_pct(r['baseline_recall']):>17}")
        for r in rows:
            if r["predicted_only"] or r["actual_only"]:
                print(f"\n{r['variant']} mismatches:")
                for item in r["predicted_only"]:
                    print(f"  predicted only: {' + '.join(item['restricted'])}  ({item['rule']})")
                for item in r["actual_only"]:
                    print(f"  engine only:    {item['layer']}")
        for r in rows:
            print(f"{r['variant']}: {r['headline']}")
        print(f"\nrule: {rows[0]['rule'] if rows else ''}")
    return 0 if rows and all((r["recall"] or 0.0) >= r["target_recall"] for r in rows) else 1


def _pct(value) -> str:
    """A share, or "n/a" when it is not defined (nothing to divide by)."""
    return "n/a" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    raise SystemExit(main())
