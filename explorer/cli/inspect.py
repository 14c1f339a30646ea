"""``python -m explorer inspect``: one report of a built engine from what trtexec and TensorRT wrote.

    python -m explorer inspect --graph E.graph.json --profile E.profile.json --times E.timing.json \\
        --log build.log --model model.onnx [--json]
    python -m explorer inspect ARTIFACT [--engine NAME] [--opt-profile N]   # a TREx folder, a trtexec log
                                                                             # (--dumpProfile), a TensorRT-RTX EP trace
"""

from __future__ import annotations

import argparse

from ..errors import printable

NAME_WIDTH = 48
TACTIC_WIDTH = 44


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="layers, latency, tactics and memory of a built engine (trtexec exports, logs)",
                       description="Read trtexec's --exportLayerInfo / --exportProfile / --exportTimes JSON and a "
                                   "verbose build log, map layers back to the ONNX model, and report layers, "
                                   "latency, tactics and memory with the source of every figure.")
    p.add_argument("artifact", nargs="?", metavar="ARTIFACT",
                   help="one artifact of any kind, told apart by content: a TREx-layout folder (E.graph.json, "
                        "E.profile.json, E.timing.json, E.*.metadata.json), a trtexec log with its --dumpProfile "
                        "table, a TensorRT-RTX execution provider trace, or a trtexec JSON export")
    p.add_argument("--engine", metavar="NAME", help="which engine of a folder holding several")
    p.add_argument("--opt-profile", type=int, default=None, metavar="N",
                   help="the optimization profile to show of a multi-profile engine (default 0)")
    p.add_argument("--graph", metavar="G.json", help="trtexec --exportLayerInfo output (or engine inspector JSON)")
    p.add_argument("--profile", metavar="P.json", help="trtexec --exportProfile output")
    p.add_argument("--times", metavar="T.json", help="trtexec --exportTimes output")
    p.add_argument("--log", metavar="B.log", help="verbose build log (trtexec --verbose)")
    p.add_argument("--model", metavar="M.onnx", help="the ONNX model the engine was built from")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..engine import load_report
    from . import print_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's warnings become report notes
        report = load_report(graph=args.graph, profile=args.profile, times=args.times, log=args.log,
                             model=args.model, artifact=args.artifact, engine=args.engine,
                             opt_profile=args.opt_profile)
    if args.json:
        print_json(report.to_dict())
    else:
        print(render(report))
    return 0


def render(report) -> str:
    """The human-readable report: a layer table, then totals, memory, tactics and notes."""
    lines: list[str] = []
    prov = report.provenance
    if report.layers:
        lines.append(f"Engine: {len(report.layers)} layers ({prov.get('layers', 'unknown source')})")
        lines.append("")
        lines.extend(_layer_table(report))
        lines.append("")
    elif report.tactics:
        lines.extend(_tactic_table(report))
        lines.append("")
    lines.extend(_reformat_lines(report))
    lines.extend(_myelin_lines(report))
    total = report.latency_ms_total
    if total is not None:
        rows = sum(1 for layer in report.layers if layer.latency is not None)
        lines.append(f"Total latency   {total:.4f} ms per inference (sum of {rows} per-layer "
                     f"{report.latency_statistic}s; {prov.get('latency', '')})")
    reported = report.reported_total
    if reported is not None:
        median = f", median {reported.median_ms:.4f} ms" if reported.median_ms is not None else ""
        lines.append(f"Reported total  mean {reported.average_ms:.4f} ms{median} per iteration over "
                     f"{reported.count} (the source's own Total row; {reported.source})")
    if report.profiles:
        lines.append(f"Profiles        {len(report.profiles)} optimization profiles; shown: {report.profile_index} "
                     "(--opt-profile N for another)")
    e2e = report.end_to_end
    if e2e is not None:
        lat, comp = e2e.latency, e2e.compute
        qps = f"; {e2e.throughput_qps:.1f} inferences/s" if e2e.throughput_qps else ""
        lines.append(f"End to end      {e2e.count} inferences: latency mean {lat.mean:.4f} ms, p50 {lat.p50:.4f}, "
                     f"p90 {lat.p90:.4f}, p95 {lat.p95:.4f}, p99 {lat.p99:.4f} ms; GPU compute p50 "
                     f"{comp.p50:.4f} ms{qps} ({e2e.source})")
    lines.extend(_memory_lines(report))
    for section, values in report.metadata.sections.items():
        shown = "; ".join(f"{k}: {v}" for k, v in list(values.items())[:6])
        lines.append(f"{section:<16}{cell(shown, 100)} ({report.metadata.sources.get(section, '')})")
    if report.tactics:
        layers = {t.layer for t in report.tactics}
        chosen = sum(1 for t in report.tactics if t.chosen)
        skipped = sum(1 for t in report.tactics if t.skipped_reason)
        lines.append(f"Tactics         {len(report.tactics)} records for {len(layers)} layers: {chosen} chosen, "
                     f"{skipped} skipped ({prov.get('tactics', '')})")
    mapping = report.mapping
    if mapping is not None and mapping.verified:
        mapped = sum(1 for m in mapping.layers if m.nodes)
        vanished = ", ".join(_clean(v) for v in mapping.vanished[:5]) + (" ..." if len(mapping.vanished) > 5 else "")
        lines.append(f"ONNX mapping    {mapped} layers cover ONNX nodes; {len(mapping.vanished)} nodes in no layer"
                     + (f" ({vanished})" if mapping.vanished else ""))
    if report.notes:
        lines.append("")
        lines.extend(f"note: {_clean(note)}" for note in report.notes)
    lines.append("")
    lines.append("sources: " + "; ".join(report.sources))
    return "\n".join(printable(line) for line in lines)  # file names and sources are data too


def _layer_table(report) -> list[str]:
    # the statistic the app plots (median, or mean where the source has none), its share of the same total
    statistic = report.latency_statistic
    header = ["#", "Layer", "Type", "Precision", f"Latency ms ({statistic})" if statistic else "Latency ms", "%",
              "Tactic"]
    rows = []
    for i, layer in enumerate(report.layers):
        share = report.latency_share(layer)
        rows.append([str(i), cell(layer.name, NAME_WIDTH), cell(layer.type or "-", 18), layer.precision or "-",
                     f"{layer.latency_ms:.4f}" if layer.latency is not None else "-",
                     f"{share:.1f}" if share is not None else "-",
                     cell(layer.tactic or "-", TACTIC_WIDTH)])
    return align_columns(header, rows, right={0, 4, 5})


def _reformat_lines(report) -> list[str]:
    """The reformat/copy layers: between which layers, the change, the cause, the time (and the total)."""
    items = report.reformats()
    if not items:
        return []
    summary = report.reformat_summary()
    causes = ", ".join(f"{cause} {n}" + (f" ({ms:.4f} ms)" if ms is not None else "")
                       for cause, n, ms in summary.by_cause)
    header = ["Reformat layer", "Producer", "Consumer", "Change", "Cause", "ms", "%"]
    rows = [[cell(r.layer, 40), cell(r.producer or "-", 28), cell(r.consumer or "-", 28), cell(r.change, 44),
             r.cause, f"{r.latency_ms:.4f}" if r.latency_ms is not None else "-",
             f"{r.share:.1f}" if r.share is not None else "-"] for r in items]
    return ([f"Reformats       {_clean(summary.line())}", f"{'':<16}by cause: {causes}", ""]
            + align_columns(header, rows, right={5, 6}) + [""])


def _myelin_lines(report) -> list[str]:
    """Each Myelin region: the ONNX nodes it runs (and how they were found), its layers and latency."""
    regions = report.myelin_regions()
    if not regions:
        return []
    lines = [f"Myelin regions  {len(regions)}"]
    for r in regions:
        timing = (f"{r.latency_ms:.4f} ms {r.statistic}" + (f", {r.share:.1f}%" if r.share is not None else "")
                  if r.latency_ms is not None else "no per-layer times")
        found = (f"{len(r.onnx_nodes)} ONNX nodes ({r.via})" if not r.via.startswith("layer names only")
                 else "no ONNX model to resolve its nodes (give --model)")
        lines.append(f"  {cell(r.name, 90)}: {found}, {len(r.layers)} engine layer(s), {timing} ({_clean(r.source)})")
        shown = ", ".join(cell(n, 60) for n in r.onnx_nodes[:12])
        more = f" ... (+{len(r.onnx_nodes) - 12})" if len(r.onnx_nodes) > 12 else ""
        if shown:
            lines.append(f"    {'nodes' if r.via != 'layer names only (no ONNX model)' else 'ends'}: {shown}{more}")
    return lines + [""]


def _tactic_table(report) -> list[str]:
    """Without layer information: one row per layer with the chosen tactic and how many were timed."""
    by_layer: dict[str, list] = {}
    for record in report.tactics:
        by_layer.setdefault(record.layer, []).append(record)
    header = ["Layer", "Runner", "Chosen tactic", "Time ms", "Timed", "Skipped"]
    rows = []
    for name, records in by_layer.items():
        chosen = next((r for r in records if r.chosen), None)
        rows.append([cell(name, NAME_WIDTH), cell(chosen.runner if chosen and chosen.runner else "-", 20),
                     cell((chosen.tactic_name or chosen.tactic or "-") if chosen else "-", TACTIC_WIDTH),
                     f"{chosen.time_ms:.4f}" if chosen and chosen.time_ms is not None else "-",
                     str(sum(1 for r in records if r.time_ms is not None)),
                     str(sum(1 for r in records if r.skipped_reason))])
    return [f"Tactics per layer ({report.provenance.get('tactics', '')})", ""] + align_columns(header, rows, right={3, 4, 5})


def _memory_lines(report) -> list[str]:
    memory = report.memory
    figures = memory.to_dict()
    sources = figures["provenance"]
    parts = []
    for key, label in (("weights_bytes", "weights"), ("total_activation_bytes", "activations"),
                       ("scratch_bytes", "scratch"), ("device_persistent_bytes", "device persistent"),
                       ("host_persistent_bytes", "host persistent"), ("engine_size_bytes", "engine size")):
        value = figures.get(key)
        if value is not None:
            parts.append((label, value, sources.get(key, "")))
    lines = []
    for n, (label, value, source) in enumerate(parts):
        head = "Memory" if n == 0 else ""
        lines.append(f"{head:<16}{label:<18} {_size(value):>11}  ({source})")
    if memory.layers:
        need = lambda m: (m.device_persistent or 0) + (m.scratch or 0)  # noqa: E731
        top = [m for m in sorted(memory.layers, key=need, reverse=True)[:3] if need(m)]
        shown = ", ".join(f"{cell(m.layer, 40)} {_size(need(m))}" for m in top)
        lines.append(f"{'':<16}{len(memory.layers)} layers with persistent/scratch figures"
                     + (f"; largest device persistent + scratch: {shown}" if shown else ""))
    return lines


def align_columns(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """A plain-text table: each column as wide as its widest cell, the columns in ``right`` right-aligned."""
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    return [fmt(header)] + [fmt(r) for r in rows]


def _clean(text: str) -> str:
    """Names are data: control characters (and TensorRT's \\x1e/\\x1f separators) reach the terminal only as
    visible escapes (see :func:`explorer.errors.printable`)."""
    return printable(text)


def cell(text: str, width: int) -> str:
    """A name as one table cell: control characters escaped, cut to ``width`` characters with an ellipsis."""
    text = _clean(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _size(value: int) -> str:
    if value >= 1024**5:  # no engine is this big: a garbage figure, shown exactly
        return f"{value:.3e} B" if value < 1e300 else "> 1e300 B"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"
