"""Native code in child processes: C++ that a malformed model can crash must not take the kernel with it.

ONNX shape inference (every load), constant folding (onnx-graphsurgeon, which evaluates constants with
ONNX Runtime), ``onnx.version_converter``, TensorRT's ONNX parser, int8 quantization and the build worker
all run in a child of this one runner, with a time limit and an address-space limit (:data:`MEMORY_LIMIT`;
0 for TensorRT and the build worker: CUDA reserves far more address space than it uses).

What a child may run is an allowlist kept beside each task: ``@isolated_task("fold_constants")`` on a
function of an ``explorer.`` module registers it. The parent sends the task's module and name; the child
(``python -m explorer.isolation``) imports that module (``explorer.`` modules only) and runs the function
only if the decorator registered it under that name. So this ground-floor module imports nothing above it,
and no code travels as a string. Data goes in and out as bytes (models, JSON, paths of ``.npz`` files),
never pickles.

Two kinds of task. A ``"call"`` task is ``fn(data: bytes, *args: str) -> bytes``; its child serves requests
over stdin/stdout (length-prefixed frames) until stdin closes: :func:`run_task` uses a fresh child per call,
:func:`kept` one long-lived child per task (shape inference: the cost of isolation is then a pipe round trip,
not a process start), replaced after a crash. A ``"main"`` task owns the child's stdio and exit code (the
build worker and its own JSON-lines protocol): :func:`start_process` starts it.
"""

from __future__ import annotations

import collections
import importlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

#: Seconds one shape inference may take before its worker is killed.
SHAPE_INFERENCE_TIMEOUT = float(os.environ.get("EXPLORER_SHAPE_INFERENCE_TIMEOUT", 120))
#: Seconds a one-shot task (constant folding, opset conversion, TensorRT's parser, int8) may take.
TRANSFORM_TIMEOUT = float(os.environ.get("EXPLORER_TRANSFORM_TIMEOUT", 300))
#: Address-space limit of a child (bytes) unless its task says otherwise; 0 disables.
MEMORY_LIMIT = int(os.environ.get("EXPLORER_SHAPE_INFERENCE_MEMORY", 8 * 1024**3))

KINDS = ("call", "main")
_REQUEST = struct.Struct("<QQ")  # length of the JSON args, length of the data
_REPLY = struct.Struct("<QB")  # length of the payload, status
_OK, _FAILED, _REFUSED = 0, 1, 2


@dataclass(frozen=True)
class TaskSpec:
    """What the parent sends to name a task (the child checks it against the registry)."""

    module: str
    name: str
    kind: str = "call"
    timeout: float | None = None  # None: TRANSFORM_TIMEOUT
    memory_limit: int | None = None  # None: MEMORY_LIMIT; 0: none

    def limits(self, timeout: float | None = None, memory_limit: int | None = None) -> tuple[float, int]:
        timeout = timeout if timeout is not None else self.timeout if self.timeout is not None else TRANSFORM_TIMEOUT
        memory = memory_limit if memory_limit is not None else (
            self.memory_limit if self.memory_limit is not None else MEMORY_LIMIT)
        return float(timeout), int(memory)


_REGISTRY: dict[tuple[str, str], Callable[..., Any]] = {}
_MARK = "__explorer_isolated_task__"


def isolated_task(name: str, *, kind: str = "call", timeout: float | None = None,
                  memory_limit: int | None = None) -> Callable[[Callable], Callable]:
    """Register the decorated function as the task ``name`` of its module (the allowlist entry)."""
    if kind not in KINDS:
        raise ValueError(f"task kind must be one of {KINDS}, got {kind!r}")

    def mark(fn: Callable) -> Callable:
        spec = TaskSpec(fn.__module__, name, kind, timeout, memory_limit)
        if not spec.module.startswith("explorer."):
            raise ValueError(f"only explorer modules define isolated tasks, not {spec.module!r}")
        setattr(fn, _MARK, spec)
        _REGISTRY[(spec.module, name)] = fn
        return fn

    return mark


def spec_of(task: Callable | TaskSpec) -> TaskSpec:
    """The spec of a registered function (or a spec given as is, checked on both sides)."""
    spec = task if isinstance(task, TaskSpec) else getattr(task, _MARK, None)
    if not isinstance(spec, TaskSpec):
        raise ValueError(f"{task!r} is not an isolated task (decorate it with @isolated_task)")
    if not spec.module.startswith("explorer.") or spec.kind not in KINDS:
        raise ValueError(f"not an isolated task: {spec.module}:{spec.name}")
    return spec


class TaskCrashed(RuntimeError):
    """The child died (a crash, the memory limit) or ran out of time; the message says how."""


class TaskFailed(RuntimeError):
    """The task raised an error (the child is fine); ``kind`` is the error's class name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment, with this very package first on the path (wherever it was imported from)."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def _command(spec: TaskSpec, memory_limit: int) -> list[str]:
    return [sys.executable, "-m", "explorer.isolation", spec.kind, str(int(memory_limit)), spec.module, spec.name]


def start_process(task: Callable | TaskSpec, *, env: Mapping[str, str] | None = None,
                  memory_limit: int | None = None, new_session: bool = False) -> subprocess.Popen:
    """Start a ``"main"`` task's child with its stdin, stdout and stderr as pipes; the caller talks to it."""
    spec = spec_of(task)
    if spec.kind != "main":
        raise ValueError(f"{spec.name} is a {spec.kind!r} task: run it with run_task or kept")
    _, memory = spec.limits(memory_limit=memory_limit)
    return subprocess.Popen(_command(spec, memory), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env) if env is not None else child_env(),
                            start_new_session=new_session)


class Pending:
    """A submitted request: :meth:`result` returns the task's bytes (or raises)."""

    def __init__(self, worker: "TaskProcess", process: subprocess.Popen, timeout: float) -> None:
        self._worker = worker
        self._process = process
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._finished = False  # the worker slot was released (by result() or abandon())

    def result(self) -> bytes:
        if self._finished:
            raise RuntimeError("this request was already answered or abandoned")
        self._finished = True
        try:
            size, status = _REPLY.unpack(self._read(_REPLY.size))
            payload = self._read(size)
        except TaskCrashed:
            self._worker._discard(self._process)
            raise
        finally:
            self._worker._lock.release()
        if status == _OK:
            return payload
        if status == _REFUSED:
            self._worker._discard(self._process)
            raise ValueError(payload.decode("utf-8", "replace"))
        error = json.loads(payload.decode("utf-8", "replace"))
        raise TaskFailed(str(error.get("type", "Error")), str(error.get("message", "")))

    def abandon(self) -> None:
        """The caller no longer wants the answer (it failed first): stop the child, free the slot.
        Nothing to do once :meth:`result` has run (it frees the slot itself, even when it raises)."""
        if self._finished:
            return
        self._finished = True
        self._worker._discard(self._process)
        self._worker._lock.release()

    def _read(self, size: int) -> bytes:
        fd = self._process.stdout.fileno()
        chunks, remaining = [], size
        while remaining:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._process.kill()
                raise TaskCrashed(f"did not finish within {self._timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, min(remaining, 1 << 22))
            if not chunk:
                code = self._process.wait()
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                last = self._worker.last_words()
                raise TaskCrashed(f"crashed ({how}) {last[:200]}".rstrip())
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class TaskProcess:
    """A child serving one ``"call"`` task, one request at a time; a new child after a crash."""

    def __init__(self, task: Callable | TaskSpec, *, memory_limit: int | None = None) -> None:
        self.spec = spec_of(task)
        if self.spec.kind != "call":
            raise ValueError(f"{self.spec.name} is a {self.spec.kind!r} task: start it with start_process")
        self._memory_limit = self.spec.limits(memory_limit=memory_limit)[1]
        self._process: subprocess.Popen | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> int:
        """The child's pid (started now if there is none alive)."""
        return self._ensure().pid

    def last_words(self) -> str:
        lines = [line for line in list(self._stderr) if line.strip()]
        return lines[-1].strip() if lines else ""

    def _ensure(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._stderr.clear()
            process = subprocess.Popen(_command(self.spec, self._memory_limit), stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), bufsize=0)
            threading.Thread(target=self._drain, args=(process, self._stderr), daemon=True,
                             name="explorer-isolation-stderr").start()
            self._process = process
        return self._process

    @staticmethod
    def _drain(process: subprocess.Popen, lines: collections.deque) -> None:
        for raw in process.stderr:  # what libraries print: kept for the crash message, else dropped
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def submit(self, data: bytes, *args: str, timeout: float | None = None) -> Pending:
        """Send a request; the caller may work while the child does, then call ``result()``."""
        limit = self.spec.limits(timeout=timeout)[0]
        self._lock.acquire()
        try:
            process = self._ensure()
            header = json.dumps([str(a) for a in args]).encode("utf-8")

            def write() -> None:
                try:
                    process.stdin.write(_REQUEST.pack(len(header), len(data)))
                    process.stdin.write(header)
                    process.stdin.write(data)
                    process.stdin.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass  # the reader sees the dead child and reports it

            threading.Thread(target=write, daemon=True, name="explorer-isolation-writer").start()
            return Pending(self, process, limit)
        except BaseException:
            self._lock.release()
            raise

    def _discard(self, process: subprocess.Popen) -> None:
        try:
            process.kill()
            process.wait(timeout=5)
        except Exception:
            pass
        if self._process is process:
            self._process = None

    def close(self) -> None:
        """Close the child's stdin (it exits at EOF), then make sure it is gone."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=5)
        except Exception:
            pass
        self._discard(process)


def run_task(task: Callable | TaskSpec, data: bytes = b"", *args: str, timeout: float | None = None,
             memory_limit: int | None = None) -> bytes:
    """Run a ``"call"`` task once in a fresh child; returns its bytes, raises TaskCrashed / TaskFailed."""
    worker = TaskProcess(task, memory_limit=memory_limit)
    try:
        return worker.submit(data, *args, timeout=timeout).result()
    finally:
        worker.close()


_kept: dict[TaskSpec, TaskProcess] = {}
_kept_lock = threading.Lock()


def kept(task: Callable | TaskSpec) -> TaskProcess:
    """The long-lived child of this task in this process (made on first use)."""
    spec = spec_of(task)
    with _kept_lock:
        worker = _kept.get(spec)
        if worker is None:
            worker = _kept[spec] = TaskProcess(spec)
        return worker


def close_kept() -> None:
    """Stop every long-lived child (a new one starts on the next request)."""
    with _kept_lock:
        workers = list(_kept.values())
        _kept.clear()
    for worker in workers:
        worker.close()


# ------------------------------------------------------------------------------------------- the child

def _resolve(module: str, name: str, kind: str) -> Callable[..., Any]:
    """The registered function, or ValueError: only explorer modules, only what @isolated_task marked."""
    if not module.startswith("explorer.") or not all(part.isidentifier() for part in module.split(".")):
        raise ValueError(f"refused: {module!r} is not an explorer module")
    importlib.import_module(module)
    fn = _REGISTRY.get((module, name))
    spec = getattr(fn, _MARK, None)
    if fn is None or not isinstance(spec, TaskSpec) or spec.kind != kind:
        raise ValueError(f"refused: {module}:{name} is not a registered {kind!r} task")
    return fn


def _read_exact(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def _serve(fn: Callable[..., bytes] | None, refusal: str | None) -> int:
    # The protocol gets a private copy of stdout; fd 1 itself goes to stderr, so whatever native code
    # prints lands there instead of corrupting the replies.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if refusal is not None:
        payload = refusal.encode("utf-8", "replace")
        out.write(_REPLY.pack(len(payload), _REFUSED) + payload)
        out.flush()
        return 2
    stdin = sys.stdin.buffer
    while True:
        header = _read_exact(stdin, _REQUEST.size)
        if header is None:
            return 0  # stdin closed: the parent is done with this child
        args_size, data_size = _REQUEST.unpack(header)
        raw_args, data = _read_exact(stdin, args_size), _read_exact(stdin, data_size)
        if raw_args is None or data is None:
            return 1
        try:
            result = fn(data, *json.loads(raw_args))
            if not isinstance(result, (bytes, bytearray)):
                raise TypeError(f"the task returned {type(result).__name__}, not bytes")
            payload, status = bytes(result), _OK
        except BaseException as exc:  # reported to the parent, which raises TaskFailed
            payload = json.dumps({"type": type(exc).__name__, "message": str(exc)}).encode("utf-8")
            status = _FAILED
        del data
        out.write(_REPLY.pack(len(payload), status))
        out.write(payload)
        out.flush()


def _child_main(argv: list[str]) -> int:
    kind, limit, module, name = argv
    if int(limit):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    try:
        fn = _resolve(module, name, kind)
    except ValueError as exc:
        if kind == "call":
            return _serve(None, str(exc))
        print(str(exc), file=sys.stderr)
        return 2
    if kind == "call":
        return _serve(fn, None)
    return int(fn() or 0)

