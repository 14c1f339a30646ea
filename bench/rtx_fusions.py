"""Predicted fusions vs. what TensorRT-RTX really fuses, over a corpus of real models built here, ahead of time.

    python bench/rtx_fusions.py [--json] [--models NAME ...]

The corpus: the sample models TensorRT-RTX can take whole, and the ONNX model zoo's light models shipped in
the onnx wheel (``onnx/backend/test/data/light``: AlexNet, DenseNet-121, Inception v1/v2, ResNet-50,
ShuffleNet, SqueezeNet, VGG-19, ZFNet-512). Each is built with ``explorer.build(backend="tensorrt-rtx")``
(SM86, no GPU: a real ``build_serialized_network``), its engine layers mapped to ONNX nodes through the
builder log's Metadata, and compared with :func:`explorer.fusions.predict_fusions` by
:func:`explorer.fusions.compare_with_engine` (exact group agreement over the nodes the engine names).
Prints per model: actual groups, predicted groups compared, exact matches, precision, recall, the build
time, and the corpus total (target: >= 90% exact agreement). No assertions: figures as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLES = ["resnet18", "resnet18_qat", "transformer_encoder", "int8_qdq", "hostile_names"]
SHAPES = {"dynamic_shapes": {"images": (1, 3, 224, 224)}}


def light_models() -> dict[str, Path]:
    import onnx

    folder = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    return {p.stem.replace("light_", ""): p for p in sorted(folder.glob("light_*.onnx"))}


def corpus() -> dict[str, Path]:
    models = {name: REPO / "sample_models" / f"{name}.onnx" for name in SAMPLES}
    models.update(light_models())
    return models


def measure(name: str, path: Path) -> dict:
    import explorer
    from explorer import load_model
    from explorer.errors import ExplorerError
    from explorer.fusions import compare_with_engine, predict_fusions

    t0 = time.perf_counter()
    try:
        precision = "int8" if name in ("resnet18_qat", "int8_qdq") else "fp32"
        report = explorer.build(str(path), backend="tensorrt-rtx", precision=precision, runs=1, warmup=0,
                                shapes=SHAPES.get(name))
    except ExplorerError as exc:
        return {"model": name, "error": str(exc)[:300]}
    wall = time.perf_counter() - t0
    model = load_model(path)
    score = compare_with_engine(predict_fusions(model, target="tensorrt-rtx"), report, model)
    documented = compare_with_engine(predict_fusions(model, target="tensorrt"), report, model)
    row = {"model": name, "nodes": len(model.graph.nodes), "layers": len(report.layers), "wall_s": round(wall, 3),
           "build_s": report.timings["worker_s"]["build"], "documented_exact": len(documented.exact_matches),
           "documented_predicted": documented.predicted_groups, **score.to_dict()}
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--models", nargs="*", help="names from the corpus (default: all)")
    parser.add_argument("--mismatches", action="store_true", help="list every mismatch")
    args = parser.parse_args(argv)
    models = corpus()
    names = args.models or list(models)
    rows = [measure(n, models[n]) for n in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<22}{'nodes':>6}{'layers':>7}{'actual':>7}{'pred':>6}{'exact':>6}{'precision':>10}"
          f"{'recall':>8}{'build s':>9}{'agree':>8}{'before':>8}")
    total_exact = total_actual = total_pred = before_exact = before_pred = 0
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<22} not built: {r['error']}")
            continue
        total_exact += r["exact_matches"]
        total_actual += r["actual_groups"]
        total_pred += r["predicted_groups"]
        before_exact += r["documented_exact"]
        before_pred += r["documented_predicted"]
        agree = r["exact_matches"] / max(r["actual_groups"], r["predicted_groups"], 1)
        before = r["documented_exact"] / max(r["actual_groups"], r["documented_predicted"], 1)
        print(f"{r['model']:<22}{r['nodes']:>6}{r['layers']:>7}{r['actual_groups']:>7}{r['predicted_groups']:>6}"
              f"{r['exact_matches']:>6}{r['precision']:>10.1%}{r['recall']:>8.1%}{r['build_s']:>9.3f}"
              f"{agree:>8.1%}{before:>8.1%}")
    if total_actual:
        print(f"{'corpus':<22}{'':>6}{'':>7}{total_actual:>7}{total_pred:>6}{total_exact:>6}"
              f"{total_exact / max(total_pred, 1):>10.1%}{total_exact / total_actual:>8.1%}")
        agreement = total_exact / max(total_actual, total_pred)
        before = before_exact / max(total_actual, before_pred)
        print(f"\nexact group agreement over the corpus: {agreement:.1%} with target='tensorrt-rtx' rules, "
              f"{before:.1%} with TensorRT's documented rules (matches / max(actual, predicted) groups; target >= "
              "90%) -- source: TensorRT-RTX 1.7.1 AOT (SM86) builds made now")
    if args.mismatches:
        for r in rows:
            for item in r.get("predicted_only", []):
                print(f"  {r['model']}: predicted only: {' + '.join(item['restricted'])}  ({item['rule']})")
            for item in r.get("actual_only", []):
                print(f"  {r['model']}: engine only:    {item['layer']}: {' + '.join(item['nodes'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
