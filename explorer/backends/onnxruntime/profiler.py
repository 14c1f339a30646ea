"""The profiler's own cost per node, calibrated in the build's run, and per-node statistics corrected for it.

ONNX Runtime's profiler adds a few µs to every node event it records and truncates durations to whole µs;
both matter when nodes take microseconds. Quantiles are :mod:`explorer.engine.stats`'s (the one definition);
the whole-µs grouped-data correction (:func:`whole_us_quantiles`) builds on them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ...engine.stats import median, sorted_quantiles
from .session import Cancelled, chain_model, make_session_options, onnxrt, remove
from .trace import parse_profile, read_profile_file

#: nodes in the calibration chains: the long chain, and the short one that gives session.run's fixed cost
CALIBRATION_NODES = 64
CALIBRATION_SHORT = 8
#: the chains of nodes that use the intra-op thread pool: fewer nodes, each does real work
PARALLEL_NODES = 16
PARALLEL_SHORT = 4
#: elements of the parallel chain's tensor: enough that ONNX Runtime splits a Sigmoid over its threads
PARALLEL_ELEMENTS = 1 << 16
#: runs of each calibration session (after as many warm-ups / 4)
CALIBRATION_RUNS = 40
#: a corrected per-node time never goes below this (or the raw time, if smaller): µs
CORRECTED_FLOOR_US = 0.1


@dataclass
class DurationStats:
    """median, p10, p90, mean, min, max, total (ms) and count of per-run durations; for profiler figures
    corrected for its overhead, the uncorrected ones as ``raw_*`` and the overhead taken off."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    total_ms: float
    count: int
    raw_median_ms: float | None = None
    raw_p10_ms: float | None = None
    raw_p90_ms: float | None = None
    raw_mean_ms: float | None = None
    raw_min_ms: float | None = None
    raw_max_ms: float | None = None
    raw_total_ms: float | None = None
    profiler_overhead_ms: float | None = None
    at_floor: bool = False  # the raw median is no longer than the overhead: the profiler cannot resolve it


@dataclass
class ProfilerCalibration:
    """What :func:`calibrate_profiler_overhead` measured (µs), how, and when (``reused``: by an earlier build
    of this worker, ``age_s`` ago)."""

    overhead_us: float  # recorded per node - true per node, serial nodes
    parallel_extra_us: float  # more for nodes that hand work to the intra-op thread pool
    outside_us: float  # wall time the profiler adds per node outside the node's own interval
    recorded_per_node_us: float | None
    true_per_node_us: float
    run_overhead_us: float  # session.run's fixed cost
    profiled_run_per_node_us: float  # wall time the profiler adds per node
    nodes: int
    short_nodes: int
    parallel_nodes: int
    runs: int
    seconds: float
    method: str
    reused: bool = False
    age_s: float = 0.0


def calibrate_profiler_overhead(providers: Sequence[Any], workdir: str, *, runs: int = CALIBRATION_RUNS,
                                cancelled: Callable[[], bool] | None = None) -> ProfilerCalibration:
    """How much ONNX Runtime's profiler adds to each node's recorded duration, measured now, here.

    Two kinds of node cost the profiler differently, so there are two sets of chains (graph optimizations
    off, so every node runs; default threads and the same providers as the build):

    * serial: ``Neg`` on one element. A short and a long chain without the profiler, whose difference in
      ``session.run`` time gives the true cost of one node (without session.run's fixed cost), and the long
      chain with the profiler, whose recorded durations give what the profiler reports for it:
      ``overhead_us`` = recorded per node - true per node. The wall time the profiler adds per node beyond
      that (``outside_us``) falls between nodes, or inside an If/Loop for the nodes of its body.
    * parallel: ``Sigmoid`` on 64k elements, which ONNX Runtime splits over its intra-op threads; the
      profiler's thread-pool bookkeeping makes such a node's recorded time several µs longer again
      (``parallel_extra_us``, 0 when the chain did not run in parallel, e.g. with one thread).

    The model being measured plays no part (calibrating on it would make the per-layer sum match by
    construction)."""
    warm = max(3, runs // 4)
    t_start = time.perf_counter()

    def timed(session, feeds, n: int) -> list[float]:
        out = []
        for i in range(n):
            if cancelled is not None and i % 16 == 0 and cancelled():
                raise Cancelled()
            t0 = time.perf_counter()
            session.run(None, feeds)
            out.append((time.perf_counter() - t0) * 1e6)
        return out

    def chains(op: str, elements: int, k: int, short: int, tag: str) -> dict[str, Any]:
        feeds = {"x": np.full([elements], 0.5, dtype=np.float32)}
        plain_long = onnxrt.InferenceSession(chain_model(k, op, elements), make_session_options(0, measured=True, stop_spinning=True),
                                          providers=list(providers))
        plain_short = onnxrt.InferenceSession(chain_model(short, op, elements), make_session_options(0, measured=True, stop_spinning=True),
                                           providers=list(providers))
        prefix = os.path.join(workdir, f"calibration_{tag}")
        profiled = onnxrt.InferenceSession(chain_model(k, op, elements), make_session_options(0, profile_prefix=prefix, measured=True),
                                        providers=list(providers))
        for session in (plain_long, plain_short, profiled):
            timed(session, feeds, warm)
        long_us: list[float] = []
        short_us: list[float] = []
        profiled_us: list[float] = []
        chunk = max(1, runs // 4)
        for _ in range(4):  # interleaved, so the three see the same machine
            long_us += timed(plain_long, feeds, chunk)
            short_us += timed(plain_short, feeds, chunk)
            profiled_us += timed(profiled, feeds, chunk)
        path = profiled.end_profiling()
        try:
            profile = parse_profile(read_profile_file(path), skip_runs=warm)
        finally:
            remove(path)
        del plain_long, plain_short, profiled
        nodes = profile.nodes
        # what the report does with a node's durations (whole_us_median), averaged over the chain's nodes
        recorded = float(np.mean([whole_us_median(n.durations_us) for n in nodes.values()])) if nodes else None
        long_med, short_med, prof_med = (median(v) for v in (long_us, short_us, profiled_us))
        true = max(0.0, (long_med - short_med) / (k - short))
        return {"recorded": recorded, "true": true, "short_med": short_med, "runs": len(long_us),
                "wall_per_node": (prof_med - long_med) / k,
                "parallel": any(n.parallel_sections for n in nodes.values())}

    serial = chains("Neg", 1, CALIBRATION_NODES, CALIBRATION_SHORT, "serial")
    parallel = chains("Sigmoid", PARALLEL_ELEMENTS, PARALLEL_NODES, PARALLEL_SHORT, "parallel")
    overhead = max(0.0, serial["recorded"] - serial["true"]) if serial["recorded"] is not None else 0.0
    parallel_extra = 0.0
    if parallel["parallel"] and parallel["recorded"] is not None:
        parallel_extra = max(0.0, parallel["recorded"] - parallel["true"] - overhead)
    k, short = CALIBRATION_NODES, CALIBRATION_SHORT
    return ProfilerCalibration(
        overhead_us=round(overhead, 4),
        parallel_extra_us=round(parallel_extra, 4),
        outside_us=round(max(0.0, serial["wall_per_node"] - overhead), 4),
        recorded_per_node_us=round(serial["recorded"], 4) if serial["recorded"] is not None else None,
        true_per_node_us=round(serial["true"], 4),
        run_overhead_us=round(max(0.0, serial["short_med"] - short * serial["true"]), 4),
        profiled_run_per_node_us=round(serial["wall_per_node"], 4),
        nodes=k, short_nodes=short, parallel_nodes=PARALLEL_NODES, runs=serial["runs"],
        seconds=round(time.perf_counter() - t_start, 6),
        method=(f"serial: chains of {k} and {short} Neg nodes on a 1-element tensor; parallel: chains of "
                   f"{PARALLEL_NODES} and {PARALLEL_SHORT} Sigmoid nodes on {PARALLEL_ELEMENTS} elements (split "
                   f"over the intra-op threads); graph optimizations off, same providers and threads, "
                   f"{serial['runs']} runs each, interleaved. Overhead = the recorded durations' median per node "
                   "(whole µs, interpolated), averaged over the chain, with the profiler on, minus the true "
                   "per-node cost = (median session.run of the long chain - of the short chain) / (difference "
                   "in nodes) with the profiler off; the parallel figure is what the parallel chain adds on top"))


#: a warm build worker reuses its last calibration for this long (seconds); the report says how old it is
CALIBRATION_MAX_AGE_S = 300.0
_last_calibration: dict[str, tuple[float, ProfilerCalibration]] = {}


def recent_calibration(workdir: str, *, cancelled: Callable[[], bool] | None = None) -> ProfilerCalibration:
    """The CPU profiler calibration, measured now or at most :data:`CALIBRATION_MAX_AGE_S` ago in this process.

    The profiler's overhead is a property of this machine and ONNX Runtime build, not of the model: a worker
    that builds again (the warm worker of :mod:`explorer.backends.jobs`) need not spend ~0.1 s measuring
    it again. ``age_s`` and ``reused`` in the result say which it was; ``seconds`` is 0 when reused."""
    now = time.monotonic()
    last = _last_calibration.get("cpu")
    if last is not None and now - last[0] <= CALIBRATION_MAX_AGE_S:
        return dataclasses.replace(last[1], reused=True, age_s=round(now - last[0], 3), seconds=0.0)
    fresh = calibrate_profiler_overhead(["CPUExecutionProvider"], workdir, cancelled=cancelled)
    _last_calibration["cpu"] = (time.monotonic(), fresh)
    return dataclasses.replace(fresh, reused=False, age_s=0.0)


def calibration_summary(calibration: ProfilerCalibration) -> str:
    """One phrase for reports: the overhead taken off, and where and when it was measured."""
    when = (f"{calibration.age_s:.0f} s earlier in this build worker" if calibration.reused else "in this build")
    return (f"{calibration.overhead_us:.2f} us/node (+{calibration.parallel_extra_us:.2f} us for nodes that use "
            f"the intra-op thread pool), calibrated on chains of {calibration.nodes} Neg and "
            f"{calibration.parallel_nodes} Sigmoid nodes {when}")


def node_overhead_us(calibration: ProfilerCalibration, parallel_sections: int) -> float:
    """The profiler's overhead in one recorded event of a node: the serial figure, plus the extra the
    calibration measured for nodes that hand work to the intra-op thread pool."""
    return calibration.overhead_us + (calibration.parallel_extra_us if parallel_sections else 0.0)


def corrected_stats(durations_us: Sequence[float], overhead_us: float, *, events: Sequence[int] | None = None,
                    nested: Sequence[int] | None = None, nested_overhead_us: float = 0.0) -> DurationStats | None:
    """:func:`stats_ms` of the durations less the profiler's overhead (each at least
    :data:`CORRECTED_FLOOR_US`, or its raw value when smaller), plus the raw figures as ``raw_*``.

    Per run, the overhead is ``overhead_us`` for each of the node's events in it (a loop body node runs
    several times), plus ``nested_overhead_us`` for each node event nested in its span (the whole cost of
    profiling a node of its If/Loop body, inside and outside that node's own interval)."""
    d = np.asarray(durations_us, dtype=float)
    raw = stats_ms(d)
    if raw is None:
        return None
    n = d.size
    ev = np.asarray(events if events is not None and len(events) == n else np.ones(n), dtype=float)
    ch = np.asarray(nested if nested is not None and len(nested) == n else np.zeros(n), dtype=float)
    per_run = overhead_us * ev + nested_overhead_us * ch
    corrected = np.maximum(d - per_run, np.minimum(d, CORRECTED_FLOOR_US))
    stats = stats_ms(corrected)
    assert stats is not None
    for name in ("mean_ms", "min_ms", "max_ms", "total_ms"):
        setattr(stats, f"raw_{name}", getattr(raw, name))
    # median and p10/p90 from the whole-µs values, interpolated (see whole_us_quantiles; the calibration
    # uses the same), less the run's overhead
    overhead = median(per_run)
    for name, value_us in zip(("p10_ms", "median_ms", "p90_ms"), whole_us_quantiles(d, (0.1, 0.5, 0.9))):
        setattr(stats, f"raw_{name}", value_us / 1000.0)
        setattr(stats, name, max(value_us - overhead, min(value_us, CORRECTED_FLOOR_US)) / 1000.0)
    stats.profiler_overhead_ms = overhead / 1000.0
    stats.at_floor = bool(stats.raw_median_ms * 1000.0 <= overhead + CORRECTED_FLOOR_US)
    return stats


def whole_us_quantiles(durations_us: Sequence[float], qs: Sequence[float]) -> list[float]:
    """The ``qs`` quantiles of durations ONNX Runtime's profiler truncated to whole µs, interpolated in
    their class.

    A node recorded as 3, 4, 4, 3, 4 µs took somewhere in [3, 5) µs each time; the plain median (4) is off
    by up to 1 µs, which is a node's whole cost when it is this short. The grouped-data quantile
    ``k + (q*n - count(< k)) / count(== k)`` (``k`` the class holding it, values in ``[k, k+1)``) is not, and
    is monotone in ``q``. Falls back to the plain quantiles when the values are not whole numbers."""
    a = np.sort(np.asarray(durations_us, dtype=float))
    if a.size == 0:
        return [float("nan")] * len(qs)
    q = np.asarray(qs, dtype=float)
    plain = sorted_quantiles(a, q)
    if not np.all(a == np.floor(a)):
        return plain.tolist()
    k = np.floor(plain)
    below = np.searchsorted(a, k, side="left")
    equal = np.searchsorted(a, k, side="right") - below
    inside = np.clip((q * a.size - below) / np.maximum(equal, 1), 0.0, 1.0)
    return np.where(equal > 0, k + inside, plain).tolist()


def whole_us_median(durations_us: Sequence[float]) -> float:
    """:func:`whole_us_quantiles` at 0.5."""
    return whole_us_quantiles(durations_us, [0.5])[0]


def stats_ms(durations_us: Sequence[float]) -> DurationStats | None:
    """median, p10, p90, mean, min, max (ms) and count of a list of per-run durations in µs."""
    if len(durations_us) == 0:
        return None
    a = np.sort(np.asarray(durations_us, dtype=float)) / 1000.0
    p10, mid, p90 = sorted_quantiles(a, (0.1, 0.5, 0.9)).tolist()  # one sort for the three
    total = float(a.sum())
    return DurationStats(median_ms=mid, p10_ms=p10, p90_ms=p90, mean_ms=total / a.size, min_ms=float(a[0]),
                         max_ms=float(a[-1]), total_ms=total, count=int(a.size))



__all__ = ["CALIBRATION_MAX_AGE_S", "CALIBRATION_NODES", "CALIBRATION_RUNS", "CORRECTED_FLOOR_US", "DurationStats",
           "PARALLEL_NODES", "ProfilerCalibration", "calibrate_profiler_overhead", "calibration_summary",
           "chain_model", "corrected_stats", "node_overhead_us", "recent_calibration", "stats_ms",
           "whole_us_median", "whole_us_quantiles"]
