"""ONNX shape inference in the isolation child, and how the loader asks for it.

Two costs used to come before the answer: the child importing the ``onnx`` package (0.7 s, most of it
ml_dtypes, for one C++ function) and the parent reading and sending the file first. Now the child loads
onnx's C++ extension module alone (the package is imported only if that fails), and for a file it reads the
file itself, from the path and the size/mtime/inode the parent saw (a file changed in between is sent as
bytes instead). The CLI starts it before it imports onnx itself (:func:`prefetch`).

This module imports nothing heavy: the child imports it to find the task.
"""

from __future__ import annotations

import os
import stat
import sys
import threading

from ..isolation import SHAPE_INFERENCE_TIMEOUT, Pending, TaskFailed, isolated_task, kept


class FileChanged(Exception):
    """The file is not the one the parent stat-ed (the parent then sends its bytes)."""


@isolated_task("shape_inference", timeout=SHAPE_INFERENCE_TIMEOUT)
def infer_shapes_task(data: bytes, path: str = "", expected: str = "") -> bytes:
    """ONNX shape inference on a serialized model, or on the file at ``path`` (whose :func:`stamp_of` must
    be ``expected``), in the long-lived child of :func:`explorer.isolation.kept` (C++ that a malformed model can
    crash); the inferred model's bytes."""
    if path:
        with open(path, "rb") as handle:
            if stamp_of(os.fstat(handle.fileno())) != expected:
                raise FileChanged(f"{path} changed after it was opened")
            data = handle.read()
    return _native().infer_shapes(data, False, False, False)


_NATIVE = None


def _native():
    """onnx's C++ ``shape_inference`` module, without the onnx package when it is not imported already."""
    global _NATIVE
    if _NATIVE is None:
        module = None
        if "onnx" not in sys.modules:
            try:
                module = _extension_alone()
            except Exception:  # an unusual onnx layout: import the package, as everyone does
                module = None
        if module is None:
            from onnx import onnx_cpp2py_export as module
        _NATIVE = module.shape_inference
    return _NATIVE


def _extension_alone():
    """Load ``onnx/onnx_cpp2py_export*.so`` by itself (it needs nothing from the package's Python side)."""
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("onnx")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "onnx_cpp2py_export" + suffix)
            if os.path.isfile(path):
                loader = importlib.machinery.ExtensionFileLoader("onnx.onnx_cpp2py_export", path)
                module = importlib.util.module_from_spec(
                    importlib.util.spec_from_loader("onnx.onnx_cpp2py_export", loader, origin=path))
                loader.exec_module(module)
                return module
    return None


# ------------------------------------------------------------------------------------------- the parent

def stamp_of(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}:{info.st_dev}"


def file_stamp(path: str) -> str | None:
    """What identifies this version of a regular file (None when it is not one: the loader says why)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return stamp_of(info) if stat.S_ISREG(info.st_mode) else None


_early: dict[tuple[str, str], Pending] = {}
_early_lock = threading.Lock()


def _drop_early() -> None:
    with _early_lock:
        stale = list(_early.values())
        _early.clear()
    for pending in stale:
        pending.abandon()


def prefetch(path: str) -> None:
    """Start shape inference of the file at ``path`` now; the next :func:`load_model` of that same file
    takes the answer (the CLI calls this before importing onnx, so both run at once)."""
    full = os.path.abspath(path)
    stamp = file_stamp(full)
    if stamp is None:
        return
    _drop_early()
    pending = kept(infer_shapes_task).submit(b"", full, stamp)
    with _early_lock:
        _early[(full, stamp)] = pending


def submit_file(path: str) -> tuple[Pending, str] | None:
    """Shape inference of the file at ``path``, read by the child itself; None if it is not a regular file."""
    full = os.path.abspath(path)
    stamp = file_stamp(full)
    if stamp is None:
        return None
    with _early_lock:
        pending = _early.pop((full, stamp), None)
    _drop_early()  # a prefetch nobody took would hold the worker
    if pending is None:
        pending = kept(infer_shapes_task).submit(b"", full, stamp)
    return pending, stamp


def submit_bytes(data: bytes) -> Pending:
    """Shape inference of a serialized model."""
    _drop_early()
    return kept(infer_shapes_task).submit(data)


def changed_file(exc: TaskFailed) -> bool:
    """True when the child found the file changed since the parent looked (resend as bytes)."""
    return exc.kind == FileChanged.__name__
