"""The build worker: its process (kept warm between builds) and its main loop, which runs the backend.

Why a worker process: a TensorRT build can take minutes, use all host memory or crash (a segfault in a
plugin, the OOM killer); none of that may take the caller - a Jupyter kernel - with it. The worker is the
``"main"`` isolated task ``build_worker`` (started by :func:`explorer.isolation.start_process`): the parent
writes one JSON request (model path + settings) per build on its stdin and reads JSON lines (progress,
then a result or an error) from a private copy of its stdout; anything native code prints goes to the
worker's stderr, which becomes :attr:`BuildJob.log`. Cancelling writes ``cancel`` to the worker's stdin
(checked between phases and runs, and TensorRT's progress monitor stops the build). The worker returns
plain dicts; the report is made in the caller's process (:mod:`.job`).

``backend="auto"`` takes TensorRT when :func:`explorer.backends.tensorrt.available` says it can build here
(the import works and a GPU is visible), else ONNX Runtime; the check runs here, in the worker, so the
caller never loads CUDA. The backend's run is looked up in :data:`BACKEND_RUNS`.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Mapping, Protocol

from ...errors import BuildError, ExplorerError
from ...isolation import child_env, isolated_task, start_process
from ..settings import BuildSettings


class JobSink(Protocol):
    """What the worker's readers write to: the job being served (:class:`~explorer.backends.jobs.job.BuildJob`)."""

    def append_log(self, line: str) -> None: ...
    def deliver_progress(self, phase: str, step: int, total: int) -> None: ...


ProgressCallback = Callable[[str, int, int], None]
#: a backend's run in the worker: (model path, settings, workdir, progress, cancel event, remember a
#: session's options so a cancel can stop ONNX Runtime mid-optimization) -> the result as plain dicts
BackendRun = Callable[[str, BuildSettings, str, ProgressCallback, threading.Event, Callable[[Any], None]],
                      dict[str, Any]]

#: the worker reports progress at most this often within a phase (its first and last steps always)
PROGRESS_INTERVAL_S = 0.05

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


def _worker_env() -> dict[str, str]:
    env = child_env()
    env.setdefault("PYTHONUNBUFFERED", "1")
    from ..onnxruntime import SHARED_POOL_ENV  # (imports no onnxruntime)

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
        self._job: JobSink | None = None
        self._lock = threading.Lock()
        self._log_end = threading.Event()
        self._readers = [threading.Thread(target=self._read_protocol, daemon=True, name="explorer-build-protocol"),
                         threading.Thread(target=self._read_log, daemon=True, name="explorer-build-log")]
        for reader in self._readers:
            reader.start()

    @classmethod
    def spawn(cls, env: Mapping[str, str]) -> "_Worker":
        try:
            process = start_process(worker_main, env=env, new_session=True)
        except OSError as exc:
            raise BuildError(f"could not start the build worker ({sys.executable}): {exc}") from None
        return cls(process, env)

    def attach(self, job: JobSink) -> None:
        with self._lock:
            self._job = job
            self._log_end.clear()
            while True:  # nothing of an earlier build may reach this one
                try:
                    self.messages.get_nowait()
                except queue.Empty:
                    break

    def detach(self, job: JobSink, wait_for_log: bool = False) -> None:
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

    def _current(self) -> "JobSink | None":
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
                    job.append_log(raw.decode("utf-8", "replace").rstrip("\n"))
                continue
            if message.get("type") == "progress":
                if job is not None:
                    job.deliver_progress(message["phase"], int(message["step"]), int(message["total"]))
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
                    job.append_log(head)
                self._log_end.set()
                continue
            job = self._current()
            if job is not None:  # an idle worker's output (none is expected) belongs to no build
                job.append_log(line)


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
# The worker process
# --------------------------------------------------------------------------------------------------------

@isolated_task("build_worker", kind="main", memory_limit=0)  # TensorRT / CUDA: no address-space limit
def worker_main() -> int:
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
            prepare = PREPARES.get(str(request.get("backend", "onnxruntime")))
            if prepare is not None:
                prepare()
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


def _prepare_onnxruntime() -> None:
    """What a first ONNX Runtime build would do before its model: imports, the shared thread pool, the
    profiler calibration. Problems are only logged: the build will meet and report them."""
    try:
        from .. import onnxruntime as ort_backend

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
        from ..onnxruntime import Cancelled
        from ..tensorrt import BuildCancelled

        if isinstance(exc, (Cancelled, BuildCancelled)) or (cancel.is_set() and isinstance(exc, BuildError)):
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
    result = BACKEND_RUNS[backend](model_path, settings, workdir, progress, cancel, remember)
    result["backend"] = backend
    result["backend_reason"] = reason
    return result


def _choose_backend(requested: str) -> tuple[str, str]:
    """(backend, why) - checked in the worker, so the caller's process never initialises CUDA.

    "auto" never picks TensorRT-RTX: without a GPU it builds an engine but times nothing, and "auto" must
    give timings; ask for "tensorrt-rtx" (the app's Build tab pairs it with ONNX Runtime's timings)."""
    if requested == "onnxruntime":
        return "onnxruntime", "requested"
    if requested == "tensorrt-rtx":
        from ...trt import TENSORRT_RTX, available

        ok, why = available(require_gpu=False, library=TENSORRT_RTX)
        if not ok:
            raise BuildError(f"TensorRT-RTX is not available here: {why}",
                             hint="pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs")
        return "tensorrt-rtx", f"requested ({why})"
    try:
        from .. import tensorrt as trt_backend

        ok, why = trt_backend.available()
    except Exception as exc:
        ok, why = False, f"explorer.backends.tensorrt could not be used: {type(exc).__name__}: {exc}"
    if requested == "tensorrt":
        if not ok:
            raise BuildError(f"TensorRT is not available here: {why}",
                             hint="build with backend='onnxruntime' (or 'auto', or 'tensorrt-rtx' for an engine "
                                  "built ahead of time without a GPU), or import trtexec's exports")
        return "tensorrt", f"requested ({why})"
    if ok:
        return "tensorrt", f"auto: {why}"
    return "onnxruntime", f"auto: TensorRT not available ({why})"


def _run_onnxruntime(model_path: str, settings: BuildSettings, workdir: str, progress: ProgressCallback,
                     cancel: threading.Event, remember: Callable[[Any], None]) -> dict[str, Any]:
    """ONNX Runtime in this worker (it reads the settings as a plain dict)."""
    from .. import onnxruntime as ort_backend

    return ort_backend.build(model_path, settings.to_dict(), workdir=workdir, on_progress=progress,
                             cancelled=cancel.is_set, on_session_created=remember).to_dict()


def _run_tensorrt(model_path: str, settings: BuildSettings, workdir: str, progress: ProgressCallback,
                  cancel: threading.Event, remember: Callable[[Any], None], library: str = "tensorrt") -> dict[str, Any]:
    """TensorRT (or TensorRT-RTX: ``library``) in this worker. Its files (engine, layer JSON, profile, log) go
    to a folder that outlives the build (an engine is worth keeping); int8 without Q/DQ is quantized first,
    like the ONNX Runtime path."""
    from .. import tensorrt as trt_backend

    out_dir = tempfile.mkdtemp(prefix="explorer-rtx-" if library == "tensorrt-rtx" else "explorer-trt-")
    build_path = model_path
    notes: list[str] = []
    if settings.precision == "int8":
        build_path, note = _quantized_copy(model_path, settings, out_dir, progress)
        if note:
            notes.append(note)
    result = trt_backend.build_engine(build_path, dataclasses.replace(settings, backend=library, output_dir=out_dir),
                                      on_progress=progress, cancel_event=cancel,
                                      log_path=os.path.join(out_dir, "build.log"))
    result.notes.extend(notes)
    result.output_dir = out_dir
    return result.to_dict()


def _quantized_copy(model_path: str, settings: BuildSettings, out_dir: str,
                    progress: ProgressCallback) -> tuple[str, str | None]:
    import onnx

    from ...model.quantization import has_qdq
    from .. import onnxruntime as ort_backend

    proto = onnx.load(model_path)
    if has_qdq(proto):
        return model_path, None
    progress("convert", 0, 1)
    plan = ort_backend.plan_inputs(proto, settings.shapes, settings.values)
    calibration = [ort_backend.random_inputs(proto, plan.shapes, settings.seed + 1 + i, plan.values)
                   for i in range(ort_backend.CALIBRATION_BATCHES)]
    quantized, info = ort_backend.quantize_int8(proto, calibration, workdir=out_dir)
    path = os.path.join(out_dir, "model.int8.onnx")
    onnx.save_model(quantized, path)
    progress("convert", 1, 1)
    return path, f"int8: the model had no Q/DQ nodes; {info.tool} added them. {info.note}"


#: backend -> its run in the worker (``_choose_backend`` resolves "auto" first)
def _run_tensorrt_rtx(model_path: str, settings: BuildSettings, workdir: str, progress: ProgressCallback,
                      cancel: threading.Event, remember: Callable[[Any], None]) -> dict[str, Any]:
    """TensorRT-RTX through the same TensorRT builder (ahead of time for SM86 when there is no RTX GPU)."""
    return _run_tensorrt(model_path, settings, workdir, progress, cancel, remember, library="tensorrt-rtx")


BACKEND_RUNS: dict[str, BackendRun] = {"onnxruntime": _run_onnxruntime, "tensorrt": _run_tensorrt,
                                       "tensorrt-rtx": _run_tensorrt_rtx}
#: backend -> what prestart() readies in a new worker (nothing for TensorRT: CUDA starts with the build)
PREPARES: dict[str, Callable[[], None]] = {"onnxruntime": _prepare_onnxruntime, "auto": _prepare_onnxruntime}
