"""The explorer's implementations of TensorRT's callback interfaces, made once per imported library.

The classes derive from ``trt.ILogger``, ``trt.IErrorRecorder``, ``trt.IProgressMonitor`` and
``trt.IProfiler``, which exist only after the lazy import, so :func:`interfaces` makes them on first use
for a given module (``tensorrt``, or TensorRT-RTX's bindings, which declare the same interfaces) and
caches them. Every subclass defines exactly the interface's methods (helpers start with ``_``): the API
conformance check (``tests/test_tensorrt_api_conformance.py``) verifies each override against the real
bindings of every TensorRT version it knows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Interfaces:
    """The classes :func:`interfaces` made for one library module."""

    Logger: type
    ErrorRecorder: type
    ProgressMonitor: type
    LayerProfiler: type


_INTERFACES: dict[int, Interfaces] = {}


def interfaces(trt) -> Interfaces:
    """The explorer's ``ILogger``, ``IErrorRecorder``, ``IProgressMonitor`` and ``IProfiler`` classes."""
    cached = _INTERFACES.get(id(trt))
    if cached is not None:
        return cached

    letters = {trt.ILogger.INTERNAL_ERROR: "F", trt.ILogger.ERROR: "E", trt.ILogger.WARNING: "W",
               trt.ILogger.INFO: "I", trt.ILogger.VERBOSE: "V"}

    keep_in_memory = int(trt.ILogger.WARNING)

    class Logger(trt.ILogger):
        """Writes trtexec-style lines (``[date-time] [V] [TRT] message``) to a file, for the log reader;
        keeps errors, and warnings in ``messages`` when given, in memory for messages to the user."""

        def __init__(self, stream, min_severity, messages=None):
            trt.ILogger.__init__(self)
            self._stream = stream
            self._min = int(min_severity)
            self._messages = messages
            self._lock = threading.Lock()
            self.errors: list[str] = []  # ERROR and INTERNAL_ERROR messages, for failure messages

        def log(self, severity, msg):
            level = int(severity)
            if level > self._min:
                return
            letter = letters.get(severity, "I")
            with self._lock:
                if letter in ("F", "E"):
                    self.errors.append(msg)
                if self._messages is not None and level <= keep_in_memory:
                    self._messages.append(msg)
                if self._stream is not None:
                    stamp = time.strftime("%m/%d/%Y-%H:%M:%S")
                    self._stream.write(f"[{stamp}] [{letter}] [TRT] {msg}\n")

    class ErrorRecorder(trt.IErrorRecorder):
        """Collects TensorRT's errors (code and text) so a failed build can say what TensorRT said."""

        def __init__(self):
            trt.IErrorRecorder.__init__(self)
            self.errors: list[tuple[Any, str]] = []  # (ErrorCode, description)
            self._lock = threading.Lock()

        def num_errors(self):
            return len(self.errors)

        def get_error_code(self, index):
            return self.errors[index][0]

        def get_error_desc(self, index):
            return self.errors[index][1]

        def has_overflowed(self):
            return False

        def clear(self):
            with self._lock:
                self.errors.clear()

        def report_error(self, code, desc):
            with self._lock:
                self.errors.append((code, desc))
            return False  # not fatal by our decision: TensorRT goes on and fails the call itself

    class ProgressMonitor(trt.IProgressMonitor):
        """Forwards build phases to ``on_progress(phase, step, total)``; stops the build when cancelled."""

        def __init__(self, on_progress, cancel_event):
            trt.IProgressMonitor.__init__(self)
            self._on_progress = on_progress
            self._cancel_event = cancel_event
            self._totals: dict[str, int] = {}
            self.cancelled = False  # True once step_complete told TensorRT to stop

        def _forward(self, phase, step, total):
            if self._on_progress is None:
                return
            try:
                self._on_progress(phase, step, total)
            except Exception:  # a broken callback must not abort TensorRT's thread
                pass

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._totals[phase_name] = int(num_steps)
            self._forward(phase_name, 0, int(num_steps))

        def step_complete(self, phase_name, step):
            self._forward(phase_name, int(step) + 1, self._totals.get(phase_name, 0))
            if self._cancel_event is not None and self._cancel_event.is_set():
                self.cancelled = True
                return False  # TensorRT stops the build
            return True

        def phase_finish(self, phase_name):
            total = self._totals.pop(phase_name, 0)
            self._forward(phase_name, total, total)

    class LayerProfiler(trt.IProfiler):
        """Collects every layer's time of every profiled inference."""

        def __init__(self):
            trt.IProfiler.__init__(self)
            self.times: dict[str, list[float]] = {}  # layer name -> ms of each inference

        def report_layer_time(self, layer_name, ms):
            self.times.setdefault(layer_name, []).append(float(ms))

    made = Interfaces(Logger=Logger, ErrorRecorder=ErrorRecorder, ProgressMonitor=ProgressMonitor,
                      LayerProfiler=LayerProfiler)
    _INTERFACES[id(trt)] = made
    return made


__all__ = ["Interfaces", "interfaces"]
