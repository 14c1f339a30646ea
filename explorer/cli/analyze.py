"""``python -m explorer analyze MODEL``: what TensorRT supports and the partitions it would make."""

from __future__ import annotations

import argparse
import sys
import warnings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="which nodes TensorRT supports, why not, and the partitions",
                       description="Judge every node of an ONNX model against TensorRT (a real ONNX parser, "
                                   "or the published support matrix as a prediction) and cut partitions.")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--source", choices=("matrix", "tensorrt", "tensorrt-rtx", "auto", "onnxruntime"),
                   default=None,
                   help="where the verdicts come from: matrix (the support-matrix prediction), tensorrt "
                        "(TensorRT's parser, needs a GPU), tensorrt-rtx (TensorRT-RTX's parser, no GPU needed), "
                        "auto (the best real parser here), onnxruntime (which provider ONNX Runtime itself "
                        "assigns each node); default: TensorRT's parser when it can run, else the matrix")
    p.add_argument("--provider", action="append", default=None, metavar="NAME",
                   help="with --source onnxruntime: an execution provider for the session (repeat, in "
                        "priority order; default: TensorRT's and CUDA's if present, then the CPU's)")
    p.add_argument("--export-subgraphs", default=None, metavar="DIR",
                   help="also write each partition as DIR/supported_subgraph-N.onnx / unsupported_subgraph-N.onnx "
                        "(as polygraphy inspect capability --with-partitioning does)")
    p.add_argument("--trt-version", default=None,
                   help="support-matrix version to predict for (e.g. 10.1, 10.15, 11.x); "
                        "default: the installed TensorRT's parser, else the newest matrix")
    p.add_argument("--min-block-size", type=int, default=1,
                   help="send TensorRT partitions with fewer nodes back to the framework (Torch-TensorRT: 5)")
    p.add_argument("--require-mac", action="store_true",
                   help="also send back partitions without a Conv/MatMul/Gemm-like op (TVM's rule)")
    p.add_argument("--fold-constants", action="store_true",
                   help="fold constants with onnx-graphsurgeon first and show how partitions change")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")


def run(args: argparse.Namespace) -> int:
    import gc

    from ..model.shapes import prefetch

    prefetch(args.model)  # ONNX shape inference starts in its child while this process imports onnx
    gc.disable()  # a one-shot process: collections would rescan the whole IR for nothing

    from .. import analyze
    from ..model import load_model
    from . import print_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report carries the loader's warnings as notes
        model = load_model(args.model)
    report = analyze(model, source=args.source, trt_version=args.trt_version, min_block_size=args.min_block_size,
                     require_mac=args.require_mac, fold_constants=args.fold_constants,
                     **({"providers": args.provider} if args.provider else {}))
    exported = []
    if args.export_subgraphs:
        from ..support.subgraphs import export_subgraphs

        exported = export_subgraphs(model, report, args.export_subgraphs)
    if args.json:
        if args.export_subgraphs:  # the report plus the files written: one document
            data = report.to_dict()
            data["subgraphs"] = [s.to_dict() for s in exported]
            print_json(data)
        elif sys.stdout.isatty():
            print_json(report.to_dict())  # indented for a person
        else:
            report.write_json(sys.stdout)  # compact, written as it is made
    else:
        print(report.summary())
        for s in exported:
            print(f"wrote {s.path}  ({s.nodes} nodes; inputs {', '.join(s.inputs)}; outputs {', '.join(s.outputs)})")
    return 0
