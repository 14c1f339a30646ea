"""``python -m explorer report MODEL -o report.html``: one standalone HTML report to share.

The analysis (partitions, predicted fusions) of MODEL, plus any engines given as trtexec exports::

    python -m explorer report resnet18.onnx -o report.html \\
        --graph fp32.graph.json --profile fp32.profile.json --label fp32 \\
        --graph fp16.graph.json --profile fp16.profile.json --label fp16

``--artifact PATH`` (repeatable) adds engines from one artifact of any kind: every engine of a TREx-layout
folder, a trtexec log's ``--dumpProfile`` table, a TensorRT-RTX EP trace.
``--graph/--profile/--times/--log/--label`` can each be repeated: the n-th of each describes the n-th
engine (an engine needs at least one file). ``--build BACKEND[:PRECISION]`` (repeatable) builds MODEL here
and adds the build (``--build onnxruntime:fp16``; ``--runs``/``--warmup`` as for ``build``)::

    python -m explorer report resnet18.onnx --build onnxruntime --build onnxruntime:fp16

The first engine is compared with every other one.
"""

from __future__ import annotations

import argparse
import os
import warnings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a standalone HTML report (analysis, fusions, engines)",
                       description="Write one HTML file (plotly inline: opens offline) with the partitions, "
                                   "predicted fusions and, for trtexec exports given, layers, tactics, memory "
                                   "and a comparison.")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("-o", "--output", default=None, help="HTML file to write (default: MODEL.report.html)")
    p.add_argument("--graph", action="append", default=[], metavar="JSON",
                   help="trtexec --exportLayerInfo JSON of an engine (repeatable)")
    p.add_argument("--profile", action="append", default=[], metavar="JSON",
                   help="trtexec --exportProfile JSON (repeatable, n-th goes with the n-th engine)")
    p.add_argument("--times", action="append", default=[], metavar="JSON",
                   help="trtexec --exportTimes JSON (repeatable)")
    p.add_argument("--log", action="append", default=[], metavar="LOG",
                   help="verbose TensorRT build log (repeatable)")
    p.add_argument("--label", action="append", default=[], help="name of the n-th engine (repeatable)")
    p.add_argument("--artifact", action="append", default=[], metavar="PATH",
                   help="an engine from one artifact, told apart by content (repeatable; after the --graph/... "
                        "engines): a TREx-layout folder adds each engine it holds, a trtexec log its "
                        "--dumpProfile table, a TensorRT-RTX EP trace its layers")
    p.add_argument("--build", action="append", default=[], metavar="BACKEND[:PRECISION]",
                   help="build MODEL here and add it: onnxruntime, tensorrt or auto, optionally :fp32/:fp16/"
                        ":bf16/:int8 (repeatable; after the trtexec engines)")
    p.add_argument("--runs", type=int, default=20, metavar="N", help="timed runs of each --build (default 20)")
    p.add_argument("--warmup", type=int, default=5, metavar="N", help="untimed runs before them (default 5)")
    p.add_argument("--trt-version", default=None, help="support-matrix version (10.1, 10.15, 11.x, ...)")
    p.add_argument("--min-block-size", type=int, default=1, help="minimum TensorRT partition size")
    p.add_argument("--fold-constants", action="store_true", help="fold constants before partitioning")
    p.add_argument("--no-fusions", action="store_true", help="skip the fusion prediction")
    p.add_argument("--cdn", action="store_true",
                   help="load plotly.js from its CDN (smaller file, needs network to open)")
    p.add_argument("--title", default=None, help="report title")


def _engines(args: argparse.Namespace) -> list[dict]:
    from ..errors import ExplorerError

    count = max(len(args.graph), len(args.profile), len(args.times), len(args.log))
    engines = []
    for i in range(count):
        files = {kind: values[i] for kind, values in (("graph", args.graph), ("profile", args.profile),
                                                       ("times", args.times), ("log", args.log))
                 if i < len(values) and values[i]}
        if not files:
            raise ExplorerError(f"engine #{i + 1} has no file")
        label = args.label[i] if i < len(args.label) else None
        if not label:
            first = os.path.basename(next(iter(files.values())))
            for suffix in (".graph.json", ".profile.json", ".timing.json", ".log", ".json"):
                if first.endswith(suffix):
                    first = first[: -len(suffix)]
                    break
            label = first
        engines.append({"label": label, "files": files})
    for path in getattr(args, "artifact", []) or []:
        from ..engine import artifact_kind, list_engines

        if artifact_kind(path) == "folder":
            engines += [{"label": name, "files": {"artifact": path, "engine": name}} for name in list_engines(path)]
        else:
            engines.append({"label": _artifact_label(path), "files": {"artifact": path}})
    return engines


def _artifact_label(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    for suffix in (".graph.json", ".profile.json", ".timing.json", ".log", ".json", ".trace"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def parse_build(value: str) -> tuple[str, str]:
    """``BACKEND[:PRECISION]`` -> (backend, precision); bad words raise :class:`~explorer.errors.BuildError`."""
    from ..dtypes import PRECISIONS
    from ..errors import BuildError

    backend, _, precision = value.partition(":")
    backend, precision = backend.strip().lower(), (precision.strip().lower() or "fp32")
    if backend not in ("auto", "tensorrt", "onnxruntime"):
        raise BuildError(f"--build {value!r}: the backend is auto, tensorrt or onnxruntime")
    if precision not in PRECISIONS:
        raise BuildError(f"--build {value!r}: the precision is one of {', '.join(PRECISIONS)}")
    return backend, precision


def _builds(args: argparse.Namespace, model) -> list[tuple[str, object]]:
    from ..backends.build import build

    wanted = [parse_build(v) for v in args.build]  # every --build checked before the first one runs
    out = []
    for backend, precision in wanted:
        report = build(model, backend=backend, precision=precision, runs=args.runs, warmup=args.warmup)
        out.append((f"{report.backend or backend} {precision}", report))
    return out


def run(args: argparse.Namespace) -> int:
    from .. import analyze
    from ..engine import load_report
    from ..html import write_report
    from ..model import load_model

    engines = _engines(args)
    for value in args.build:
        parse_build(value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(args.model)
    support = analyze(model, trt_version=args.trt_version, min_block_size=args.min_block_size,
                      fold_constants=args.fold_constants)
    fusions = None
    if not args.no_fusions:
        try:
            from ..fusions import predict_fusions

            fusions = predict_fusions(model)
        except ImportError:
            fusions = None
    reports = [(e["label"], load_report(model=model, **e["files"])) for e in engines]
    reports += _builds(args, model)
    output = args.output or os.path.splitext(os.path.basename(args.model))[0] + ".report.html"
    path = write_report(output, model, support, engine_reports=reports, fusions=fusions, title=args.title,
                        include_plotlyjs="cdn" if args.cdn else "inline")
    size = os.path.getsize(path)
    print(f"wrote {path} ({size / 1024:.0f} KiB): {support.source}, {len(reports)} engine(s)")
    return 0
