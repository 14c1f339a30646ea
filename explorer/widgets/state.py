"""The app's state as plain Python: the model, its analysis, builds and imports, the selection.

No ipywidgets here. The widget layout (:mod:`explorer.widgets.app`) listens to this object's events and
draws; tests drive it directly. Every action that takes user input catches the explorer's errors (and, at
this boundary, any other exception) and records a message instead of raising: bad input never loses what
the user already had, never leaves a traceback, never kills the kernel.

Events (``state.on(event, callback)``; callbacks get the state): ``model``, ``analysis``, ``fusions``,
``builds``, ``current``, ``job``, ``selection``, ``message``.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ExplorerError

SAMPLES_ENV = "EXPLORER_SAMPLES"
FIXTURES_ENV = "EXPLORER_FIXTURES"


def repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def samples_dir() -> str | None:
    """Where the bundled sample models are: ``$EXPLORER_SAMPLES`` or ``<repo>/sample_models``."""
    for candidate in (os.environ.get(SAMPLES_ENV), os.path.join(repo_root(), "sample_models")):
        if candidate and os.path.isdir(candidate):
            return candidate
    return None


def fixtures_dir(folder: str | os.PathLike | None = None) -> str | None:
    """The real TensorRT fixtures to offer for import: ``folder`` if given, else ``$EXPLORER_FIXTURES``; None
    when neither names a folder. Never guessed from where the package is installed (``python -m explorer
    lab`` and the notebooks set the variable for a checkout)."""
    for candidate in (folder, os.environ.get(FIXTURES_ENV)):
        if candidate and os.path.isdir(candidate):
            return os.path.abspath(candidate)
    return None


def sample_models() -> list[str]:
    folder = samples_dir()
    if not folder:
        return []
    return sorted(f for f in os.listdir(folder) if f.endswith(".onnx"))


def fixture_sets(folder: str | os.PathLike | None = None) -> dict[str, dict[str, str]]:
    """Fixture name (``a100_resnet_fp16``) -> {"graph": path, "profile": ..., "times": ..., "log": ...}, from
    :func:`fixtures_dir` (``folder``, else ``$EXPLORER_FIXTURES``)."""
    folder = fixtures_dir(folder)
    out: dict[str, dict[str, str]] = {}
    if not folder:
        return out
    kinds = {".graph.json": "graph", ".profile.json": "profile", ".timing.json": "times", ".log": "log",
             ".build.log": "log"}
    for f in sorted(os.listdir(folder)):
        for suffix, kind in kinds.items():
            if f.endswith(suffix) and not f.endswith(".build.metadata.json"):
                out.setdefault(f[: -len(suffix)], {})[kind] = os.path.join(folder, f)
                break
    return out


#: a fixture whose first line says this is not a measurement (see tests/fixtures/trt/README.md)
NOT_MEASURED_MARK = "NOT a measurement"


def illustrative_origin(files: dict[str, str]) -> str | None:
    """The origin label of a fixture build log that says (in its first line) it is not a measurement, so that
    every figure and table of it says so; None for real artifacts."""
    log = files.get("log")
    if not log:
        return None
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            first = f.readline(2000)
    except OSError:
        return None
    if NOT_MEASURED_MARK not in first:
        return None
    return f"format sample (illustrative values, not measured): {os.path.basename(log)}"


def fixture_label(name: str, files: dict[str, str]) -> str:
    """How the Build tab lists a fixture: its name, and for a format sample that its values are illustrative."""
    return f"{name} (format sample: illustrative values, not measured)" if illustrative_origin(files) else name


def describe_error(exc: BaseException) -> str:
    """One readable line for the user: the explorer's own message, or the type and text of anything else."""
    if isinstance(exc, ExplorerError):
        return " ".join(str(exc).split())
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected {type(exc).__name__}: {text}"


@dataclass
class Build:
    """One engine report the app knows: from a build here, or imported trtexec files."""

    name: str
    report: Any  # explorer.engine.report.EngineReport
    kind: str  # "build" | "import"
    source: str  # what made it: "ONNX Runtime profiler", "TensorRT engine inspector", "imported trtexec files"
    backend: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    created: float = field(default_factory=time.time)
    model: str | None = None  # the label of the model it was built from (or imported with)

    @property
    def notes(self) -> list[str]:
        """What the backend said about this build (e.g. ONNX Runtime's fp16 computing mostly in fp32)."""
        return list(getattr(self.report, "notes", None) or [])


@dataclass
class JobStatus:
    state: str = "idle"  # idle | running | done | failed | cancelled
    phase: str = ""
    step: int = 0
    total: int = 0
    message: str = ""
    log: str = ""
    started: float | None = None
    finished: float | None = None


@dataclass
class PartitionedSession:
    """The last partitioned build (one engine per supported partition): the library's result, and the name
    each engine's build got in ``builds`` (partition index -> name) so the summary can point at it."""

    result: Any  # explorer.backends.jobs.partitions.PartitionedBuild
    names: dict[int, str] = field(default_factory=dict)
    model: str | None = None
    cancelled: bool = False


@dataclass
class Selection:
    node: str | None = None  # ONNX node id
    layer: str | None = None  # engine layer name (in the current build)
    origin: str = ""  # which view made the selection


class ExplorerState:
    """Model, analysis options and results, builds, the running job and the selection.

    ``fixtures_dir``: a folder of trtexec exports to offer for import (default ``$EXPLORER_FIXTURES``)."""

    def __init__(self, *, fixtures_dir: str | os.PathLike | None = None) -> None:
        self.fixtures_dir = fixtures_dir
        self.model = None
        self.model_label: str | None = None
        self.model_path: str | None = None  # a file on disk (uploads are written to a temp file)
        self.options: dict[str, Any] = {"trt_version": None, "min_block_size": 1, "fold_constants": False}
        self.default_options = dict(self.options)  # what the app started with (the Explorer's arguments)
        self.support = None  # the instant prediction (support matrix)
        self.parser_support = None  # the real parser's verdicts, when they have arrived (background job)
        self.parser_job = None  # the AnalysisJob judging with a real parser (or the last one)
        self._fusions: dict[str, list] = {}  # fusion target -> predicted groups (computed on first use)
        self._fusions_error: dict[str, str] = {}  # fusion target -> why it could not be predicted
        self.builds: dict[str, Build] = {}
        self.current: str | None = None
        self.job = None  # the BuildJob under way (or the last one)
        self.job_status = JobStatus()
        self._job_ended: threading.Event | None = None  # set once the last job's result is recorded
        self.partitioned: PartitionedSession | None = None  # the last partitioned build (Build tab's summary)
        self._partition_cancel: threading.Event | None = None  # set by Cancel while a partitioned build runs
        self.selection = Selection()
        self.comparison = None  # the last PrecisionComparison (Accuracy tab), and the job computing one
        self.comparison_job = None
        self.comparison_model = None  # the model the comparison is of (a new model hides it)
        self.messages: dict[str, tuple[str, str]] = {}  # area -> (level, text)
        self._listeners: dict[str, list[Callable]] = defaultdict(list)
        self._lock = threading.RLock()
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self.loading: str | None = None  # the name of the model being loaded in the background (start_load)
        self._loader: threading.Thread | None = None

    # ------------------------------------------------------------------ events and messages
    def on(self, event: str, callback: Callable) -> None:
        self._listeners[event].append(callback)

    def emit(self, event: str) -> None:
        for callback in list(self._listeners.get(event, [])):
            try:
                callback(self)
            except Exception:  # a broken view must not break the state (or the other views)
                self.messages["internal"] = ("error", "a view failed to update: "
                                             + traceback.format_exc(limit=3).splitlines()[-1])

    def message(self, area: str, text: str | None, level: str = "error") -> None:
        if text:
            self.messages[area] = (level, text)
        else:
            self.messages.pop(area, None)
        self.emit("message")

    def error(self, area: str) -> str | None:
        found = self.messages.get(area)
        return found[1] if found and found[0] == "error" else None

    # ------------------------------------------------------------------ model
    def load(self, source, *, label: str | None = None) -> bool:
        """Load a model from a path, bytes or ModelProto; on failure keep the current one and say why."""
        import explorer

        try:
            if isinstance(source, (str, os.PathLike)):
                path = os.fspath(source)
                if not path.strip():
                    raise explorer.ModelError("no path given", hint="type the path of an .onnx file")
                path = os.path.expanduser(path.strip())
                model = explorer.load_model(path)
                model_path = os.path.abspath(path)
                label = label or os.path.basename(path)
            else:
                if isinstance(source, memoryview):
                    source = source.tobytes()
                model = explorer.load_model(source)
                model_path = None
                if isinstance(source, (bytes, bytearray)):
                    model_path = self._write_temp(bytes(source), label or "uploaded.onnx")
                label = label or getattr(model, "name", "model")
        except Exception as exc:  # noqa: BLE001 - shown in the app
            self.message("model", f"could not load {label or _short(source)}: {describe_error(exc)}")
            return False
        with self._lock:
            had_model = self.model is not None
            self.model = model
            self.model_label = label
            self.model_path = model_path
            self.support = None
            self._fusions = {}
            self._fusions_error = {}
            self.selection = Selection()
            # builds of the previous model stay (Compare can still use them, with a warning), but the current
            # build is one of this model: its newest, or none
            before = self.current
            if self.current_build is not None and self.current_build.model != label:
                self.current = next((b.name for b in reversed(self.builds.values()) if b.model == label), None)
            dropped = self.current != before
        self.message("model", None)
        kept = [f"{k.replace('_', ' ')} {v}" for k, v in self.options.items()
                if k in self.default_options and v != self.default_options[k]]
        self.message("analysis options", f"{label}: the analysis options of the previous model are kept ("
                     + ", ".join(kept) + "); change them in the Partitions tab" if kept and had_model else None,
                     level="info")
        self.emit("model")
        if dropped:
            self.emit("current")
        self.analyze()
        return True

    def start_load(self, source, *, label: str | None = None) -> bool:
        """:meth:`load` on a background thread, as the Load button, the upload and the samples do: a 100k-node
        model takes seconds to read, infer and judge, and the notebook stays usable meanwhile (the Model tab says
        what is loading). False, with a note, while another load is still running."""
        name = label or (os.path.basename(os.fspath(source).strip()) if isinstance(source, (str, os.PathLike))
                         else "the uploaded model")
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                self.message("loading", f"{self.loading} is still loading: {name} was not started", level="info")
                return False
            self.loading = name
            self._loader = threading.Thread(target=self._load_in_background, args=(source, label),
                                            name="explorer-load", daemon=True)
            loader = self._loader
        self.message("loading", f"loading {name}… (the notebook stays usable)", level="info")
        loader.start()
        return True

    def _load_in_background(self, source, label) -> None:
        try:
            self.load(source, label=label)
        except Exception as exc:  # noqa: BLE001 - load reports its own errors; anything else is shown too
            self.message("model", f"could not load {self.loading}: {describe_error(exc)}")
        finally:
            self.loading = None
            self.message("loading", None)

    def wait_load(self, timeout: float | None = None) -> bool:
        """Block until the background load (if any) has ended; False if it is still running after ``timeout``."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
        return loader is None or not loader.is_alive()

    @property
    def model_uploaded(self) -> bool:
        """Whether the model came as bytes (an upload): its path is a temp file, not one the user typed."""
        path = self.model_path
        return self.model is not None and (path is None or (self._tmpdir is not None
                                                            and path.startswith(self._tmpdir.name)))

    def _write_temp(self, data: bytes, name: str) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="explorer-")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in os.path.basename(name)) or "model.onnx"
        if not safe.endswith(".onnx"):
            safe += ".onnx"
        path = os.path.join(self._tmpdir.name, safe)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # ------------------------------------------------------------------ analysis
    def set_options(self, **options) -> bool:
        changed = {k: v for k, v in options.items() if self.options.get(k) != v}
        self.options.update(options)
        if changed and "analysis options" in self.messages:
            self.message("analysis options", None)
        if changed and self.model is not None:
            return self.analyze()
        return True

    def analyze(self) -> bool:
        """Run the support analysis with the current options; keep the previous result on failure."""
        if self.model is None:
            return False
        import explorer

        try:  # the prediction at once; a real parser's verdicts follow in the background
            report = explorer.analyze(self.model, source="matrix", trt_version=self.options.get("trt_version"),
                                      **self._partition_options())
        except Exception as exc:  # noqa: BLE001
            self.message("analysis", f"analysis failed: {describe_error(exc)}")
            return False
        self.support = report
        self.message("analysis", None)
        self.start_parser()
        self.emit("analysis")
        return True

    def _partition_options(self) -> dict[str, Any]:
        """How the prediction, the real parser and partitioned builds cut the graph: the same options for all."""
        return {"min_block_size": int(self.options.get("min_block_size") or 1),
                "fold_constants": bool(self.options.get("fold_constants"))}

    def start_parser(self) -> bool:
        """Judge the model with a real parser (option ``parser``: "auto", "tensorrt", "tensorrt-rtx" or
        "off") in a background job; ``parser_support`` is set, and "analysis" emitted, when it arrives."""
        from ..support import start_analysis
        from ..trt import best_library

        self.cancel_parser()
        self.parser_support = None
        source = self.options.get("parser", "auto")
        if self.model is None or source == "off" or (source == "auto" and best_library() is None):
            return False
        try:
            job = start_analysis(self.model, source=source, **self._partition_options())
        except Exception as exc:  # noqa: BLE001
            self.message("parser", f"parser verdicts unavailable: {describe_error(exc)}")
            return False
        self.parser_job = job
        job.add_done_callback(self._parser_done)
        return True

    def cancel_parser(self) -> bool:
        job = self.parser_job
        return job.cancel() if job is not None and not job.done() else False

    # ------------------------------------------------------------------ precision comparison (Accuracy tab)
    def start_comparison(self, **options) -> bool:
        """Compare a low-precision conversion with fp32 in the background
        (:func:`explorer.backends.accuracy.start_precision_comparison`: precision, inputs, seed, block);
        "accuracy" is emitted while it runs (``comparison_job.progress``) and when it ends."""
        from ..backends.accuracy import start_precision_comparison

        if self.model is None:
            self.message("accuracy", "load a model first")
            return False
        if self.comparison_job is not None and not self.comparison_job.done():
            self.message("accuracy", "a comparison is already running: cancel it or wait")
            return False
        try:
            job = start_precision_comparison(self.model, **{k: v for k, v in options.items() if v not in (None, "")})
        except Exception as exc:  # noqa: BLE001
            self.message("accuracy", f"the comparison could not start: {describe_error(exc)}")
            return False
        self.comparison_job = job
        self.message("accuracy", None)
        model = self.model

        def watch() -> None:
            while not job.future.done():
                self.emit("accuracy")
                time.sleep(0.5)
            if job is not self.comparison_job or model is not self.model:
                return
            try:
                self.comparison, self.comparison_model = job.result(0), model
            except Exception as exc:  # noqa: BLE001 - a message in the widget, never a dead kernel
                self.message("accuracy", f"the comparison {'was cancelled' if job.cancelled() else 'failed'}: "
                                         f"{describe_error(exc)}", "info" if job.cancelled() else "error")
            self.emit("accuracy")

        threading.Thread(target=watch, name="explorer-accuracy-watch", daemon=True).start()
        return True

    def cancel_comparison(self) -> bool:
        job = self.comparison_job
        return job.cancel() if job is not None and not job.done() else False

    def _parser_done(self, job) -> None:
        from ..support import AnalysisCancelled

        if job is not self.parser_job:
            return
        try:
            self.parser_support = job.result(0)
            self.message("parser", None)
        except AnalysisCancelled:
            pass
        except Exception as exc:  # noqa: BLE001
            self.message("parser", f"parser verdicts failed: {describe_error(exc)}")
        self.emit("analysis")

    @property
    def fusion_target(self) -> str:
        """Which rules predict the fusions: TensorRT-RTX's (fitted to real RTX builds) when the current build
        is a TensorRT-RTX one, TensorRT's documented patterns otherwise."""
        from ..engine.report import BuildReport

        report = self.current_build.report if self.current_build is not None else None
        backend = report.backend if isinstance(report, BuildReport) else ""  # imports are plain EngineReports
        return "tensorrt-rtx" if backend.startswith("TensorRT-RTX") else "tensorrt"

    @property
    def fusions_source(self) -> str:
        """Where the prediction's rules come from, in words (for labels)."""
        from ..fusions.predict import TARGET_SOURCES

        return TARGET_SOURCES[self.fusion_target]

    def fusions_for(self, target: str):
        """Predicted fusion groups for one target (computed on first use); None when they cannot be predicted."""
        if target not in self._fusions and self.model is not None and target not in self._fusions_error:
            try:
                from ..fusions.predict import predict_fusions

                self._fusions[target] = list(predict_fusions(self.model, target=target))
            except Exception as exc:  # noqa: BLE001
                self._fusions_error[target] = f"fusion prediction unavailable: {describe_error(exc)}"
        return self._fusions.get(target)

    @property
    def fusions(self):
        """Predicted fusion groups for the current build's target (:attr:`fusion_target`); None when they
        cannot be predicted."""
        return self.fusions_for(self.fusion_target)

    @property
    def fusions_predicted(self) -> bool:
        """Whether the fusion groups are computed already (the details panel does not start a prediction)."""
        return self.fusion_target in self._fusions

    @property
    def fusions_error(self) -> str | None:
        _ = self.fusions
        return self._fusions_error.get(self.fusion_target)

    # ------------------------------------------------------------------ builds and imports
    @property
    def current_build(self) -> Build | None:
        return self.builds.get(self.current) if self.current else None

    def builds_of(self, model: str | None = None) -> list[Build]:
        """The builds and imports of one model (default: the loaded one), oldest first."""
        label = self.model_label if model is None else model
        return [b for b in self.builds.values() if b.model == label]

    def add_report(self, report, *, name: str | None = None, kind: str = "import", source: str = "",
                   backend: str | None = None, options: dict | None = None, log: str = "",
                   make_current: bool = True) -> Build:
        """Register an EngineReport under a unique name (and make it the current one)."""
        base = name or f"{kind} {len(self.builds) + 1}"
        unique, n = base, 2
        while unique in self.builds:
            unique = f"{base} ({n})"
            n += 1
        opts = dict(options or {})
        opts.setdefault("model", self.model_label)
        build = Build(name=unique, report=report, kind=kind, source=source or _report_source(report),
                      backend=backend, options=opts, log=log, model=opts["model"])
        with self._lock:
            self.builds[unique] = build
            if make_current:
                self.current = unique
        self.emit("builds")
        if make_current:
            self.emit("current")
        return build

    def set_current(self, name: str | None) -> None:
        if name is not None and name not in self.builds:
            self.message("builds", f"no build named {name!r}")
            return
        self.current = name
        self.emit("current")

    def remove_build(self, name: str) -> None:
        self.builds.pop(name, None)
        if self.current == name:
            self.current = next(reversed(self.builds), None) if self.builds else None
            self.emit("current")
        self.emit("builds")

    def import_artifacts(self, *, graph=None, profile=None, times=None, log=None, name: str | None = None,
                         artifact=None, engine: str | None = None) -> Build | None:
        """Import trtexec exports (paths or bytes) or one ``artifact`` of any kind (a TREx-layout folder: each
        of its engines, or ``engine``; a trtexec log with its --dumpProfile table; a TensorRT-RTX EP trace); an
        engine with several optimization profiles adds one build per profile. On failure keep everything and
        say which file failed. Returns the first build added."""
        given = {k: v for k, v in dict(graph=graph, profile=profile, times=times, log=log, artifact=artifact).items()
                 if v not in (None, "", b"")}
        if not given:
            self.message("import", "give at least one trtexec file (graph, profile, times or build log), a TREx "
                                   "folder or a TensorRT-RTX EP trace")
            return None
        try:
            engines: list[str | None] = [engine]
            if artifact not in (None, "", b"") and engine is None and isinstance(artifact, (str, os.PathLike)) \
                    and os.path.isdir(os.fspath(artifact)):
                from ..engine import list_engines

                engines = list(list_engines(artifact))  # every engine of the folder, one build each
            reports = [(e, load_engine_report(model=self.model, engine=e, **given)) for e in engines]
        except Exception as exc:  # noqa: BLE001
            self.message("import", f"import failed: {describe_error(exc)}")
            return None
        self.message("import", None)
        first = next(iter(given.values()))
        base = name or (_artifact_name(first) if isinstance(first, (str, os.PathLike)) else "imported")
        what = "imported " + ", ".join(f"{k}={_short(v)}" for k, v in given.items())
        added = []
        for picked, report in reports:
            label = picked if (picked and len(reports) > 1) or (picked and not name) else base
            added += self._add_profiles(report, label, what + (f" engine {picked}" if picked else ""))
        return added[0] if added else None

    def _add_profiles(self, report, name: str, source: str) -> list[Build]:
        """One build per optimization profile (profile 0 under ``name``), each mapped onto the model."""
        if len(report.profiles) < 2:
            return [self.add_report(report, name=name, kind="import", source=source)]
        from ..engine import attach_mapping

        added = []
        for profile in report.profiles:
            view = report.for_profile(profile.index)
            attach_mapping(view, self.model)  # each view maps its own layers
            label = name if profile.index == 0 else f"{name} · profile {profile.index}"
            added.append(self.add_report(view, name=label, kind="import",
                                         source=f"{source} (optimization profile {profile.index})",
                                         make_current=profile.index == 0))
        return added

    def fixture_sets(self) -> dict[str, dict[str, str]]:
        """The fixtures this state offers (see :func:`fixture_sets`)."""
        return fixture_sets(self.fixtures_dir)

    def fixture_label(self, fixture: str) -> str:
        """The list entry of one fixture (see :func:`fixture_label`)."""
        return fixture_label(fixture, self.fixture_sets().get(fixture, {}))

    def import_fixture(self, fixture: str) -> Build | None:
        files = self.fixture_sets().get(fixture)
        if not files:
            self.message("import", f"no TensorRT fixture named {fixture!r} (set {FIXTURES_ENV})")
            return None
        origin = illustrative_origin(files)
        if origin is None:
            return self.import_artifacts(name=fixture, **files)
        try:  # a format sample: its records carry a label that says the values are illustrative
            from ..engine import EngineReport, attach_mapping, read_build_log

            parts = [read_build_log(files["log"], origin_label=origin)]
            rest = {k: v for k, v in files.items() if k != "log"}
            if rest:
                parts.append(load_engine_report(**rest))
            report = EngineReport.merge(*parts)
            attach_mapping(report, self.model)
        except Exception as exc:  # noqa: BLE001
            self.message("import", f"import failed: {describe_error(exc)}")
            return None
        self.message("import", None)
        return self.add_report(report, name=fixture, kind="import", source=origin)

    # ------------------------------------------------------------------ running builds
    @property
    def building(self) -> bool:
        return self.job_status.state == "running"

    def prepare_builds(self) -> None:
        """Start the build worker in the background (imports, thread pool, profiler calibration), so that the
        first build does not wait for it; nothing happens if one is ready, and failures wait for the build."""
        try:
            from ..backends.jobs import prestart

            prestart()
        except Exception:  # noqa: BLE001 - the build will start its own worker and report what goes wrong
            pass

    def start_build(self, *, backend: str = "auto", name: str | None = None, **options) -> bool:
        """Start a build in the worker; progress and the result arrive through the ``job`` event."""
        if self.model is None:
            self.message("build", "load a model first")
            return False
        if self.building:
            self.message("build", "a build is already running: cancel it or wait")
            return False
        options = {k: v for k, v in options.items() if v not in (None, "")}
        try:
            from ..backends.jobs import start_build

            job = start_build(self.model, backend=backend, **options)
        except Exception as exc:  # noqa: BLE001
            self.job_status = JobStatus(state="failed", message=f"build could not start: {describe_error(exc)}",
                                        finished=time.time())
            self.message("build", self.job_status.message)
            self.emit("job")
            return False
        label = name or self._build_name(backend, options)
        self.job = job
        self.job_status = JobStatus(state="running", phase="starting", message=f"{label}: starting",
                                    started=time.time())
        self._job_ended = threading.Event()
        self.message("build", None)
        job.add_progress_callback(lambda phase, step, total: self._progress(job))
        self.emit("job")
        # the job's own thread calls back when it ends (at once, here, if it already has)
        model = self.model_label  # the build belongs to the model it started from, even if another loads
        job.add_done_callback(lambda ended: self._finished(ended, label, backend, options, model))
        return True

    def start_partitioned_build(self, *, backend: str = "tensorrt-rtx", **options) -> bool:
        """Build each partition the ONNX parser supports (after the Partitions tab's ``min_block_size``) as its
        own engine (:func:`explorer.backends.jobs.partitions.build_partitions`) on a background thread: every
        engine becomes a build named "partition k/n", the last one current; ``partitioned`` keeps the summary
        with the nodes left to the framework. ``options``: precision, opt_level, workspace, compute_capability
        (each partition is built with the shapes of its own inputs, once)."""
        if self.model is None:
            self.message("build", "load a model first")
            return False
        if self.building:
            self.message("build", "a build is already running: cancel it or wait")
            return False
        if backend not in ("tensorrt", "tensorrt-rtx"):
            self.message("build", f"one engine per partition needs TensorRT or TensorRT-RTX, not {backend}")
            return False
        if not self.model_path:
            self.message("build", "one engine per partition needs the model as a file (load it from a path)")
            return False
        kept = {k: v for k, v in options.items()
                if k in ("precision", "opt_level", "workspace", "compute_capability") and v not in (None, "")}
        min_block = self._partition_options()["min_block_size"]
        model, path = self.model_label, self.model_path
        label = f"{model_stem(model)} · partitions ({backend}, min_block_size={min_block})"
        cancel = threading.Event()
        self._partition_cancel = cancel
        self.job = None
        self.job_status = JobStatus(state="running", phase="judging the model with the ONNX parser",
                                    message=f"{label}: starting", started=time.time())
        self._job_ended = threading.Event()
        ended = self._job_ended
        self.message("build", None)
        self.emit("job")
        engine = [0, 0]  # k of n, the engine being built

        def on_engine(k: int, n: int) -> None:
            engine[:] = [k, n]
            self.job_status.phase, self.job_status.step, self.job_status.total = f"engine {k} of {n}", 0, 0
            self.emit("job")

        def on_progress(phase: str, step: int, total: int) -> None:
            st = self.job_status
            if st.state != "running" or cancel.is_set():
                return
            st.phase = f"engine {engine[0]} of {engine[1]}: {phase}"
            st.step, st.total = step, total
            self.emit("job")

        def run() -> None:
            from ..backends.jobs.partitions import build_partitions

            try:
                result = build_partitions(path, backend=backend, min_block_size=min_block, on_engine=on_engine,
                                          on_progress=on_progress, cancel=cancel, **kept)
                self._partitions_done(result, label, backend, kept, model, cancel.is_set())
            except Exception as exc:  # noqa: BLE001 - a message in the widget, never a dead kernel
                self.job_status = JobStatus(state="failed", message=f"{label} failed: {describe_error(exc)}",
                                            started=self.job_status.started, finished=time.time())
                self.message("build", self.job_status.message)
                self.emit("job")
            finally:
                ended.set()

        threading.Thread(target=run, name="explorer-partitions", daemon=True).start()
        return True

    def _partitions_done(self, result, label: str, backend: str, options: dict, model: str | None,
                         cancelled: bool) -> None:
        """Every engine built becomes a build (the last one current); the summary is kept in ``partitioned``."""
        session = PartitionedSession(result=result, model=model, cancelled=cancelled)
        engines = result.engines
        n = len(engines)
        precision = options.get("precision") or "fp32"
        stem = model_stem(model)
        built = [(k, eng) for k, eng in enumerate(engines, 1) if eng.report is not None]
        for k, eng in built:
            build = self.add_report(eng.report, name=f"{stem} · partition {k}/{n}: {backend} {precision}",
                                    kind="build", backend=eng.report.backend or backend,
                                    options={**options, "model": model, "partition": eng.partition.index,
                                             "min_block_size": result.min_block_size},
                                    source=_report_source(eng.report), make_current=k == built[-1][0])
            session.names[eng.partition.index] = build.name
        self.partitioned = session
        failed = [eng for eng in engines if eng.report is None]
        st = self.job_status
        took = time.time() - (st.started or time.time())
        words = (f"{label}: {len(built)} of {n} engine(s) built in {took:.1f} s, "
                 f"{len(result.framework)} node(s) left to the framework")
        if failed:
            words += f"; {len(failed)} engine(s) failed (see the summary)"
        self.job_status = JobStatus(state="cancelled" if cancelled else "done", phase="done",
                                    step=max(n, 1), total=max(n, 1),
                                    message=(f"{label}: cancelled after {len(built)} engine(s)" if cancelled
                                             else words), started=st.started, finished=time.time())
        self.emit("builds")
        self.emit("job")

    def _build_name(self, backend: str, options: dict) -> str:
        """``resnet18 · build 2: onnxruntime fp16``: the model, then the number among this model's builds (a
        failed or cancelled build adds none, so it takes no number), then backend and precision."""
        precision = options.get("precision") or "fp32"
        n = 1 + sum(1 for b in self.builds_of() if b.kind == "build")
        stem = model_stem(self.model_label)
        while any(k.startswith(f"{stem} · build {n}: ") for k in self.builds):
            n += 1
        return f"{stem} · build {n}: {backend} {precision}"

    def _progress(self, job) -> None:
        if job is not self.job or self.job_status.state != "running" or job.progress is None:
            return
        progress = job.progress
        st = self.job_status
        if (progress.phase, progress.step, progress.total) != (st.phase, st.step, st.total):
            st.phase = progress.phase or st.phase
            st.step, st.total = progress.step, progress.total
            self.emit("job")

    def _finished(self, job, label: str, backend: str, options: dict, model: str | None = None) -> None:
        """Record how the job ended (on the job's thread): a new build, or why there is none."""
        from ..backends.jobs import BuildCancelled

        ended = self._job_ended
        try:
            st = self.job_status
            log = "\n".join(job.log)
            error = job.exception()
            if error is not None:
                cancelled = isinstance(error, BuildCancelled) or job.cancelled
                self.job_status = JobStatus(
                    state="cancelled" if cancelled else "failed",
                    phase=st.phase, step=st.step, total=st.total,
                    message=f"{label}: cancelled" if cancelled else f"{label} failed: {describe_error(error)}",
                    log=log, started=st.started, finished=time.time())
                if not cancelled:
                    self.message("build", self.job_status.message)
                self.emit("job")
                return
            report = job.result()
            took = time.time() - (st.started or time.time())
            actual_backend = report.backend or backend
            if backend == "auto" and name_is_generated(label) and ": auto " in label:
                label = label.replace(": auto ", f": {actual_backend} ", 1)
            self.job_status = JobStatus(state="done", phase="done", step=max(st.total, 1), total=max(st.total, 1),
                                        message=f"{label}: done in {took:.1f} s", log=log, started=st.started,
                                        finished=time.time())
            options = {**options, "model": model if model is not None else self.model_label}
            # the newest build becomes the current one, whatever was picked while it ran
            self.add_report(report, name=label, kind="build", backend=actual_backend, options=options,
                            log=log, source=_report_source(report))
            self.emit("job")
        except Exception as exc:  # noqa: BLE001 - never lose the app to a view's failure
            self.job_status = JobStatus(state="failed", message=f"{label}: {describe_error(exc)}",
                                        finished=time.time())
            self.message("build", self.job_status.message)
        finally:
            if ended is not None:
                ended.set()

    def cancel_build(self) -> bool:
        job = self.job
        if self.building and self._partition_cancel is not None and job is None:
            # a partitioned build: the event stops the running engine's job and the loop before the next
            self._partition_cancel.set()
            self.job_status.phase = "cancelling"
            self.job_status.message = "cancelling..."
            self.emit("job")
            return True
        if job is None or not self.building:
            self.message("build", "no build is running", level="info")
            return False
        try:
            job.cancel()
        except Exception as exc:  # noqa: BLE001
            self.message("build", f"cancel failed: {describe_error(exc)}")
            return False
        self.job_status.phase = "cancelling"
        self.job_status.message = "cancelling..."
        self.emit("job")
        return True

    def wait_build(self, timeout: float | None = None) -> JobStatus:
        """Block until the running build has ended and its result is recorded (for scripts and tests)."""
        ended = self._job_ended
        if ended is not None:
            ended.wait(timeout)
        return self.job_status

    # ------------------------------------------------------------------ selection
    def select_node(self, node_id: str | None, origin: str = "") -> None:
        layer = None
        if node_id is not None:
            layers = self.layers_for_node(node_id)
            layer = layers[0].name if layers else None
        self.selection = Selection(node=node_id, layer=layer, origin=origin)
        self.emit("selection")

    def select_layer(self, name: str | None, origin: str = "") -> None:
        node = None
        build = self.current_build
        if name is not None and build is not None:
            for layer in build.report.layers:
                if layer.name == name and layer.onnx_nodes:
                    node = layer.onnx_nodes[0]
                    break
        self.selection = Selection(node=node, layer=name, origin=origin)
        self.emit("selection")

    def selected_nodes(self) -> list[str]:
        """Every ONNX node the selection stands for (a layer: all nodes it fused)."""
        sel = self.selection
        build = self.current_build
        if sel.layer and build is not None:
            for layer in build.report.layers:
                if layer.name == sel.layer:
                    return list(layer.onnx_nodes) or ([sel.node] if sel.node else [])
        return [sel.node] if sel.node else []

    def layers_for_node(self, node_id: str) -> list:
        build = self.current_build
        if build is None:
            return []
        return [layer for layer in build.report.layers if node_id in (layer.onnx_nodes or [])]

    def fusion_for_node(self, node_id: str):
        for group in self.fusions or []:
            if node_id in [getattr(n, "id", n) for n in getattr(group, "nodes", [])]:
                return group
        return None

    # ------------------------------------------------------------------ cleanup
    def close(self) -> None:
        if self._partition_cancel is not None:
            self._partition_cancel.set()
        if self.building and self.job is not None:
            try:
                self.job.cancel()
            except Exception:  # noqa: BLE001
                pass
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        self._listeners.clear()


# ---------------------------------------------------------------------------------------------- helpers

def load_engine_report(*, model=None, graph=None, profile=None, times=None, log=None, artifact=None, engine=None):
    """trtexec artifacts -> EngineReport (:func:`explorer.engine.load_report`), mapped onto ``model``."""
    from ..engine import load_report

    kwargs = {k: v for k, v in dict(graph=graph, profile=profile, times=times, log=log, artifact=artifact,
                                    engine=engine).items() if v is not None}
    return load_report(model=model, **kwargs)


def _report_source(report) -> str:
    sources = list(getattr(report, "sources", []) or [])
    return "; ".join(str(s) for s in sources) if sources else "engine report"


def _artifact_name(path) -> str:
    base = os.path.basename(os.path.normpath(os.fspath(path)))
    for suffix in (".graph.json", ".profile.json", ".timing.json", ".build.log", ".log", ".json", ".trace"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _short(value, limit: int = 80) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    text = os.path.basename(os.fspath(value)) if isinstance(value, (str, os.PathLike)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_stem(label: str | None) -> str:
    """``"resnet18.onnx"`` -> ``"resnet18"``: how a build name says which model it is of."""
    if not label:
        return "model"
    return label[:-5] if label.lower().endswith(".onnx") else label


_GENERATED = re.compile(r"^.+ · build \d+: ")


def name_is_generated(name: str) -> bool:
    """Whether a build name is one :meth:`ExplorerState.start_build` made up (``resnet18 · build 2: ...``)."""
    return bool(_GENERATED.match(name))
