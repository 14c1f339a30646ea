"""ONNX's C++ code in child processes: it can crash on malformed models, and must not take the kernel.

Shape inference (on every load) runs in a long-lived worker; the rarer model rewrites (constant folding
with onnx-graphsurgeon, which evaluates constants with ONNX Runtime, and ``onnx.version_converter``) and
TensorRT's ONNX parser (support analysis with TensorRT installed) run in a one-shot child each, with their
own timeout and, except for TensorRT (CUDA reserves far more address space than it uses), the same memory
limit (:func:`run_isolated`).

One long-lived worker per Python process serves requests over its stdin/stdout (length-prefixed bytes), so
the cost of isolation is a pipe round trip, not a process start. The caller overlaps its own work with the
child's: :meth:`ShapeInferenceWorker.submit` returns at once and :meth:`Pending.result` waits.
A worker that crashes, runs out of its memory limit or time is replaced on the next request.
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import threading
import time

#: Seconds one shape inference may take before the worker is killed.
DEFAULT_TIMEOUT = float(os.environ.get("EXPLORER_SHAPE_INFERENCE_TIMEOUT", 120))
#: Address-space limit of the worker (bytes); 0 disables.
DEFAULT_MEMORY_LIMIT = int(os.environ.get("EXPLORER_SHAPE_INFERENCE_MEMORY", 8 * 1024**3))

_CHILD = r"""
import resource, struct, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from onnx.onnx_cpp2py_export import shape_inference
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    header = stdin.read(8)
    if len(header) < 8:
        break
    (size,) = struct.unpack("<Q", header)
    data = stdin.read(size)
    try:
        result, status = shape_inference.infer_shapes(data, False, False, False), 0
    except BaseException as exc:
        result, status = (type(exc).__name__ + ": " + str(exc)).encode("utf-8", "replace"), 1
    stdout.write(struct.pack("<QB", len(result), status))
    stdout.write(result)
    stdout.flush()
"""


class ShapeInferenceCrashed(RuntimeError):
    """The worker died or timed out; the message says how."""


class ShapeInferenceFailed(RuntimeError):
    """ONNX shape inference raised an error for this model (the worker is fine)."""


class Pending:
    """A submitted request: :meth:`result` returns the inferred model bytes."""

    def __init__(self, worker: "ShapeInferenceWorker", process: subprocess.Popen, writer: threading.Thread,
                 timeout: float) -> None:
        self._worker = worker
        self._process = process
        self._writer = writer
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self._finished = False  # the worker slot was released (by result() or abandon())

    def result(self) -> bytes:
        if self._finished:
            raise RuntimeError("this shape inference request was already answered or abandoned")
        self._finished = True
        try:
            header = self._read(9)
            size, status = struct.unpack("<QB", header)
            payload = self._read(size)
        except ShapeInferenceCrashed:
            self._worker._discard(self._process)
            raise
        finally:
            self._worker._lock.release()
        if status:
            raise ShapeInferenceFailed(payload.decode("utf-8", "replace"))
        return payload

    def abandon(self) -> None:
        """The caller no longer wants the answer (it failed first): stop the worker, free the slot.
        Nothing to do once :meth:`result` has run (it frees the slot itself, even when it raises)."""
        if self._finished:
            return
        self._finished = True
        self._worker._discard(self._process)
        self._worker._lock.release()

    def _read(self, size: int) -> bytes:
        out = self._process.stdout
        fd = out.fileno()
        chunks, remaining = [], size
        while remaining:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._process.kill()
                raise ShapeInferenceCrashed(f"ONNX shape inference did not finish within {self._timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, min(remaining, 1 << 22))
            if not chunk:
                code = self._process.wait()
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise ShapeInferenceCrashed(f"ONNX shape inference crashed ({how})")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class ShapeInferenceWorker:
    """The long-lived child process; one request at a time."""

    def __init__(self, memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
        self._memory_limit = memory_limit
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(self._memory_limit)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        return self._process

    def submit(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> Pending:
        """Send a model; the caller may work while the child infers, then call ``result()``."""
        self._lock.acquire()
        try:
            process = self._ensure()

            def write() -> None:
                try:
                    process.stdin.write(struct.pack("<Q", len(data)))
                    process.stdin.write(data)
                    process.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass  # the reader sees the dead worker and reports it

            writer = threading.Thread(target=write, daemon=True, name="explorer-shape-inference-writer")
            writer.start()
            return Pending(self, process, writer, timeout)
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
        if self._process is not None:
            self._discard(self._process)


_worker: ShapeInferenceWorker | None = None


def shape_inference_worker() -> ShapeInferenceWorker:
    global _worker
    if _worker is None:
        _worker = ShapeInferenceWorker()
    return _worker


# ---------------------------------------------------------------------------------- one-shot children

#: Seconds a one-shot child (constant folding, opset conversion, TensorRT's parser) may take before it is killed.
DEFAULT_TRANSFORM_TIMEOUT = float(os.environ.get("EXPLORER_TRANSFORM_TIMEOUT", 300))

_TRANSFORM_CHILD = r"""
import os, resource, sys
limit, task, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
result_fd = os.dup(1)
os.dup2(2, 1)  # libraries that print go to stderr; the result travels on the saved stdout


def run(data):
    if task == "tensorrt_parser":
        import json
        from explorer.trt import parser_capability
        return json.dumps(parser_capability(data, args[0] or None).to_dict()).encode()
    import onnx
    model = onnx.ModelProto()
    model.ParseFromString(data)
    if task == "fold_constants":
        import onnx_graphsurgeon as gs
        graph = gs.import_onnx(model)
        graph.fold_constants(error_ok=True).cleanup(remove_unused_graph_inputs=False)
        return gs.export_onnx(graph).SerializeToString()
    if task == "convert_version":
        from onnx import version_converter
        return version_converter.convert_version(model, int(args[0])).SerializeToString()
    if task == "quantize_int8":
        import json
        import numpy as np
        from explorer.backends.onnxruntime import quantize_int8
        names = json.loads(args[1])
        with np.load(args[0], allow_pickle=False) as arrays:
            count = len(arrays.files) // max(1, len(names))
            batches = [{name: arrays[f"b{i}_{j}"] for j, name in enumerate(names)} for i in range(count)]
        return quantize_int8(model, batches, workdir=args[2] or None)[0].SerializeToString()
    raise ValueError("unknown task " + task)


try:
    result, status = run(sys.stdin.buffer.read()), b"\x00"
except BaseException as exc:
    result, status = (type(exc).__name__ + ": " + str(exc)).encode("utf-8", "replace"), b"\x01"
with os.fdopen(result_fd, "wb") as out:
    out.write(status)
    out.write(result)
"""

#: what :func:`run_isolated` can run, so no caller can make a child run arbitrary code
TASKS = ("fold_constants", "convert_version", "tensorrt_parser", "quantize_int8")


class IsolatedCrashed(RuntimeError):
    """The child died (a crash, the memory limit) or ran out of time; the message says how."""


class IsolatedFailed(RuntimeError):
    """The child's task raised an error for this model (its message is the error's)."""


def run_isolated(task: str, data: bytes, *args: str, timeout: float | None = None,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT) -> bytes:
    """Run one of :data:`TASKS` on serialized model ``data`` in a fresh child; returns the result bytes."""
    if task not in TASKS:
        raise ValueError(f"unknown isolated task {task!r}")
    timeout = DEFAULT_TRANSFORM_TIMEOUT if timeout is None else timeout
    env = dict(os.environ)  # the child imports this very package, wherever it was imported from
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-c", _TRANSFORM_CHILD, str(memory_limit), task, *map(str, args)],
                              input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise IsolatedCrashed(f"did not finish within {timeout:.0f} s") from None
    out = done.stdout
    if done.returncode != 0 or not out:
        code = done.returncode
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise IsolatedCrashed(f"crashed ({how}) {tail[0][:200]}".rstrip())
    if out[:1] != b"\x00":
        raise IsolatedFailed(out[1:].decode("utf-8", "replace"))
    return out[1:]
