"""The build (run in the worker process that :mod:`explorer.backends.jobs` starts): phase functions over one
:class:`_BuildRun` - load, convert, sessions, calibrate, warm up, time, profile, assemble.

Timed runs alternate between a session without the profiler (the end-to-end time) and an identical one with
it (per-node times), in blocks, so that both see the same machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import onnx

from ...errors import BuildError
from ...model import load_model
from ...model.quantization import has_qdq
from ...model.transforms import name_nodes_by_id
from .. import MAX_TIMED_RUNS
from .convert import CALIBRATION_BATCHES, Conversion, convert_precision
from .inputs import InputPlan, plan_inputs, random_inputs
from .profiler import ProfilerCalibration, recent_calibration
from .report import OrtBuildResult, OrtSettings, assemble
from .session import (Cancelled, choose_providers, first_line, graph_optimization_level, hint_for,
                      make_session_options, onnxrt, ort_message, remove, shared_thread_pool,
                      tensorrt_provider_options)
from .trace import Profile, parse_profile, read_profile_file

#: timed runs alternate between the session without and the one with the profiler in blocks of at least
#: this many runs and (when the runs allow at least two blocks each) about BLOCK_SECONDS of runs: after its
#: run, a session's intra-op threads keep spinning on the cores, and the other session's runs that follow
#: soon after are slowed by them (blocks of 10 runs made ResNet-18 QAT's end-to-end median 40% slow)
CHUNK = 10
BLOCK_SECONDS = 0.25

#: ONNX Runtime's profiler records at most this many events (later ones are dropped with a warning)
PROFILER_EVENTS = 900_000
#: profile about this many node events (runs x nodes), and at least PROFILED_RUNS_MIN runs
PROFILED_EVENTS = 10_000
PROFILED_RUNS_MIN = 50
#: the profiled session's warm-up runs: its first (allocations) plus at most this many of those asked for
PROFILED_WARMUP = 3

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class _BuildRun:
    """One build: its settings, where it writes, how it reports progress and learns it is cancelled, and
    what each phase leaves for the next."""

    model_path: str
    settings: Mapping[str, Any]
    workdir: str
    on_progress: ProgressCallback | None = None
    cancelled: Callable[[], bool] | None = None
    on_session_created: Callable[[Any], None] | None = None
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    runs: int = 0  # timed runs: the settings', more for a duration (set by _time_runs)
    # load
    model: Any = None  # the explorer's IR
    original: Any = None  # ModelProto, nodes named by id
    renamed: int = 0
    external: bool = False
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    inputs: InputPlan | None = None  # the shapes chosen or given, and the values given
    feeds: dict[str, Any] = field(default_factory=dict)
    # convert
    run_proto: Any = None
    conversion: Conversion | None = None
    # sessions
    plain: Any = None
    profiled: Any = None
    used_providers: list[str] = field(default_factory=list)
    optimized_path: str = ""
    optimized_saved: bool = False
    # calibrate, warm up, time
    calibration: ProfilerCalibration | None = None
    warm_s: float = 0.0  # wall time of the warm-up runs asked for ...
    profiled_warm_s: float = 0.0  # ... and of the profiled session's
    profiled_runs: int = 0
    e2e_ms: list[float] = field(default_factory=list)
    timed_s: float = 0.0
    # profile
    profile: Profile | None = None

    @property
    def precision(self) -> str:
        return self.settings.get("precision", "fp32")

    @property
    def opt_level(self) -> int:
        return int(self.settings.get("opt_level", 3))

    @property
    def warmup(self) -> int:
        return int(self.settings.get("warmup", 5))

    @property
    def seed(self) -> int:
        return int(self.settings.get("seed", 0))

    @property
    def duration(self) -> float:
        return float(self.settings.get("duration") or 0.0)

    @property
    def model_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.model_path))

    @property
    def profiled_warmup(self) -> int:
        """The profiled session's warm-up: its first run (allocations) and a few of those asked for."""
        return min(self.warmup, PROFILED_WARMUP) + 1

    @property
    def warm_total(self) -> int:
        return self.warmup + self.profiled_warmup

    def progress(self, phase: str, step: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(phase, step, total)

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled()

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - since, 6)
        return now

    def run_once(self, session) -> float:
        t0 = time.perf_counter()
        try:
            session.run(None, self.feeds)
        except Exception as exc:
            failure = self.inputs.failure("run", str(exc)) if self.inputs else None
            if failure is not None:  # a dynamic model: which sizes were used, not ONNX Runtime's words
                raise failure from None
            raise BuildError(f"ONNX Runtime failed to run the model: {ort_message(exc)}",
                             hint=hint_for(str(exc))) from None
        return time.perf_counter() - t0


def build(model_path: str, settings: Mapping[str, Any], *, workdir: str,
          on_progress: ProgressCallback | None = None, cancelled: Callable[[], bool] | None = None,
          on_session_created: Callable[[Any], None] | None = None) -> OrtBuildResult:
    """Optimize and profile ``model_path`` with ONNX Runtime.

    ``settings``: precision, opt_level, shapes ({input: [min, opt, max]}), runs, warmup, duration
    (seconds: time runs until then too), providers, workspace, timing_cache, seed, profiler_calibration.
    ``on_progress(phase, step, total)`` is called for the phases load, convert, optimize, warmup, profile
    (one step per run) and report; ``cancelled()`` is checked between phases and runs (raises
    :class:`Cancelled`). Raises :class:`BuildError` with ONNX Runtime's own words.
    """
    run = _BuildRun(model_path, settings, workdir, on_progress, cancelled, on_session_created,
                    runs=int(settings.get("runs", 20)))
    shared_thread_pool()  # before any session of this process, if it can (int8 quantization makes some)
    t = _load(run, time.perf_counter())
    t = _convert(run, t)
    t = _make_sessions(run, t)
    _calibrate(run)
    t = _warm_up(run, t)
    t = _time_runs(run, t)
    return _report(run, t)


def _load(run: _BuildRun, t: float) -> float:
    """The model, its nodes named by their explorer ids (ONNX Runtime refuses duplicate node names, and the
    ids are what every report uses), concrete input shapes and random inputs."""
    run.progress("load", 0, 1)
    try:
        run.model = load_model(run.model_path, infer_shapes=False)  # node ids and ops: no shape inference needed
    except Exception as exc:  # ModelError: the words are already good
        raise BuildError(str(exc)) from None
    run.original = onnx.load(run.model_path, load_external_data=False)
    run.renamed = name_nodes_by_id(run.original, run.model)
    if run.renamed:
        run.notes.append(f"{run.renamed} node(s) without a unique name were named by their explorer id for ONNX "
                         "Runtime (it refuses duplicate node names)")
    run.external = any(init.data_location == onnx.TensorProto.EXTERNAL for init in run.original.graph.initializer)
    run.progress("load", 1, 1)
    t = run.lap("load", t)
    run.check()
    shapes = {k: tuple(tuple(int(d) for d in s) for s in v) for k, v in (run.settings.get("shapes") or {}).items()}
    run.inputs = plan_inputs(run.original, shapes, run.settings.get("values"))
    run.input_shapes = run.inputs.shapes
    run.notes.extend(run.inputs.notes())
    run.feeds = random_inputs(run.original, run.input_shapes, run.seed, run.inputs.values)
    return t


def _convert(run: _BuildRun, t: float) -> float:
    """The model in the precision asked for (see :mod:`.convert`); int8 calibrates on random batches."""
    run.progress("convert", 0, 1)
    precision = run.precision
    proto = run.original
    if precision != "fp32" and not (precision == "int8" and has_qdq(proto)):
        if run.external:
            onnx.load_external_data_for_model(proto, run.model_dir)
            run.external = False
        calibration = None
        if precision == "int8":
            calibration = [random_inputs(proto, run.input_shapes, run.seed + 1 + i, run.inputs.values)
                           for i in range(CALIBRATION_BATCHES)]
        run.run_proto, run.conversion = convert_precision(proto, precision, calibration=calibration,
                                                          workdir=run.workdir,
                                                          block=run.settings.get("precision_block") or ())
    else:
        run.run_proto, run.conversion = convert_precision(proto, precision, workdir=run.workdir)
    if run.conversion.note:
        run.notes.append(run.conversion.note)
    run.notes.extend(run.conversion.notes)  # the converter's own remarks
    run.progress("convert", 1, 1)
    t = run.lap("convert", t)
    run.check()
    return t


def _make_sessions(run: _BuildRun, t: float) -> float:
    """Two identical sessions, one with the profiler, at the optimization level of ``opt_level``; the first
    saves ONNX Runtime's optimized graph (compared with the original to find the fusions)."""
    run.progress("optimize", 0, 2)
    provider_args: list[Any] = []
    for name in choose_providers(run.settings.get("providers")):
        if name == "TensorrtExecutionProvider":
            provider_args.append((name, tensorrt_provider_options(run.settings, run.workdir)))
        else:
            provider_args.append(name)
    if run.run_proto is run.original and not run.renamed:
        source: Any = run.model_path  # untouched: let ONNX Runtime read the file (and its external data) itself
        external_folder = None
    else:
        source = _serialize(run.run_proto, run.workdir)
        external_folder = run.model_dir if run.external else None
    run.optimized_path = os.path.join(run.workdir, "optimized.onnx")

    run.plain = _session(run, source, provider_args, optimized_path=run.optimized_path,
                         external_folder=external_folder)
    run.optimized_saved = os.path.exists(run.optimized_path)
    if run.plain is None:  # saving the optimized graph is impossible with compiled nodes (TensorRT EP)
        run.plain = _session(run, source, provider_args, external_folder=external_folder)
        run.notes.append("ONNX Runtime could not save the optimized graph (compiled nodes, e.g. TensorRT "
                         "subgraphs): layers come from the profiler only")
    run.progress("optimize", 1, 2)
    run.check()
    run.profiled = _session(run, source, provider_args, profile_prefix=os.path.join(run.workdir, "profile"),
                            external_folder=external_folder)
    run.progress("optimize", 2, 2)
    run.used_providers = run.plain.get_providers()
    t = run.lap("optimize", t)
    run.check()
    return t


def _calibrate(run: _BuildRun) -> None:
    """The profiler's own cost per node, on a chain of cheap nodes (never on this model), before its runs
    (counted in the warm-up phase)."""
    run.progress("warmup", 0, run.warm_total)
    if not run.settings.get("profiler_calibration", True):
        return
    if all(p == "CPUExecutionProvider" for p in run.used_providers):
        try:
            run.calibration = recent_calibration(run.workdir, cancelled=run.cancelled)
        except Cancelled:
            raise
        except Exception as exc:  # the build's figures stand without it; say so
            run.notes.append(f"the profiler's overhead could not be calibrated ({first_line(exc)}): per-node "
                             "times are ONNX Runtime's raw figures")
        run.timings["calibration"] = round(run.calibration.seconds, 6) if run.calibration else 0.0
    else:
        run.notes.append(f"per-node times are ONNX Runtime's raw profiler figures: the profiler's overhead is "
                         f"calibrated on the CPU provider only (this build used {', '.join(run.used_providers)})")


def _warm_up(run: _BuildRun, t: float) -> float:
    """The ``warmup`` runs asked for (session without the profiler), then the profiled session's: its first
    run (allocations) and a few more, dropped from its trace - its per-node medians over many runs do not
    need all the warm-up the end-to-end time asked for."""
    run.check()
    warm_total = run.warm_total
    for i in range(warm_total):
        run.progress("warmup", i, warm_total)
        run.check()
        if i < run.warmup:
            run.warm_s += run.run_once(run.plain)
        else:
            run.profiled_warm_s += run.run_once(run.profiled)
    run.progress("warmup", warm_total, warm_total)
    return run.lap("warmup", t)  # (the calibration's time included)


def _plan_runs(run: _BuildRun) -> None:
    """How many runs to time (more for a ``duration``) and to profile (what the profiler can keep and what
    changes the medians), with notes on the limits that applied."""
    warmup, profiled_warmup = run.warmup, run.profiled_warmup
    if run.duration > 0:  # as trtexec's --duration: enough runs for that long, judged from the warm-up runs
        per_plain = run.warm_s / warmup if warmup else run.profiled_warm_s / profiled_warmup
        if per_plain > 0:
            run.runs = max(run.runs, min(MAX_TIMED_RUNS, int(run.duration / per_plain)))
    # ONNX Runtime's profiler keeps at most a million events and drops the rest: profile fewer runs than
    # that allows (a generous guess at the node count: conversions and layout passes add nodes)
    node_guess = 2 * len(run.original.graph.node) + 16
    profiled_runs = max(1, min(run.runs, PROFILER_EVENTS // node_guess - profiled_warmup))
    if profiled_runs < run.runs:
        run.notes.append(f"per-node times come from {profiled_runs} of the {run.runs} runs: ONNX Runtime's "
                         f"profiler keeps at most {PROFILER_EVENTS:,} events")
    # beyond PROFILED_EVENTS events the per-node medians no longer move, but writing and reading the trace
    # (about 1 kB per event) would cost more than the runs: profile a spread-out share of the runs
    enough = max(PROFILED_RUNS_MIN, PROFILED_EVENTS // max(1, len(run.original.graph.node)))
    if profiled_runs > enough:
        profiled_runs = enough
        run.notes.append(f"per-node times come from {profiled_runs} of the {run.runs} runs, spread over the "
                         f"measurement (about {PROFILED_EVENTS:,} node events: more would not change the medians, "
                         "only make the profiler's trace slower to write and read); the end-to-end figures use all "
                         "runs")
    run.profiled_runs = profiled_runs


def _time_runs(run: _BuildRun, t: float) -> float:
    """``runs`` runs without the profiler (the end-to-end time) and ``profiled_runs`` with it (per-node
    times), alternating in blocks (see :data:`BLOCK_SECONDS`) so that both see the same machine (other
    processes, clock changes). Not single runs in turn: after a run, a session's intra-op threads spin for
    a while, and two sessions taking turns run by run would steal the cores from each other."""
    _plan_runs(run)
    runs, profiled_runs = run.runs, run.profiled_runs
    total_steps = runs + profiled_runs
    # blocks of ~BLOCK_SECONDS, judged from the warm-up runs (at least CHUNK runs, at least two blocks each)
    warm_total = run.warm_total
    per_run = (run.warm_s + run.profiled_warm_s) / warm_total if warm_total else 0.0
    by_time = int(BLOCK_SECONDS / per_run) if per_run > 0 else CHUNK
    chunk = runs if runs < 2 * CHUNK else max(CHUNK, min(by_time, runs // 2))
    # the profiled session's block: its share of the runs, so that its runs spread over the whole measurement
    profiled_chunk = min(chunk, max(CHUNK, -(-chunk * profiled_runs // runs)))
    plain_s = 0.0  # the runs without the profiler: what `duration` counts
    done_plain = done_profiled = 0
    step = 0
    while True:
        if run.duration > 0 and done_plain >= runs and plain_s < run.duration and runs < MAX_TIMED_RUNS:
            runs = min(MAX_TIMED_RUNS, runs + chunk)  # the estimate fell short of the duration: one more block
            total_steps = runs + profiled_runs
        if done_plain >= runs and done_profiled >= profiled_runs:
            break
        for session, is_plain in ((run.plain, True), (run.profiled, False)):
            todo = min(chunk if is_plain else profiled_chunk,
                       (runs - done_plain) if is_plain else (profiled_runs - done_profiled))
            for _ in range(todo):
                run.progress("profile", step, total_steps)
                run.check()
                seconds = run.run_once(session)
                run.timed_s += seconds
                step += 1
                if is_plain:
                    run.e2e_ms.append(seconds * 1000.0)
                    plain_s += seconds
            if is_plain:
                done_plain += todo
            else:
                done_profiled += todo
    run.runs = runs
    run.progress("profile", total_steps, total_steps)
    t = run.lap("profile", t)
    run.timings["timed_runs"] = round(run.timed_s, 6)
    run.timings["warmup_runs"] = round(run.warm_s, 6)  # the ones asked for (the session without the profiler)
    run.timings["profiled_warmup_runs"] = round(run.profiled_warm_s, 6)
    run.check()
    return t


def _report(run: _BuildRun, t: float) -> OrtBuildResult:
    """The profiler's trace read, the optimized graph mapped onto the original, the result put together."""
    run.progress("report", 0, 1)
    profile_file = run.profiled.end_profiling()
    try:
        trace = read_profile_file(profile_file)
    except (OSError, ValueError) as exc:
        raise BuildError(f"could not read ONNX Runtime's profile {profile_file}: {exc}") from None
    finally:
        remove(profile_file)
    run.profile = parse_profile(trace, skip_runs=run.profiled_warmup)

    optimized = onnx.load(run.optimized_path, load_external_data=False) if run.optimized_saved else None
    converted = run.run_proto if run.run_proto is not run.original else None
    result = assemble(run.model, run.original, converted, optimized, run.profile, run.e2e_ms, run.notes,
                      run.precision, run.calibration)
    run.plain = run.profiled = None
    result.onnxruntime_version = onnxrt.__version__
    result.model_path = run.model_path
    result.conversion = run.conversion
    result.settings = OrtSettings(
        precision=run.precision, conversion_tool=run.conversion.tool, opt_level=run.opt_level,
        ort_graph_optimization_level=graph_optimization_level(run.opt_level), providers=list(run.used_providers),
        runs=run.runs, duration=run.duration, profiled_runs=run.profiled_runs, warmup=run.warmup,
        input_shapes={k: list(v) for k, v in run.input_shapes.items()}, inputs=run.inputs.inputs_text(run.seed),
        threads=("ONNX Runtime default (intra-op = physical cores), one pool shared by the timed sessions"
                 if shared_thread_pool() else "ONNX Runtime default (intra-op = physical cores) per session; "
                 "the profiled session's threads stop spinning after each run"))
    result.timings_s = run.timings
    run.lap("report", t)
    result.timings_s["total"] = round(time.perf_counter() - run.started, 6)
    run.progress("report", 1, 1)
    return result


def _serialize(proto, workdir: str) -> Any:
    """Bytes for ONNX Runtime, or a file (with external data) when protobuf's 2 GiB limit is near."""
    if proto.ByteSize() < 1_800_000_000:
        return proto.SerializeToString()
    path = os.path.join(workdir, "model_to_run.onnx")
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model_to_run.onnx.data")
    return path


def _session(run: _BuildRun, source, providers, *, optimized_path=None, profile_prefix=None, external_folder=None):
    """A timed session; None when ONNX Runtime cannot save the optimized graph of compiled nodes."""
    so = make_session_options(run.opt_level, profile_prefix=profile_prefix, optimized_path=optimized_path,
                              measured=True, external_folder=external_folder)
    if run.on_session_created is not None:
        run.on_session_created(so)  # lets the worker flip set_load_cancellation_flag while the session is made
    try:
        return onnxrt.InferenceSession(source, so, providers=providers)
    except Exception as exc:
        text = ort_message(exc)
        if run.cancelled is not None and run.cancelled():
            raise Cancelled() from None
        if optimized_path and "compiled" in text.lower() and "serializ" in text.lower():
            return None
        failure = run.inputs.failure("load", text) if run.inputs and "shape" in text.lower() else None
        if failure is not None:
            raise failure from None
        raise BuildError(f"ONNX Runtime could not load the model: {text}", hint=hint_for(text)) from None


__all__ = ["BLOCK_SECONDS", "CHUNK", "PROFILED_EVENTS", "PROFILED_RUNS_MIN", "PROFILED_WARMUP", "PROFILER_EVENTS",
           "build"]
