"""Build an engine - TensorRT when it can run here, ONNX Runtime otherwise - in a worker process.

    import explorer
    report = explorer.build("model.onnx", precision="fp16", runs=50)       # blocks; an EngineReport
    job = explorer.start_build("model.onnx", backend="onnxruntime")        # returns at once
    job.add_progress_callback(lambda phase, step, total: print(phase, step, total))
    job.cancel()                                                           # really stops the worker
    job.result()                                                           # report, or raises BuildError

Why a worker process: a TensorRT build can take minutes, use all host memory or crash (a segfault in a
plugin, the OOM killer); none of that may take the caller - a Jupyter kernel - with it. The worker is
``python -m explorer.backends.build --worker``: the parent writes one JSON request (model path + settings)
on its stdin and reads JSON lines (progress, then a result or an error) from a private copy of its stdout;
anything native code prints goes to the worker's stderr, which becomes :attr:`BuildJob.log`. Cancelling
writes ``cancel`` to the worker's stdin (checked between phases and runs, and TensorRT's progress monitor
stops the build); a worker that does not stop within :data:`CANCEL_GRACE_S` is terminated, then killed.
The worker returns plain dicts; the :class:`BuildReport` is made here, in the caller's process.

``backend="auto"`` takes TensorRT when :func:`explorer.backends.tensorrt.available` says it can build
here (the import works and a GPU is visible), else ONNX Runtime; the report says which and why
(:attr:`BuildReport.backend_reason`, its notes, and ``settings["backend_reason"]``). The availability
check runs in the worker too, so the caller never loads CUDA.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..engine.report import (BuildReport, LatencySummary, Layer, MemoryReport, Percentiles,
                             ProfiledLatency, TacticRecord, TensorDesc)
from ..errors import BuildError, ExplorerError
from . import MAX_DURATION_S, MAX_TIMED_RUNS
from .tensorrt import TensorRTBuildResult, report_from_tensorrt

BACKENDS = ("auto", "tensorrt", "onnxruntime")
PRECISIONS = ("fp32", "fp16", "bf16", "int8")

#: seconds a cancelled worker gets to stop by itself before it is terminated (then killed as long again)
CANCEL_GRACE_S = 2.0
#: lines of the worker's stderr kept in :attr:`BuildJob.log`
LOG_LINES = 5000
#: the worker reports progress at most this often within a phase (its first and last steps always)
PROGRESS_INTERVAL_S = 0.05

ProgressCallback = Callable[[str, int, int], None]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

try:  # one cancellation class for the package: TensorRT's own, when its module imports
    from .tensorrt import BuildCancelled as _CancelledBase
except Exception:  # pragma: no cover - the colleague module is optional
    _CancelledBase = BuildError


class BuildCancelled(_CancelledBase):
    """The build was cancelled (``job.cancel()``, the ``cancel`` event, or Ctrl-C)."""


# --------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------

Shape = tuple[int, ...]


@dataclass
class BuildSettings:
    """What to build, validated; plain data that crosses to the worker as JSON.

    ``shapes``: input name -> (min, opt, max) shapes (one optimization profile). ONNX Runtime runs the opt
    shape; TensorRT builds for the whole range. ``workspace`` in bytes; ``timing_cache`` a file path
    (TensorRT). ``providers``: ONNX Runtime execution providers (default: TensorRT, CUDA when present, then
    CPU). ``seed``: of the random inputs.
    """

    backend: str = "auto"
    precision: str = "fp32"
    opt_level: int = 3
    workspace: int | None = None
    shapes: dict[str, tuple[Shape, Shape, Shape]] = field(default_factory=dict)
    timing_cache: str | None = None
    runs: int = 20
    warmup: int = 5
    providers: list[str] | None = None
    seed: int = 0
    duration: float = 0.0

    @classmethod
    def make(cls, backend: str = "auto", precision: str = "fp32", opt_level: int = 3, workspace: int | None = None,
             shapes: Mapping[str, Any] | None = None, timing_cache: str | os.PathLike | None = None, runs: int = 20,
             warmup: int = 5, providers: Sequence[str] | None = None, seed: int = 0,
             duration: float = 0.0) -> "BuildSettings":
        """Check and normalise user input; raises :class:`BuildError` saying what is wrong."""
        backend = str(backend).lower()
        if backend not in BACKENDS:
            raise BuildError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        precision = str(precision).lower()
        if precision not in PRECISIONS:
            raise BuildError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        level = _int_setting("opt_level", opt_level, 0, 5)
        runs = _int_setting("runs", runs, 1, MAX_TIMED_RUNS)
        warmup = _int_setting("warmup", warmup, 0, MAX_TIMED_RUNS)
        try:
            seconds = float(duration or 0.0)
        except (TypeError, ValueError):
            raise BuildError(f"duration must be a number of seconds, got {duration!r}") from None
        if not 0.0 <= seconds <= MAX_DURATION_S:
            raise BuildError(f"duration must be 0..{MAX_DURATION_S:.0f} seconds, got {duration!r}")
        if workspace is not None:
            workspace = _int_setting("workspace", workspace, 1, None)
        if timing_cache is not None:
            timing_cache = os.fspath(timing_cache)
        return cls(backend=backend, precision=precision, opt_level=level, workspace=workspace,
                   shapes=normalize_shapes(shapes), timing_cache=timing_cache, runs=runs, warmup=warmup,
                   providers=list(providers) if providers else None, seed=int(seed), duration=seconds)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shapes"] = {k: [list(s) for s in v] for k, v in self.shapes.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BuildSettings":
        values = dict(data)
        values["shapes"] = {k: tuple(tuple(int(d) for d in s) for s in v) for k, v in (data.get("shapes") or {}).items()}
        return cls(**values)


def _int_setting(name: str, value: Any, low: int, high: int | None) -> int:
    try:
        number = int(value)
        if number != value and not isinstance(value, str):
            raise ValueError
    except (TypeError, ValueError):
        raise BuildError(f"{name} must be an integer, got {value!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise BuildError(f"{name} must be {bounds}, got {number}")
    return number


def parse_shape(text: str) -> Shape:
    """``"1x3x224x224"`` -> (1, 3, 224, 224); ``""`` -> () (a scalar)."""
    text = str(text).strip()
    if not text:
        return ()
    dims = []
    for part in text.lower().split("x"):
        part = part.strip()
        try:
            dims.append(int(part))
        except ValueError:
            raise BuildError(f"bad shape {text!r}: {part!r} is not an integer (write dimensions like 1x3x224x224)"
                             ) from None
    return tuple(dims)


def normalize_shapes(shapes: Mapping[str, Any] | None) -> dict[str, tuple[Shape, Shape, Shape]]:
    """``{input: shape}`` or ``{input: (min, opt, max)}``, each shape a tuple of ints or ``"1x3x224x224"``
    -> ``{input: (min, opt, max)}``; checks dimensions are >= 0, ranks agree and min <= opt <= max."""
    if not shapes:
        return {}
    if not isinstance(shapes, Mapping):
        raise BuildError(f"shapes must be a dict {{input name: shape}}, got {type(shapes).__name__}")
    out: dict[str, tuple[Shape, Shape, Shape]] = {}
    for name, value in shapes.items():
        triple = _as_triple(name, value)
        for shape in triple:
            bad = [d for d in shape if d < 0]
            if bad:
                raise BuildError(f"shape of input {name!r} has a negative dimension ({bad[0]}): "
                                 f"{'x'.join(str(d) for d in shape)}", hint="dimensions are sizes: 0 or more")
        lo, opt, hi = triple
        if not len(lo) == len(opt) == len(hi):
            raise BuildError(f"min, opt and max shapes of input {name!r} have different ranks: {lo}, {opt}, {hi}")
        if any(not a <= b <= c for a, b, c in zip(lo, opt, hi)):
            raise BuildError(f"shapes of input {name!r} must satisfy min <= opt <= max in every dimension, "
                             f"got {lo}, {opt}, {hi}")
        out[str(name)] = triple
    return out


def _as_triple(name: str, value: Any) -> tuple[Shape, Shape, Shape]:
    if isinstance(value, str):
        parts = [p for p in value.split(",")]
        if len(parts) == 3:
            return tuple(parse_shape(p) for p in parts)  # type: ignore[return-value]
        if len(parts) == 1:
            shape = parse_shape(value)
            return shape, shape, shape
        raise BuildError(f"shape of input {name!r}: give one shape or three (min,opt,max), got {value!r}")
    if isinstance(value, Mapping):
        try:
            return tuple(_one_shape(name, value[k]) for k in ("min", "opt", "max"))  # type: ignore[return-value]
        except KeyError:
            raise BuildError(f"shape of input {name!r}: a dict needs 'min', 'opt' and 'max'") from None
    if isinstance(value, (list, tuple)):
        if len(value) == 3 and all(isinstance(v, (list, tuple, str)) for v in value):
            return tuple(_one_shape(name, v) for v in value)  # type: ignore[return-value]
        shape = _one_shape(name, value)
        return shape, shape, shape
    raise BuildError(f"shape of input {name!r} must be a tuple of ints, '1x3x224x224' or (min, opt, max), "
                     f"got {value!r}")


def _one_shape(name: str, value: Any) -> Shape:
    if isinstance(value, str):
        return parse_shape(value)
    try:
        dims = tuple(int(d) for d in value)
    except (TypeError, ValueError):
        raise BuildError(f"shape of input {name!r} must contain integers, got {value!r}") from None
    if any(isinstance(d, float) and not float(d).is_integer() for d in value):
        raise BuildError(f"shape of input {name!r} must contain integers, got {value!r}")
    return dims


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------

def build(model: Any, backend: str = "auto", precision: str = "fp32", opt_level: int = 3,
          workspace: int | None = None, shapes: Mapping[str, Any] | None = None,
          timing_cache: str | os.PathLike | None = None, runs: int = 20, warmup: int = 5,
          on_progress: ProgressCallback | None = None, cancel: Any = None, *,
          providers: Sequence[str] | None = None, seed: int = 0, duration: float = 0.0) -> BuildReport:
    """Build and profile ``model`` (a path, bytes, ``onnx.ModelProto`` or :class:`explorer.Model`) in a
    worker process; returns a :class:`BuildReport` (an :class:`~explorer.engine.report.EngineReport`).

    ``backend``: "auto" (TensorRT when it can build here, else ONNX Runtime), "tensorrt", "onnxruntime".
    ``precision``: "fp32", "fp16", "bf16" (converted model) or "int8" (Q/DQ: the model's own, else
    ``quantize_static`` with random calibration - for exploring, not accuracy). ``opt_level``: 0-5
    (TensorRT's builder optimization level; for ONNX Runtime 0 / 1 / 2 / 3+ = DISABLE_ALL / BASIC / EXTENDED
    / ALL). ``shapes``: ``{input: shape}`` or ``{input: (min, opt, max)}``. ``runs`` timed runs after
    ``warmup`` untimed ones, and with ``duration`` (seconds) on until that much time has passed, as trtexec's
    ``--iterations`` and ``--duration`` (a microsecond model needs thousands of runs for steady per-layer
    figures). ``on_progress(phase, step, total)``; ``cancel``: a ``threading.Event`` (or
    anything with ``is_set()``) that stops the build. Raises :class:`BuildError` (``BuildCancelled`` when
    cancelled) carrying the backend's own message.
    """
    job = start_build(model, backend=backend, precision=precision, opt_level=opt_level, workspace=workspace,
                      shapes=shapes, timing_cache=timing_cache, runs=runs, warmup=warmup, on_progress=on_progress,
                      cancel=cancel, providers=providers, seed=seed, duration=duration)
    return job.result()


def start_build(model: Any, backend: str = "auto", precision: str = "fp32", opt_level: int = 3,
                workspace: int | None = None, shapes: Mapping[str, Any] | None = None,
                timing_cache: str | os.PathLike | None = None, runs: int = 20, warmup: int = 5,
                on_progress: ProgressCallback | None = None, cancel: Any = None, *,
                providers: Sequence[str] | None = None, seed: int = 0, duration: float = 0.0) -> "BuildJob":
    """Start :func:`build` and return at once with a :class:`BuildJob` (for widgets and notebooks).

    Bad settings raise :class:`BuildError` here, before any process starts.
    """
    settings = BuildSettings.make(backend=backend, precision=precision, opt_level=opt_level, workspace=workspace,
                                  shapes=shapes, timing_cache=timing_cache, runs=runs, warmup=warmup,
                                  providers=providers, seed=seed, duration=duration)
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise BuildError(f"cancel must be a threading.Event (or have is_set()), got {type(cancel).__name__}")
    model_path, temp_dir = _model_file(model)
    job = BuildJob(model_path, settings, cancel=cancel, temp_dir=temp_dir)
    if on_progress is not None:
        job.add_progress_callback(on_progress)
    job._start()
    return job


def _model_file(model: Any) -> tuple[str, str | None]:
    """A path the worker can read: the model's own file, else a temporary copy (returned for cleanup)."""
    import onnx

    from ..model import Model

    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise BuildError("model file not found", file=path)
        if os.path.isdir(path):
            raise BuildError("is a directory, not an ONNX file", file=path)
        return os.path.abspath(path), None
    if isinstance(model, Model):
        if model.path and os.path.isfile(model.path):
            return os.path.abspath(model.path), None
        if model.proto is None:
            raise BuildError("this Model has neither a file nor its ModelProto; load it with explorer.load_model")
        proto = model.proto
        data = None
    elif isinstance(model, onnx.ModelProto):
        proto, data = model, None
    elif isinstance(model, (bytes, bytearray, memoryview)):
        proto, data = None, bytes(model)
    else:
        raise BuildError(f"cannot build from {type(model).__name__}; give a path, bytes, onnx.ModelProto or "
                         "explorer.Model")
    temp_dir = tempfile.mkdtemp(prefix="explorer-model-")
    path = os.path.join(temp_dir, "model.onnx")
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    elif proto.ByteSize() < 1_800_000_000:
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
    else:
        onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data")
    return path, temp_dir


class BuildJob:
    """A build running in a worker process, watched by a background thread of the caller.

    ``job.progress`` is the latest ``(phase, step, total)``; ``job.log`` the worker's log lines so far;
    ``job.cancel()`` stops it; ``job.result(timeout)`` waits and returns the :class:`BuildReport` or raises
    the :class:`BuildError`. Progress callbacks run on the watcher thread.
    """

    def __init__(self, model_path: str, settings: BuildSettings, *, cancel: Any = None,
                 temp_dir: str | None = None) -> None:
        self.model_path = model_path
        self.settings = settings
        self.progress: tuple[str, int, int] | None = None
        self.pid: int | None = None
        self.returncode: int | None = None  # the worker's exit code; 0 when it stays alive for the next build
        self.reused_worker = False  # True when an idle worker of an earlier build ran this one
        self._timed_out = False
        self.started_at: float | None = None
        self.timings: dict[str, float] = {}
        self._external_cancel = cancel
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._callbacks: list[ProgressCallback] = []
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._lock = threading.Lock()
        self._result: BuildReport | None = None
        self._error: BaseException | None = None
        self._temp_dir = temp_dir
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    # -- public -----------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the build to stop; the worker is terminated if it does not stop within CANCEL_GRACE_S."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set() or self._external_cancelled()

    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> BuildReport:
        """The report; raises the build's BuildError, or TimeoutError when ``timeout`` passes first."""
        try:
            finished = self._done.wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait(2 * CANCEL_GRACE_S + 2)
            raise
        if not finished:
            self._timed_out = True  # its worker is not kept for another build, whatever happens next
            raise TimeoutError(f"the build is still running after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def exception(self) -> BaseException | None:
        """The error the build ended with (None while running or after success)."""
        return self._error

    def add_progress_callback(self, fn: ProgressCallback) -> None:
        with self._lock:
            self._callbacks.append(fn)

    @property
    def log(self) -> list[str]:
        with self._lock:
            return list(self._log)

    def __repr__(self) -> str:
        state = "done" if self.done() else ("cancelling" if self.cancelled else "running")
        return f"<BuildJob {os.path.basename(self.model_path)} {self.settings.backend} {state} progress={self.progress}>"

    # -- the watcher thread ---------------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="explorer-build", daemon=True)
        self._thread.start()

    def _external_cancelled(self) -> bool:
        event = self._external_cancel
        if event is None:
            return False
        try:
            return bool(event.is_set())
        except Exception:
            return False

    def _run(self) -> None:
        t0 = time.perf_counter()
        self.started_at = time.time()
        workdir = None
        try:
            workdir = tempfile.mkdtemp(prefix="explorer-build-")
            outcome = self._talk_to_worker(workdir)
            t_report = time.perf_counter()
            self._result = self._make_report(outcome)
            self.timings["report_s"] = time.perf_counter() - t_report
            self.timings["wall_s"] = time.perf_counter() - t0
            self._result.timings.update({k: round(v, 6) for k, v in self.timings.items()})
        except BaseException as exc:  # delivered by result()
            if not isinstance(exc, ExplorerError):
                exc = BuildError(f"the build failed: {type(exc).__name__}: {exc}")
            self._error = exc
        finally:
            for folder in (workdir, self._temp_dir):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
            self._done.set()

    def _talk_to_worker(self, workdir: str) -> dict[str, Any]:
        request = {"model": self.model_path, "settings": self.settings.to_dict(), "workdir": workdir}
        t_spawn = time.perf_counter()
        env = _worker_env()
        worker = _take_idle_worker(env)
        reused = worker is not None
        if worker is None:
            worker = _Worker.spawn(env)
        while True:
            outcome = self._converse(worker, request, reused, t_spawn)
            if outcome is not _RETRY:
                return outcome
            # the idle worker had died (killed, OOM, its idle timeout) before it took the request: a new one
            self._append_log(f"[explorer] the idle build worker (pid {worker.pid}) had exited "
                             f"({_exit_words(worker.process.returncode)}) before taking this build: starting a new one")
            worker = _Worker.spawn(env)
            reused = False

    def _converse(self, worker: "_Worker", request: dict[str, Any], reused: bool, t_spawn: float) -> Any:
        process = worker.process
        self._process = process
        self.pid = process.pid
        self.reused_worker = reused
        self.timings["worker_reused"] = 1.0 if reused else 0.0
        worker.attach(self)
        try:
            assert process.stdin is not None
            process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            process.stdin.flush()
        except (OSError, ValueError):
            pass  # the worker died: its exit code says why, below

        accepted = False
        final: dict[str, Any] | None = None
        cancel_sent_at: float | None = None
        terminated_at: float | None = None
        ended_at: float | None = None  # when an error / cancelled answer came: the worker exits by itself
        while True:
            try:
                message = worker.messages.get(timeout=0.05)
            except queue.Empty:
                message = None
            if message is not None:
                kind = message.get("type")
                if kind == "accepted":
                    accepted = True
                    self.timings["worker_start_s"] = time.perf_counter() - t_spawn
                elif kind in ("result", "error", "cancelled"):
                    accepted = True
                    final = message
                    if kind != "result":
                        ended_at = time.monotonic()
                if not (final is not None and final["type"] == "result"):
                    continue  # read everything that is there before looking at the process
            if final is not None and final["type"] == "result" and not self.cancelled:
                break  # the worker stays alive for the next build
            if process.poll() is not None:
                break
            now = time.monotonic()
            if self.cancelled:
                if cancel_sent_at is None:
                    cancel_sent_at = now
                    self._send(process, "cancel")
                elif terminated_at is None and now - cancel_sent_at > CANCEL_GRACE_S:
                    terminated_at = now
                    self._append_log("[explorer] the worker did not stop after the cancel request: terminating it")
                    _signal(process, signal.SIGTERM)
                elif terminated_at is not None and now - terminated_at > CANCEL_GRACE_S:
                    self._append_log("[explorer] the worker ignored SIGTERM: killing it")
                    _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            elif ended_at is not None and now - ended_at > CANCEL_GRACE_S:
                _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))  # answered, then hung on its way out

        self.timings["worker_process_s"] = time.perf_counter() - t_spawn
        if final is not None and final["type"] == "result" and not self.cancelled:
            worker.detach(self, wait_for_log=True)
            self.returncode = 0  # a success: the worker lives on, idle, for the next build
            if self._timed_out:
                worker.close(wait=CANCEL_GRACE_S)  # result(timeout) gave up on it once: not kept
            else:
                _release_worker(worker)
            return final

        # anything else ends this worker: never reuse one after a cancel, a kill, an error or a crash
        if process.poll() is None:
            worker.close(wait=0)
            try:
                process.wait(timeout=CANCEL_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))
                process.wait()
        worker.join_readers()  # the worker is gone: its pipes drain to their end
        while True:  # answers read after the process ended
            try:
                message = worker.messages.get_nowait()
            except queue.Empty:
                break
            if message.get("type") == "accepted":
                accepted = True
            elif message.get("type") in ("result", "error", "cancelled"):
                accepted, final = True, message
        worker.detach(self)
        self.returncode = process.returncode
        if not accepted and reused and not self.cancelled:
            return _RETRY
        if self.cancelled or (final is not None and final["type"] == "cancelled"):
            raise BuildCancelled("build cancelled", file=self.model_path)
        if final is not None and final["type"] == "result":
            return final
        if final is not None and final["type"] == "error":
            raise BuildError(final.get("problem") or "the build failed", file=final.get("file"),
                             where=final.get("where"), hint=final.get("hint"))
        raise BuildError(_crash_message(process.returncode, self.log), file=self.model_path,
                         hint="see job.log for the worker's last words")

    def _send(self, process: subprocess.Popen, line: str) -> None:
        try:
            assert process.stdin is not None
            process.stdin.write((line + "\n").encode("utf-8"))
            process.stdin.flush()
        except (OSError, ValueError):
            pass

    def _append_log(self, line: str) -> None:
        line = _ANSI.sub("", line)  # ONNX Runtime colours its log lines
        with self._lock:
            self._log.append(line)

    def _deliver_progress(self, phase: str, step: int, total: int) -> None:
        self.progress = (phase, step, total)
        with self._lock:
            callbacks = list(self._callbacks)
        for fn in callbacks:
            try:
                fn(phase, step, total)
            except Exception as exc:  # a broken callback must not break the build
                self._append_log(f"[explorer] progress callback failed: {type(exc).__name__}: {exc}")

    def _make_report(self, outcome: dict[str, Any]) -> BuildReport:
        result = outcome["result"]
        try:
            if result.get("backend") == "tensorrt":
                return report_from_tensorrt(TensorRTBuildResult.from_dict(result), self.model_path)
            from .onnxruntime import OrtBuildResult, report_from_onnxruntime

            return report_from_onnxruntime(OrtBuildResult.from_dict(result))
        except ExplorerError:
            raise
        except Exception as exc:
            raise BuildError(f"the build finished but its report could not be made: {type(exc).__name__}: {exc}"
                             ) from exc


# --------------------------------------------------------------------------------------------------------
# Worker processes: a warm one is reused
# --------------------------------------------------------------------------------------------------------
#
# Starting a worker (Python, then numpy / onnx / onnxruntime imported by the first build) costs a few tenths
# of a second, more than a small model's whole build. So a worker whose build succeeded stays alive, idle,
# waiting for the next request on its stdin, and the next build uses it instead of spawning one. Only a
# success keeps a worker: after a cancel, a kill, a timeout, an error or a crash it is discarded. At most
# one idle worker is kept (concurrent builds each get their own); it exits when its stdin closes (the
# parent is gone, or :func:`shutdown_idle_worker` at exit) or after :data:`WORKER_IDLE_TIMEOUT_S` idle.

#: an idle worker exits by itself after this many seconds without a request
WORKER_IDLE_TIMEOUT_S = 600.0
#: set to False to start a fresh worker for every build
REUSE_WORKERS = True
#: the line a worker writes to its stderr when a build's log is complete (the parent splits logs on it)
_LOG_END = "\x00explorer-build-log-end"
_RETRY = object()


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    from .onnxruntime import SHARED_POOL_ENV  # (imports no onnxruntime)

    env[SHARED_POOL_ENV] = "1"  # see explorer.backends.onnxruntime.shared_thread_pool
    return env


def _env_key(env: Mapping[str, str]) -> tuple:
    """What a worker was started with: a worker is reused only by builds that would start the same one."""
    return (sys.executable, tuple(sorted(env.items())))


class _Worker:
    """A worker process and the two threads that read it; its output goes to the job it is attached to."""

    def __init__(self, process: subprocess.Popen, env: Mapping[str, str]) -> None:
        self.process = process
        self.pid = process.pid
        self.env_key = _env_key(env)
        self.messages: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self._job: BuildJob | None = None
        self._lock = threading.Lock()
        self._log_end = threading.Event()
        self._readers = [threading.Thread(target=self._read_protocol, daemon=True, name="explorer-build-protocol"),
                         threading.Thread(target=self._read_log, daemon=True, name="explorer-build-log")]
        for reader in self._readers:
            reader.start()

    @classmethod
    def spawn(cls, env: Mapping[str, str]) -> "_Worker":
        try:
            process = subprocess.Popen([sys.executable, "-m", "explorer.backends.build", "--worker"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env=dict(env), start_new_session=True)
        except OSError as exc:
            raise BuildError(f"could not start the build worker ({sys.executable}): {exc}") from None
        return cls(process, env)

    def attach(self, job: "BuildJob") -> None:
        with self._lock:
            self._job = job
            self._log_end.clear()
            while True:  # nothing of an earlier build may reach this one
                try:
                    self.messages.get_nowait()
                except queue.Empty:
                    break

    def detach(self, job: "BuildJob", wait_for_log: bool = False) -> None:
        if wait_for_log:  # the stderr pipe is read separately: wait for the end of this build's log
            self._log_end.wait(2.0)
        with self._lock:
            if self._job is job:
                self._job = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, wait: float = 1.0) -> None:
        """Close its stdin (it exits at EOF); kill it if it is still there after ``wait`` seconds."""
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except OSError:
            pass
        if wait > 0:
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                _signal(self.process, getattr(signal, "SIGKILL", signal.SIGTERM))
                try:
                    self.process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    pass

    def join_readers(self, timeout: float = 60.0) -> None:
        for reader in self._readers:
            reader.join(timeout=timeout)

    def _current(self) -> "BuildJob | None":
        with self._lock:
            return self._job

    def _read_protocol(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            job = self._current()
            try:
                message = json.loads(raw)
            except ValueError:
                if job is not None:
                    job._append_log(raw.decode("utf-8", "replace").rstrip("\n"))
                continue
            if message.get("type") == "progress":
                if job is not None:
                    job._deliver_progress(message["phase"], int(message["step"]), int(message["total"]))
            else:
                self.messages.put(message)

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.endswith(_LOG_END):
                head = line[: -len(_LOG_END)]
                job = self._current()
                if head and job is not None:
                    job._append_log(head)
                self._log_end.set()
                continue
            job = self._current()
            if job is not None:  # an idle worker's output (none is expected) belongs to no build
                job._append_log(line)


_idle_lock = threading.Lock()
_idle_worker: _Worker | None = None


def _take_idle_worker(env: Mapping[str, str]) -> _Worker | None:
    """The idle worker, if there is one started with this environment and still alive."""
    global _idle_worker
    with _idle_lock:
        worker, _idle_worker = _idle_worker, None
    if worker is None:
        return None
    if REUSE_WORKERS and worker.alive() and worker.env_key == _env_key(env):
        return worker
    worker.close(wait=0.5)
    worker.join_readers(timeout=1.0)
    return None


def _release_worker(worker: _Worker) -> None:
    """Keep a worker whose build succeeded as the idle one (closing the one kept before, if any)."""
    global _idle_worker
    if not REUSE_WORKERS or not worker.alive():
        worker.close(wait=0.5)
        return
    with _idle_lock:
        previous, _idle_worker = _idle_worker, worker
    if previous is not None:
        previous.close(wait=0.5)


def prestart(backend: str = "onnxruntime") -> int | None:
    """Start the build worker now, in the background, so that the next build finds it warm.

    The worker starts Python, imports its libraries and, for ONNX Runtime, sets up the shared thread pool and
    measures the profiler's overhead (see :func:`explorer.backends.onnxruntime.recent_calibration`): about
    0.3 s that a first build would otherwise spend before its first run. Returns at once with the worker's
    pid (the idle one if there already is one); None when workers are not reused."""
    if not REUSE_WORKERS:
        return None
    env = _worker_env()
    with _idle_lock:
        if _idle_worker is not None and _idle_worker.alive() and _idle_worker.env_key == _env_key(env):
            return _idle_worker.pid
    worker = _Worker.spawn(env)
    try:
        assert worker.process.stdin is not None
        worker.process.stdin.write((json.dumps({"type": "prepare", "backend": backend}) + "\n").encode("utf-8"))
        worker.process.stdin.flush()
    except (OSError, ValueError):
        worker.close(wait=0.5)
        return None
    _release_worker(worker)
    return worker.pid


def idle_worker_pid() -> int | None:
    """The pid of the worker kept for the next build, or None."""
    with _idle_lock:
        return _idle_worker.pid if _idle_worker is not None else None


def shutdown_idle_worker() -> None:
    """Stop the idle worker now (it is also stopped at exit, and stops by itself when idle too long)."""
    global _idle_worker
    with _idle_lock:
        worker, _idle_worker = _idle_worker, None
    if worker is not None:
        worker.close(wait=1.0)


atexit.register(shutdown_idle_worker)


def _exit_words(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _signal(process: subprocess.Popen, sig: int) -> None:
    killpg = getattr(os, "killpg", None)
    try:
        if killpg is None:  # no process groups (Windows): the worker alone
            process.kill() if sig == getattr(signal, "SIGKILL", None) else process.terminate()
        else:
            killpg(process.pid, sig)  # the worker leads its own session: its children go too
    except (ProcessLookupError, PermissionError, OSError):
        try:
            process.send_signal(sig)
        except (ProcessLookupError, OSError):
            pass


def _crash_message(returncode: int | None, log: list[str]) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = {"SIGKILL": " (killed: out of memory - the OOM killer - or by another process)",
               "SIGSEGV": " (a segmentation fault in native code)", "SIGABRT": " (native code aborted)",
               "SIGBUS": " (a bus error in native code)"}.get(name, "")
        text = f"the build worker was killed by {name}{why}, exit code {returncode}"
    else:
        text = f"the build worker exited with code {returncode} without a result"
    last = [line for line in log if line.strip()][-3:]
    if last:
        text += "; its last words: " + " | ".join(line.strip()[:300] for line in last)
    return text


# --------------------------------------------------------------------------------------------------------
# The worker (python -m explorer.backends.build --worker)
# --------------------------------------------------------------------------------------------------------

def _worker_main() -> int:
    # The protocol gets a private copy of stdout; fd 1 itself goes to stderr, so whatever native code
    # prints (ONNX Runtime, TensorRT, CUDA) lands in the log instead of corrupting the protocol.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    send_lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        text = json.dumps(message, default=_json_default)
        with send_lock:
            protocol.write(text + "\n")
            protocol.flush()

    requests: "queue.Queue[dict[str, Any] | None]" = queue.Queue()
    state_lock = threading.Lock()
    state: dict[str, Any] = {"cancel": None, "session_options": [], "busy": False}

    def stop_current() -> bool:
        """Cancel the build under way, if any; True when there was one."""
        with state_lock:
            cancel, options, busy = state["cancel"], list(state["session_options"]), state["busy"]
        if cancel is not None:
            cancel.set()
        for so in options:
            try:
                so.set_load_cancellation_flag(True)  # stops ONNX Runtime while it optimizes a big graph
            except Exception:
                pass
        return busy

    def exit_later() -> None:
        time.sleep(30)
        os._exit(3)  # still here long after the cancel or the parent's end: do not linger as an orphan

    def watch_stdin() -> None:
        for command in sys.stdin:
            text = command.strip()
            if not text:
                continue
            if text == "cancel":
                if stop_current():
                    threading.Thread(target=exit_later, daemon=True).start()
                continue
            try:
                requests.put(json.loads(text))
            except ValueError:
                continue
        # EOF: the parent is gone (or closed the idle worker): stop
        if stop_current():
            threading.Thread(target=exit_later, daemon=True).start()
        requests.put(None)

    threading.Thread(target=watch_stdin, daemon=True, name="explorer-worker-stdin").start()

    while True:
        try:
            request = requests.get(timeout=WORKER_IDLE_TIMEOUT_S)
        except queue.Empty:
            break  # idle too long
        if request is None:
            break
        if request.get("type") == "prepare":  # from prestart(): get ready for the first build, answer nothing
            _prepare(request)
            continue
        cancel = threading.Event()
        with state_lock:
            state.update(cancel=cancel, session_options=[], busy=True)
        send({"type": "accepted", "pid": os.getpid()})
        answer = _serve_request(request, send, cancel, state, state_lock)
        with state_lock:
            state.update(cancel=None, session_options=[], busy=False)
        sys.stderr.flush()
        try:  # the end of this build's log, before its answer: the parent waits for it
            os.write(2, (_LOG_END + "\n").encode("utf-8"))
        except OSError:
            pass
        send(answer)
        if answer["type"] != "result" or cancel.is_set():
            break  # only a success keeps a worker
        del answer
        import gc

        gc.collect()
    protocol.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown (ONNX Runtime / CUDA destructors): the result is out


def _prepare(request: Mapping[str, Any]) -> None:
    """What a first ONNX Runtime build would do before its model: imports, the shared thread pool, the
    profiler calibration. Problems are only logged: the build will meet and report them."""
    if request.get("backend", "onnxruntime") not in ("onnxruntime", "auto"):
        return
    try:
        import tempfile

        from . import onnxruntime as ort_backend

        if not ort_backend.available()[0]:
            return
        ort_backend.shared_thread_pool()
        with tempfile.TemporaryDirectory(prefix="explorer-prepare-") as folder:
            ort_backend.recent_calibration(folder)
    except Exception:
        import traceback

        traceback.print_exc()


def _serve_request(request: Mapping[str, Any], send: Callable[[dict[str, Any]], None], cancel: threading.Event,
                   state: dict[str, Any], state_lock: threading.Lock) -> dict[str, Any]:
    """One build in the worker: its answer (result, error or cancelled), progress sent on the way."""
    last = {"phase": None, "at": 0.0}

    def progress(phase: str, step: int, total: int) -> None:
        # at most ~20 messages a second within a phase (plus its first and last step): a message per run
        # of a microsecond model would load the CPUs the timed runs are measured on
        now = time.monotonic()
        if phase == last["phase"] and 0 < step < total and now - last["at"] < PROGRESS_INTERVAL_S:
            return
        last["phase"], last["at"] = phase, now
        send({"type": "progress", "phase": str(phase), "step": int(step), "total": int(total)})

    def remember(so: Any) -> None:
        with state_lock:
            state["session_options"].append(so)
        if cancel.is_set():
            try:
                so.set_load_cancellation_flag(True)
            except Exception:
                pass

    try:
        return {"type": "result", "result": _worker_build(request, progress, cancel, remember)}
    except BaseException as exc:
        from .onnxruntime import Cancelled

        cancelled_types = (Cancelled, BuildCancelled) + ((_CancelledBase,) if _CancelledBase is not BuildError else ())
        if isinstance(exc, cancelled_types) or (cancel.is_set() and isinstance(exc, BuildError)):
            return {"type": "cancelled"}
        if isinstance(exc, ExplorerError):
            return {"type": "error", "problem": exc.problem, "file": exc.file, "where": exc.where, "hint": exc.hint,
                    "class": type(exc).__name__}
        import traceback

        traceback.print_exc()
        return {"type": "error", "problem": f"{type(exc).__name__}: {exc}", "class": type(exc).__name__}


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _worker_build(request: Mapping[str, Any], progress: ProgressCallback, cancel: threading.Event,
                  remember: Callable[[Any], None]) -> dict[str, Any]:
    settings = BuildSettings.from_dict(request["settings"])
    model_path = request["model"]
    workdir = request["workdir"]
    backend, reason = _choose_backend(settings.backend)
    if backend == "tensorrt":
        result = _build_tensorrt(model_path, settings, workdir, progress, cancel)
    else:
        from . import onnxruntime as ort_backend

        options = settings.to_dict()
        ort_result = ort_backend.build(model_path, options, workdir=workdir, on_progress=progress,
                                       cancelled=cancel.is_set, on_session_created=remember)
        ort_result.backend_reason = reason
        return ort_result.to_dict()
    result["backend"] = backend
    result["backend_reason"] = reason
    return result


def _choose_backend(requested: str) -> tuple[str, str]:
    """(backend, why) - checked in the worker, so the caller's process never initialises CUDA."""
    if requested == "onnxruntime":
        return "onnxruntime", "requested"
    try:
        from . import tensorrt as trt_backend

        ok, why = trt_backend.available()
    except Exception as exc:
        ok, why = False, f"explorer.backends.tensorrt could not be used: {type(exc).__name__}: {exc}"
    if requested == "tensorrt":
        if not ok:
            raise BuildError(f"TensorRT is not available here: {why}",
                             hint="build with backend='onnxruntime' (or 'auto'), or import trtexec's exports")
        return "tensorrt", f"requested ({why})"
    if ok:
        return "tensorrt", f"auto: {why}"
    return "onnxruntime", f"auto: TensorRT not available ({why})"


def _build_tensorrt(model_path: str, settings: BuildSettings, workdir: str, progress: ProgressCallback,
                    cancel: threading.Event) -> dict[str, Any]:
    """TensorRT in this worker. Its files (engine, layer JSON, profile, log) go to a folder that outlives the
    build (an engine is worth keeping); int8 without Q/DQ is quantized first, like the ONNX Runtime path."""
    from . import tensorrt as trt_backend

    out_dir = tempfile.mkdtemp(prefix="explorer-trt-")
    build_path = model_path
    notes: list[str] = []
    if settings.precision == "int8":
        build_path, note = _quantized_copy(model_path, settings, out_dir, progress)
        if note:
            notes.append(note)
    trt_settings = trt_backend.TensorRTBuildSettings(
        precision=settings.precision, opt_level=settings.opt_level, workspace=settings.workspace,
        shapes=dict(settings.shapes), timing_cache=settings.timing_cache, runs=settings.runs,
        warmup=settings.warmup, duration=settings.duration, output_dir=out_dir)
    result = trt_backend.build_engine(build_path, trt_settings, on_progress=progress, cancel_event=cancel,
                                      log_path=os.path.join(out_dir, "build.log"))
    result.notes.extend(notes)
    result.output_dir = out_dir
    return result.to_dict()


def _quantized_copy(model_path: str, settings: BuildSettings, out_dir: str,
                    progress: ProgressCallback) -> tuple[str, str | None]:
    import onnx

    from . import onnxruntime as ort_backend

    proto = onnx.load(model_path)
    if ort_backend.has_qdq(proto):
        return model_path, None
    progress("convert", 0, 1)
    shapes, _ = ort_backend.resolve_input_shapes(proto, settings.shapes)
    calibration = [ort_backend.random_inputs(proto, shapes, settings.seed + 1 + i)
                   for i in range(ort_backend.CALIBRATION_BATCHES)]
    quantized, info = ort_backend.quantize_int8(proto, calibration, workdir=out_dir)
    path = os.path.join(out_dir, "model.int8.onnx")
    onnx.save_model(quantized, path)
    progress("convert", 1, 1)
    return path, f"int8: the model had no Q/DQ nodes; {info.tool} added them. {info.note}"


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.exit(_worker_main())
    print("usage: python -m explorer.backends.build --worker   (started by explorer.build; not for people)",
          file=sys.stderr)
    sys.exit(2)
