"""ONNX shape inference in a child process: it can crash on malformed models, and must not take the kernel.

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

    def result(self) -> bytes:
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
        """The caller no longer wants the answer (it failed first): stop the worker, free the slot."""
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
