"""``python -m explorer build MODEL``: build and profile an engine (TensorRT, else ONNX Runtime).

Progress goes to stderr (a bar on a terminal, one line per phase otherwise); the report, or with
``--json`` the same object as ``inspect --json`` plus ``backend`` and ``settings``, to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build and profile an engine: TensorRT when it can run here, else ONNX Runtime",
                       description="Build an engine from an ONNX model in a worker process and report its layers, "
                                   "fusions, per-layer timings and memory. Without TensorRT (and a GPU) the build "
                                   "uses ONNX Runtime: real fusions and per-node timings, on the CPU here.")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--backend", choices=("auto", "tensorrt", "tensorrt-rtx", "onnxruntime"), default="auto",
                   help="auto (default): TensorRT when it is installed and a GPU is visible, else ONNX Runtime; "
                        "tensorrt-rtx: NVIDIA TensorRT-RTX, which builds real engines ahead of time without a GPU")
    p.add_argument("--compute-capability", default="auto", metavar="CC",
                   help="TensorRT-RTX: the GPU to build for, SM75/SM80/SM86/SM89/SM120/SM121 or CURRENT (default "
                        "auto: the RTX-class GPU here, else SM86)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32",
                   help="fp16/bf16: the model is converted; int8: its Q/DQ nodes, else quantize_static with random "
                        "calibration (for exploring, not accuracy)")
    p.add_argument("--opt-level", type=int, default=3, metavar="N",
                   help="TensorRT builder optimization level 0-5 (default 3); ONNX Runtime: 0 none, 1 basic, "
                        "2 extended, 3+ all (with CPU layout optimizations)")
    p.add_argument("--runs", type=int, default=20, metavar="N", help="timed runs (default 20)")
    p.add_argument("--warmup", type=int, default=5, metavar="N", help="untimed runs before them (default 5)")
    p.add_argument("--duration", type=float, default=0.0, metavar="S",
                   help="time runs for at least S seconds too, as trtexec --duration (default 0: just --runs)")
    p.add_argument("--shape", action="append", default=[], metavar="INPUT:DIMS",
                   help="input shape, e.g. images:1x3x224x224, or min,opt,max: images:1x3x224x224,4x3x224x224,"
                        "8x3x224x224 (repeat per input); dynamic dimensions not given are chosen (batch 1, image "
                        "height/width from the model's metadata or 640, sequences 128) and named in the notes")
    p.add_argument("--input-value", action="append", default=[], metavar="INPUT=VALUE",
                   help="feed a control input this value instead of random ones, e.g. sr=16000 (silero-vad's "
                        "sample rate) or mask=1,1,0 (repeat per input; a single number fills the input's shape)")
    p.add_argument("--workspace", type=_bytes, default=None, metavar="BYTES",
                   help="TensorRT workspace limit (e.g. 1G, 512M)")
    p.add_argument("--timing-cache", default=None, metavar="FILE", help="TensorRT timing cache to load and save")
    p.add_argument("--provider", action="append", default=None, metavar="NAME",
                   help="ONNX Runtime execution provider (repeat; default: TensorRT, CUDA when present, CPU)")
    p.add_argument("--partitions", action="store_true",
                   help="TensorRT / TensorRT-RTX: build each partition the ONNX parser supports as its own engine "
                        "and list the nodes left to the framework with the parser's reasons (as ONNX Runtime's "
                        "TensorRT provider or Torch-TensorRT run a model TensorRT cannot take whole)")
    p.add_argument("--min-block-size", type=int, default=5, metavar="N",
                   help="with --partitions: smaller TensorRT partitions go back to the framework (default 5, "
                        "Torch-TensorRT's)")
    p.add_argument("--top", type=int, default=15, metavar="N", help="layers to list in the text report (default 15)")
    p.add_argument("--print-commands", action="store_true",
                   help="print the equivalent trtexec (TensorRT 10.x and 11.x) and polygraphy convert/run command "
                        "lines for these settings, to rebuild on a GPU machine, and build nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")


def _bytes(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().rstrip("b")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r} (e.g. 1073741824, 1G, 512M)") from None


def parse_shape_args(values: list[str]) -> dict[str, str]:
    """``["images:1x3x224x224", ...]`` -> ``{"images": "1x3x224x224"}`` (input names may contain ':')."""
    from ..errors import BuildError

    shapes: dict[str, str] = {}
    for value in values:
        name, sep, dims = value.rpartition(":")
        if not sep or not name:
            raise BuildError(f"--shape {value!r}: write INPUT:DIMS, e.g. images:1x3x224x224")
        if name in shapes:
            raise BuildError(f"--shape given twice for input {name!r}")
        shapes[name] = dims
    return shapes


def parse_value_args(values: list[str]) -> dict[str, str]:
    """``["sr=16000", ...]`` -> ``{"sr": "16000"}`` (input names may contain '='; the value is numbers)."""
    from ..errors import BuildError

    out: dict[str, str] = {}
    for value in values:
        name, sep, text = value.rpartition("=")
        if not sep or not name or not text.strip():
            raise BuildError(f"--input-value {value!r}: write INPUT=VALUE, e.g. sr=16000")
        if name in out:
            raise BuildError(f"--input-value given twice for input {name!r}")
        out[name] = text
    return out


def run(args: argparse.Namespace) -> int:
    from ..backends.jobs import start_build
    from . import print_json

    if args.partitions:
        return run_partitions(args)
    shapes = parse_shape_args(args.shape)
    values = parse_value_args(args.input_value)
    if args.print_commands:
        return print_commands(args, shapes, values)
    _check_model_file(args.model)
    progress = _Progress(sys.stderr)
    job = start_build(args.model, backend=args.backend, precision=args.precision, opt_level=args.opt_level,
                      workspace=args.workspace, shapes=shapes, timing_cache=args.timing_cache, runs=args.runs,
                      warmup=args.warmup, on_progress=progress, providers=args.provider, duration=args.duration,
                      compute_capability=args.compute_capability, values=values)
    try:
        report = job.result()
    finally:
        progress.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(summary(report, top=args.top))
    return 0


def print_commands(args: argparse.Namespace, shapes: dict, values: dict) -> int:
    """``--print-commands``: the settings as trtexec / polygraphy lines (:mod:`explorer.backends.commands`)."""
    from ..backends.commands import command_lines
    from ..backends.settings import BuildSettings
    from . import print_json

    _check_model_file(args.model)
    settings = BuildSettings.make(backend=args.backend, precision=args.precision, opt_level=args.opt_level,
                                  workspace=args.workspace, shapes=shapes, timing_cache=args.timing_cache,
                                  runs=args.runs, warmup=args.warmup, duration=args.duration, values=values,
                                  compute_capability=args.compute_capability)
    lines = command_lines(settings, args.model)
    if args.json:
        print_json({"commands": [c.to_dict() for c in lines]})
        return 0
    titles = ["trtexec (TensorRT 10.x)", "trtexec (TensorRT 11.x)", "polygraphy convert", "polygraphy run"]
    for title, command in zip(titles, lines):
        print(f"# {title}")
        for note in command.notes:
            print(f"# note: {note}")
        print(command.text)
        print()
    return 0


def run_partitions(args: argparse.Namespace) -> int:
    """``build --partitions``: one engine per supported partition (:func:`explorer.backends.build.build_partitions`)."""
    from ..backends.build import build_partitions
    from ..errors import BuildError
    from . import print_json

    if args.backend not in ("tensorrt", "tensorrt-rtx"):
        raise BuildError(f"--partitions builds TensorRT engines: give --backend tensorrt-rtx (or tensorrt), "
                         f"not {args.backend}")
    if args.shape or args.input_value or args.timing_cache or args.provider:
        raise BuildError("--partitions builds each partition with the shapes of its own inputs: --shape, "
                         "--input-value, --timing-cache and --provider do not apply")
    if args.min_block_size < 1:
        raise BuildError(f"--min-block-size must be 1 or more, not {args.min_block_size}")
    _check_model_file(args.model)
    sys.stderr.write(f"building each supported partition of {args.model} with {args.backend}...\n")
    result = build_partitions(args.model, backend=args.backend, min_block_size=args.min_block_size,
                              precision=args.precision, opt_level=args.opt_level, workspace=args.workspace,
                              compute_capability=args.compute_capability)
    if args.json:
        print_json(result.to_dict())
    else:
        print(partitions_summary(result))
    return 0


def partitions_summary(result) -> str:
    """A plain-text report of a partitioned build: each engine, then the nodes left to the framework."""
    nodes = result.nodes_in_engines + len(result.framework)
    lines = [f"model        {_clip(result.model_path, 200)}",
             f"partitions   {len(result.engines)} engine(s) ({result.nodes_in_engines} of {nodes} nodes) built by "
             f"{result.backend}; {len(result.framework)} node(s) left to the framework",
             f"verdicts     {result.verdict_source} (min_block_size={result.min_block_size})"]
    for engine in result.engines:
        part = engine.partition
        lines.append("")
        lines.append(f"engine {part.index}: {len(part.nodes)} node(s): {_clip(', '.join(part.nodes), 300)}")
        lines.append(f"  inputs {_clip(', '.join(engine.inputs) or '-', 150)}; "
                     f"outputs {_clip(', '.join(engine.outputs) or '-', 150)}")
        report = engine.report
        if report is None:
            lines.append(f"  build failed: {_clip(engine.error or 'no report', 400)}")
            continue
        totals = report.memory.engine_totals
        where = report.memory.provenance.get("activation_bytes") or report.backend
        lines.append(f"  built by {report.backend}: {len(report.layers)} layer(s), {len(report.fusions)} fusion(s)")
        lines.append(f"  memory: weights {_size(totals.get('weights_bytes'))}, activations "
                     f"{_size(totals.get('activation_bytes'))}, engine {_size(totals.get('engine_size_bytes'))} "
                     f"(source: {_clip(where, 120)}; engine: the serialized plan's size)")
        for fusion in report.fusions:
            lines.append(f"  fusion {_clip(fusion['layer'], 50):<50} {_clip(' + '.join(fusion['onnx_nodes']), 80)}")
    lines.append("")
    if result.framework:
        lines.append(f"left to the framework ({len(result.framework)} node(s); reasons: {result.verdict_source}, "
                     "or the partitioner's min_block_size)")
        for node in result.framework:
            why = "; ".join(node.reasons) or "no reason given"
            lines.append(f"  {_clip(node.node, 40):<40} {_clip(node.op, 20):<20} {_clip(why, 200)}")
    else:
        lines.append("left to the framework: nothing (every node is in an engine)")
    if result.notes:
        lines.append("")
        lines.extend(f"note: {_clip(n, 400)}" for n in result.notes)
    return "\n".join(lines)


def _check_model_file(path: str) -> None:
    """Refuse a file that is not ONNX before any progress line is printed (bad input: one error line)."""
    import warnings

    from ..model import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_model(path, infer_shapes=False)


class _Progress:
    """A bar redrawn in place on a terminal; one line per phase anywhere else (logs, CI, pipes)."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.phase: str | None = None
        self.started = time.monotonic()
        self.drawn = False
        self.drawn_at = 0.0

    def __call__(self, phase: str, step: int, total: int) -> None:
        if self.tty:
            now = time.monotonic()
            if phase == self.phase and 0 < step < total and now - self.drawn_at < 0.1:
                return  # redraw at most 10 times a second
            self.drawn_at = now
            done = min(step / total, 1.0) if total else 0.0
            filled = int(done * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            count = f"{step}/{total}" if total else ""
            self.stream.write(f"\r{phase:<10} [{bar}] {count:<12}")
            self.stream.flush()
            self.drawn = True
        elif phase != self.phase:
            elapsed = time.monotonic() - self.started
            detail = f" ({total} steps)" if total > 1 else ""
            self.stream.write(f"[{elapsed:6.1f}s] {phase}{detail}\n")
            self.stream.flush()
        self.phase = phase

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _ms(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def _clip(text: str, width: int) -> str:
    # hostile names: no newlines, tabs or terminal escape sequences in a table
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def summary(report, top: int = 15) -> str:
    """A plain-text report of a build (what the CLI prints without --json)."""
    s = report.settings
    lines = [f"backend      {report.backend} ({report.backend_reason})"]
    precision = s.get("precision")
    conversion = s.get("conversion") if isinstance(s.get("conversion"), dict) else {}
    tool = s.get("conversion_tool") or conversion.get("tool")
    lines.append(f"precision    {precision}" + (f" (converted with {tool})" if tool else ""))
    level = s.get("ort_graph_optimization_level")
    lines.append(f"opt level    {s.get('opt_level')}" + (f" = {level}" if level else ""))
    if s.get("providers"):
        lines.append(f"providers    {', '.join(s['providers'])}")
    if s.get("compute_capability"):
        lines.append(f"built for    {s['compute_capability']}" + (" ahead of time (not loaded here)"
                                                                 if s.get("ahead_of_time") else ""))
    phases = report.timings.get("build_phases_s") if isinstance(report.timings, dict) else None
    if phases:
        lines.append("phases       " + ", ".join(f"{p['phase']} {p['seconds'] * 1000:.1f} ms" for p in phases))
    if s.get("input_shapes"):
        lines.append("inputs       " + ", ".join(f"{_clip(k, 40)} {'x'.join(str(d) for d in v)}"
                                              for k, v in s["input_shapes"].items()))
    if s.get("inputs"):
        lines.append(f"input values {s['inputs']}")
    e2e = report.end_to_end
    if e2e is not None:
        lines.append(f"latency      median {_ms(e2e.latency.p50)} ms end to end (p90 {_ms(e2e.latency.p90)}, "
                     f"{e2e.count} runs, profiler off)")
    total = report.sum_of_layer_medians_ms
    if total is not None:
        lines.append(f"layers       {len(report.layers)}; sum of per-layer medians {_ms(total)} ms (profiler on)")
    mem = report.memory
    lines.append(f"memory       weights {_size(mem.weights_bytes)}, activations {_size(mem.total_activation_bytes)} "
                 f"(no reuse)" + (f", peak in use {_size(mem.engine_totals.get('peak_cpu_bytes'))}"
                                  if mem.engine_totals.get("peak_cpu_bytes") is not None else ""))
    kinds: dict[str, int] = {}
    for f in report.fusions:
        kinds[f.get("kind", "fusion")] = kinds.get(f.get("kind", "fusion"), 0) + 1
    if report.fusions:
        lines.append("fusions      " + ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in sorted(kinds.items())))
    rows = sorted((l for l in report.layers if l.latency is not None),
                  key=lambda l: -(l.latency.median_ms or l.latency.average_ms))[:top]
    if rows:
        lines.append("")
        lines.append(f"slowest layers (median ms){'':6}type                      prec   ms      %     ONNX nodes")
        for l in rows:
            nodes = ", ".join(l.onnx_nodes) if l.onnx_nodes else f"({(l.origin or 'inserted').lower()})"
            lines.append(f"  {_clip(l.name, 30):<30} {_clip(l.type or '-', 25):<25} {l.precision or '-':<6} "
                         f"{_ms(l.latency.median_ms):<7} {l.latency.percentage or 0:5.1f} {_clip(nodes, 60)}")
    fused = [f for f in report.fusions if f.get("kind") == "fusion"][:top]
    if fused:
        lines.append("")
        lines.append("fusions")
        for f in fused:
            lines.append(f"  {_clip(f['pattern'], 60):<60} {_clip(', '.join(f['onnx_nodes']), 70)}")
    if report.notes:
        lines.append("")
        lines.extend(f"note: {_clip(n, 400)}" for n in report.notes)
    return "\n".join(lines)
