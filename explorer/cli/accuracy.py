"""``python -m explorer accuracy MODEL``: where an fp16 / bf16 / int8 conversion loses accuracy, and why
each layer runs in its precision."""

from __future__ import annotations

import argparse
import warnings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accuracy", help="per-node error of fp16/bf16/int8 against fp32, the first jump, and why "
                                        "each layer runs in its precision",
                       description="Run the fp32 model and its low-precision conversion on the same inputs with every "
                                   "intermediate tensor marked (ONNX Runtime on the CPU; TensorRT debug tensors on a "
                                   "GPU) and compare each tensor with fp32.")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--precision", choices=("fp16", "bf16", "int8", "fp32"), default="fp16",
                   help="the precision to compare with fp32 (fp32: the model against itself, all zeros)")
    p.add_argument("--inputs", default=None, metavar="NPZ",
                   help="an .npz file with one array per model input (default: random inputs, --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--block", action="append", default=[], metavar="OP_OR_NODE",
                   help="an op type or node name the conversion keeps fp32 (repeatable, or comma-separated)")
    p.add_argument("--backend", choices=("onnxruntime", "tensorrt", "tensorrt-rtx"), default="onnxruntime",
                   help="onnxruntime (CPU, all outputs marked) or tensorrt / tensorrt-rtx (a GPU, debug tensors)")
    p.add_argument("--top", type=int, default=15, help="rows of the table to print (worst first); 0: all")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    from ..backends.accuracy import compare_precision
    from ..model import load_model
    from . import print_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(args.model)
    block = [b for entry in args.block for b in entry.split(",") if b.strip()]
    result = compare_precision(model, args.precision, inputs=args.inputs, seed=args.seed, block=block,
                               backend=args.backend)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(result.summary())
    rows = sorted(result.rows, key=lambda r: -r.rel if r.rel == r.rel else 1.0)
    rows = rows[:args.top] if args.top else rows
    print(f"\n{'node':40} {'op':14} {'max abs':>10} {'rel':>10} {'cosine':>10}  why")
    for r in rows:
        print(f"{r.node[:40]:40} {r.op_type[:14]:14} {r.max_abs:10.3g} {r.rel:10.3g} {r.cosine:10.6f}  "
              f"{r.why}{'  <- first jump' if r.jump else ''}")
    return 0
