"""How far ONNX Runtime's per-node profile is from the real end-to-end time, and what explorer.build costs.

For each sample model ONNX Runtime can run, one ``explorer.build(..., backend="onnxruntime")`` measures, in
the same worker and the same run:

* the end-to-end median of ``session.run`` with the profiler off (what the model really takes);
* the sum of the per-node medians with the profiler on (what the layer table adds up to), and their ratio
  (target: within +-20%); also the median of ONNX Runtime's own ``model_run`` span with the profiler on;
* the build's wall time (``start_build`` to the report in the caller) against the wall time of the timed
  runs it performs (target: the build adds under 10%), with the rest broken down: worker process start and
  imports, load, conversion, session creation (optimization), warm-up runs, report (worker and caller).

    .venv/bin/python bench/build.py                  # 200 timed runs per model, opt level 3
    .venv/bin/python bench/build.py --runs 1000 --opt-level 2 --models resnet18 transformer_encoder
    .venv/bin/python bench/build.py --seconds 5      # per model, enough runs for ~5 s of timed runs

No assertions: it prints a table and a verdict per target, as measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from explorer.backends.build import build  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(HERE), "sample_models")
RUNNABLE = ["resnet18", "resnet18_qat", "transformer_encoder", "dynamic_shapes", "int8_qdq",
            "int8_qdq_asymmetric_uint8", "hostile_names", "control_flow"]


def measure(name: str, runs: int, warmup: int, opt_level: int) -> dict:
    t0 = time.perf_counter()
    report = build(os.path.join(SAMPLES, f"{name}.onnx"), backend="onnxruntime", runs=runs, warmup=warmup,
                   opt_level=opt_level)
    wall = time.perf_counter() - t0
    worker = report.timings["worker_s"]
    latency = report.raw["latency"]
    e2e = report.end_to_end_median_ms
    node_sum = report.sum_of_layer_medians_ms
    profiled_run = (latency.get("profiled_runs") or {}).get("median_ms")
    timed = worker["timed_runs"]
    process = report.timings["worker_process_s"] - worker["total"]
    return {
        "model": name, "layers": len(report.layers), "e2e_ms": e2e, "node_sum_ms": node_sum,
        "ratio": node_sum / e2e if e2e else float("nan"), "profiled_run_ms": profiled_run,
        "wall_s": wall, "timed_s": timed, "overhead_s": wall - timed, "overhead_pct": 100.0 * (wall - timed) / timed,
        "process_s": process, "load_s": worker["load"], "convert_s": worker["convert"],
        "optimize_s": worker["optimize"], "warmup_s": worker["warmup_runs"],
        "report_s": worker["report"] + report.timings["report_s"],
    }


def runs_for(name: str, seconds: float, warmup: int, opt_level: int) -> int:
    """Enough runs for the timed runs (2 x runs) to take about ``seconds``, from a short probe build."""
    probe = build(os.path.join(SAMPLES, f"{name}.onnx"), backend="onnxruntime", runs=20, warmup=warmup,
                  opt_level=opt_level)
    per_pair = probe.timings["worker_s"]["timed_runs"] / 20  # one run without + one with the profiler
    return max(20, min(100_000, int(seconds / max(per_pair, 1e-6))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=None,
                        help="instead of --runs: per model, as many runs as make the timed runs last this long")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--opt-level", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=RUNNABLE)
    args = parser.parse_args(argv)

    count = f"timed runs ~{args.seconds:g} s per model" if args.seconds else f"runs={args.runs}"
    print(f"explorer.build(backend='onnxruntime', {count}, warmup={args.warmup}, opt_level={args.opt_level}); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; times are wall clock")
    print("e2e = median session.run, profiler off | sum = sum of per-node medians, profiler on | "
          "run(prof) = median model_run span, profiler on")
    print("timed = wall time of the 2 x runs timed runs | overhead = build wall - timed "
          "(process = worker start + imports + exit; opt = session creation)\n")
    head = (f"{'model':<26} {'runs':>6} {'layers':>6} {'e2e ms':>8} {'sum ms':>8} {'ratio':>6} {'run(prof)':>9} | "
            f"{'wall s':>7} {'timed s':>7} {'ovh s':>6} {'ovh %':>6} | {'process':>7} {'load':>5} {'conv':>5} "
            f"{'opt':>5} {'warmup':>6} {'report':>6}")
    print(head)
    print("-" * len(head))
    rows = []
    for name in args.models:
        runs = runs_for(name, args.seconds, args.warmup, args.opt_level) if args.seconds else args.runs
        row = measure(name, runs, args.warmup, args.opt_level)
        row["runs"] = runs
        rows.append(row)
        print(f"{row['model']:<26} {runs:>6} {row['layers']:>6} {row['e2e_ms']:>8.3f} {row['node_sum_ms']:>8.3f} "
              f"{row['ratio']:>6.2f} {row['profiled_run_ms']:>9.3f} | {row['wall_s']:>7.2f} {row['timed_s']:>7.2f} "
              f"{row['overhead_s']:>6.2f} {row['overhead_pct']:>5.0f}% | {row['process_s']:>7.2f} "
              f"{row['load_s']:>5.2f} {row['convert_s']:>5.2f} {row['optimize_s']:>5.2f} {row['warmup_s']:>6.2f} "
              f"{row['report_s']:>6.2f}")
        sys.stdout.flush()

    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (the machine's other work disturbs the timings)")
    within = [r for r in rows if abs(r["ratio"] - 1.0) <= 0.2]
    print(f"profile vs end to end within +-20%: {len(within)} of {len(rows)} models "
          f"({', '.join(r['model'] for r in within) or 'none'})")
    for r in rows:
        if r in within:
            continue
        per_node_us = 1000.0 * (r["node_sum_ms"] - r["e2e_ms"]) / max(r["layers"], 1)
        if r["ratio"] > 1.0:
            why = (f"the profiled nodes take {per_node_us:+.1f} us each on average over the unprofiled run: "
                   "the profiler's cost per node dominates when nodes take microseconds")
        else:
            why = (f"the unprofiled runs took longer than their nodes add up to ({-per_node_us:.1f} us per node "
                   "unaccounted for): time between nodes - thread wake-ups, other processes on the CPUs - that "
                   "no node's time covers")
        print(f"  {r['model']}: ratio {r['ratio']:.2f}; {why}")
    cheap = [r for r in rows if r["overhead_pct"] < 10.0]
    print(f"build overhead under 10% of the timed runs: {len(cheap)} of {len(rows)} models "
          f"({', '.join(r['model'] for r in cheap) or 'none'})")
    if rows:
        print(f"  fixed costs per build: worker process {statistics.median(r['process_s'] for r in rows):.2f} s, "
              f"load+convert+optimize {statistics.median(r['load_s'] + r['convert_s'] + r['optimize_s'] for r in rows):.2f} s, "
              f"report {statistics.median(r['report_s'] for r in rows):.2f} s (medians over models); "
              f"warm-up runs are extra on top of them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
