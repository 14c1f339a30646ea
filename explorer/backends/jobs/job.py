"""The caller's side of a build: :func:`build`, :func:`start_build` and the :class:`BuildJob` they return.

A :class:`BuildJob` is a :class:`concurrent.futures.Future` of the :class:`BuildReport` (``job.future``),
with the build's typed :class:`Progress`, its log and a cancel that really stops the worker. One
background thread per build talks to the worker process (:mod:`.worker`) and completes the future; the
report is made here, in the caller's process, from the plain dicts the worker returns.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ...engine.report import BuildReport
from ...errors import BuildError, ExplorerError
from ..tensorrt import BuildCancelled
from ..onnxruntime import OrtBuildResult, report_from_onnxruntime
from ..tensorrt import TensorRTBuildResult, report_from_tensorrt
from ..settings import BuildSettings
from .worker import (_Worker, _crash_message, _exit_words, _release_worker, _signal, _take_idle_worker,
                     _worker_env)

#: seconds a cancelled worker gets to stop by itself before it is terminated (then killed as long again)
CANCEL_GRACE_S = 2.0
#: lines of the worker's stderr kept in :attr:`BuildJob.log`
LOG_LINES = 5000

ProgressCallback = Callable[[str, int, int], None]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RETRY = object()

#: backend -> how its worker result becomes a BuildReport (in the caller's process)
REPORTS: dict[str, Callable[[Mapping[str, Any], str], BuildReport]] = {
    "onnxruntime": lambda result, model_path: report_from_onnxruntime(OrtBuildResult.from_dict(result)),
    "tensorrt": lambda result, model_path: report_from_tensorrt(TensorRTBuildResult.from_dict(result), model_path),
    "tensorrt-rtx": lambda result, model_path: report_from_tensorrt(TensorRTBuildResult.from_dict(result), model_path),
}


@dataclass(frozen=True)
class Progress:
    """Where a build is: ``step`` of ``total`` in ``phase`` (load, convert, optimize, warmup, profile...)."""

    phase: str
    step: int
    total: int


def build(model: Any, backend: str = "auto", precision: str = "fp32", opt_level: int = 3,
          workspace: int | None = None, shapes: Mapping[str, Any] | None = None,
          timing_cache: str | os.PathLike | None = None, runs: int = 20, warmup: int = 5,
          on_progress: ProgressCallback | None = None, cancel: Any = None, *,
          providers: Sequence[str] | None = None, seed: int = 0, duration: float = 0.0,
          compute_capability: str = "auto", values: Mapping[str, Any] | None = None,
          precision_block: Sequence[str] | str = ()) -> BuildReport:
    """Build and profile ``model`` (a path, bytes, ``onnx.ModelProto`` or :class:`explorer.Model`) in a
    worker process; returns a :class:`BuildReport` (an :class:`~explorer.engine.report.EngineReport`).

    ``backend``: "auto" (TensorRT when it can build here, else ONNX Runtime), "tensorrt", "tensorrt-rtx"
    (NVIDIA TensorRT-RTX: builds ahead of time for ``compute_capability``, SM86 by default, without a GPU),
    "onnxruntime".
    ``precision``: "fp32", "fp16", "bf16" (converted model) or "int8" (Q/DQ: the model's own, else
    ``quantize_static`` with random calibration - for exploring, not accuracy). ``opt_level``: 0-5
    (TensorRT's builder optimization level; for ONNX Runtime 0 / 1 / 2 / 3+ = DISABLE_ALL / BASIC / EXTENDED
    / ALL). ``shapes``: ``{input: shape}`` or ``{input: (min, opt, max)}`` (dynamic dimensions not given are
    chosen and named in the notes). ``values``: ``{input: number or list}`` for control inputs (silero-vad's
    ``sr=16000``) instead of random values. ``runs`` timed runs after
    ``warmup`` untimed ones, and with ``duration`` (seconds) on until that much time has passed, as trtexec's
    ``--iterations`` and ``--duration`` (a microsecond model needs thousands of runs for steady per-layer
    figures). ``precision_block``: op types and node names kept fp32 by the conversion (see
    :class:`BuildSettings`). ``on_progress(phase, step, total)``; ``cancel``: a ``threading.Event`` (or
    anything with ``is_set()``) that stops the build. Raises :class:`BuildError` (``BuildCancelled`` when
    cancelled) carrying the backend's own message.
    """
    job = start_build(model, backend=backend, precision=precision, opt_level=opt_level, workspace=workspace,
                      shapes=shapes, timing_cache=timing_cache, runs=runs, warmup=warmup, on_progress=on_progress,
                      cancel=cancel, providers=providers, seed=seed, duration=duration,
                      compute_capability=compute_capability, values=values, precision_block=precision_block)
    return job.result()


def start_build(model: Any, backend: str = "auto", precision: str = "fp32", opt_level: int = 3,
                workspace: int | None = None, shapes: Mapping[str, Any] | None = None,
                timing_cache: str | os.PathLike | None = None, runs: int = 20, warmup: int = 5,
                on_progress: ProgressCallback | None = None, cancel: Any = None, *,
                providers: Sequence[str] | None = None, seed: int = 0, duration: float = 0.0,
                compute_capability: str = "auto", values: Mapping[str, Any] | None = None,
                precision_block: Sequence[str] | str = ()) -> "BuildJob":
    """Start :func:`build` and return at once with a :class:`BuildJob` (for widgets and notebooks).

    Bad settings raise :class:`BuildError` here, before any process starts.
    """
    settings = BuildSettings.make(backend=backend, precision=precision, opt_level=opt_level, workspace=workspace,
                                  shapes=shapes, timing_cache=timing_cache, runs=runs, warmup=warmup,
                                  providers=providers, seed=seed, duration=duration,
                                  compute_capability=compute_capability, values=values,
                                  precision_block=precision_block)
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

    from ...model import Model

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
    """A build running in a worker process: a :class:`concurrent.futures.Future` of its :class:`BuildReport`.

    ``job.future`` is that future; ``job.result(timeout)`` waits and returns the report or raises the
    :class:`BuildError` (:class:`BuildCancelled` after a cancel); ``job.add_done_callback(fn)`` calls
    ``fn(job)`` when it ends (at once if it has). ``job.progress`` is the latest :class:`Progress`,
    ``job.log`` the worker's log lines so far; ``job.cancel()`` stops it. Progress and done callbacks run on
    the job's background thread.
    """

    def __init__(self, model_path: str, settings: BuildSettings, *, cancel: Any = None,
                 temp_dir: str | None = None) -> None:
        self.model_path = model_path
        self.settings = settings
        self.future: futures.Future[BuildReport] = futures.Future()
        self.progress: Progress | None = None
        self.pid: int | None = None
        self.returncode: int | None = None  # the worker's exit code; 0 when it stays alive for the next build
        self.reused_worker = False  # True when an idle worker of an earlier build ran this one
        self._timed_out = False
        self.started_at: float | None = None
        self.timings: dict[str, float] = {}
        self._external_cancel = cancel
        self._cancel = threading.Event()
        self._callbacks: list[ProgressCallback] = []
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._lock = threading.Lock()
        self._temp_dir = temp_dir
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    # -- public -----------------------------------------------------------------------------------------
    def cancel(self) -> bool:
        """Ask the build to stop (the worker is terminated if it does not stop within CANCEL_GRACE_S); the
        job then ends with :class:`BuildCancelled`. False when it had already ended."""
        self._cancel.set()
        return not self.future.done()

    @property
    def cancelled(self) -> bool:
        """True once a cancel was asked (``cancel()`` or the ``cancel`` event)."""
        return self._cancel.is_set() or self._external_cancelled()

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> BuildReport:
        """The report; raises the build's BuildError, or TimeoutError when ``timeout`` passes first."""
        try:
            return self.future.result(timeout)
        except futures.TimeoutError:
            if self.future.done():
                raise  # the build's own error
            self._timed_out = True  # its worker is not kept for another build, whatever happens next
            raise TimeoutError(f"the build is still running after {timeout} s") from None
        except KeyboardInterrupt:
            self.cancel()
            futures.wait([self.future], 2 * CANCEL_GRACE_S + 2)
            raise

    def exception(self) -> BaseException | None:
        """The error the build ended with (None while running or after success)."""
        return self.future.exception() if self.future.done() else None

    def add_done_callback(self, fn: Callable[["BuildJob"], None]) -> None:
        """Call ``fn(job)`` when the build ends (now, on this thread, if it has)."""
        self.future.add_done_callback(lambda _future: fn(self))

    def add_progress_callback(self, fn: ProgressCallback) -> None:
        """Call ``fn(phase, step, total)`` on each progress message (``job.progress`` holds the latest)."""
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
        self.future.set_running_or_notify_cancel()
        t0 = time.perf_counter()
        self.started_at = time.time()
        workdir = None
        report: BuildReport | None = None
        error: BaseException | None = None
        try:
            workdir = tempfile.mkdtemp(prefix="explorer-build-")
            outcome = self._talk_to_worker(workdir)
            t_report = time.perf_counter()
            report = self._make_report(outcome)
            self.timings["report_s"] = time.perf_counter() - t_report
            self.timings["wall_s"] = time.perf_counter() - t0
            report.timings.update({k: round(v, 6) for k, v in self.timings.items()})
        except BaseException as exc:  # delivered by result()
            if not isinstance(exc, ExplorerError):
                exc = BuildError(f"the build failed: {type(exc).__name__}: {exc}")
            error = exc
        finally:
            for folder in (workdir, self._temp_dir):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(report)

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
            self.append_log(f"[explorer] the idle build worker (pid {worker.pid}) had exited "
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
                    self.append_log("[explorer] the worker did not stop after the cancel request: terminating it")
                    _signal(process, signal.SIGTERM)
                elif terminated_at is not None and now - terminated_at > CANCEL_GRACE_S:
                    self.append_log("[explorer] the worker ignored SIGTERM: killing it")
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

    def append_log(self, line: str) -> None:
        line = _ANSI.sub("", line)  # ONNX Runtime colours its log lines
        with self._lock:
            self._log.append(line)

    def deliver_progress(self, phase: str, step: int, total: int) -> None:
        self.progress = Progress(phase, step, total)
        with self._lock:
            callbacks = list(self._callbacks)
        for fn in callbacks:
            try:
                fn(phase, step, total)
            except Exception as exc:  # a broken callback must not break the build
                self.append_log(f"[explorer] progress callback failed: {type(exc).__name__}: {exc}")

    def _make_report(self, outcome: dict[str, Any]) -> BuildReport:
        result = outcome["result"]
        try:
            return REPORTS[result.get("backend") or "onnxruntime"](result, self.model_path)
        except ExplorerError:
            raise
        except Exception as exc:
            raise BuildError(f"the build finished but its report could not be made: {type(exc).__name__}: {exc}"
                             ) from exc


