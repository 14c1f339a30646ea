"""Which TensorRT library is importable here, which version, and can it build: asked once per process.

``import tensorrt`` is done here and only inside functions, so the rest of the package (and a laptop without
a GPU) never pays for it or depends on it. A library is a row of :data:`LIBRARIES` (:class:`Library`): its
Python module, the modules that must be imported before it (TensorRT-RTX loads its shared libraries with
``import tensorrt_rtx_libs`` before ``import tensorrt_rtx_bindings``), the module names whose absence means
"not installed", and how to install it. TensorRT-RTX has the same Python API shape, so everything in
:mod:`explorer.trt` takes the imported module (named ``trt``) and works for either row.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from ..errors import ExplorerError


@dataclass(frozen=True)
class Library:
    """One TensorRT-shaped library: how to import it and how to talk about it."""

    key: str  # "tensorrt"
    title: str  # "TensorRT", in messages
    module: str  # the Python module: ``import <module> as trt``
    preload: tuple[str, ...] = ()  # imported first (e.g. the wheel that loads the shared libraries)
    missing_names: tuple[str, ...] = ()  # ModuleNotFoundError.name values meaning "not installed"
    not_installed: str = ""  # the sentence when it is not installed
    install_hint: str = ""  # how to get the shared libraries when only the bindings are there
    needs_gpu: bool = True  # its Builder (and so its ONNX parser) needs a CUDA device
    #: operators this library's parser treats differently from TensorRT's by design, with why; the version
    #: predictions follow TensorRT, so a disagreement on these ops is expected, not a prediction error
    differs_by_design: tuple[tuple[str, str], ...] = ()

    def parser_source(self, version: str) -> str:
        """The label of this library's parser verdicts: ``"TensorRT-RTX 1.7.1 parser"`` (major.minor.patch)."""
        return f"{self.title} {'.'.join(version.split('.')[:3])} parser"


TENSORRT = Library(
    key="tensorrt", title="TensorRT", module="tensorrt", missing_names=("tensorrt", "tensorrt_bindings"),
    not_installed=("TensorRT is not installed (no 'tensorrt' Python package); the explorer uses the published "
                   "support matrix and ONNX Runtime instead"),
    install_hint=("install TensorRT's libraries (tensorrt-cu12/cu13 from NVIDIA's package index, a TensorRT "
                  "tarball on LD_LIBRARY_PATH, or an NGC container)"))

TENSORRT_RTX = Library(
    key="tensorrt-rtx", title="TensorRT-RTX", module="tensorrt_rtx_bindings", preload=("tensorrt_rtx_libs",),
    missing_names=("tensorrt_rtx_bindings", "tensorrt_rtx_libs"),
    not_installed=("TensorRT-RTX is not installed (pip install tensorrt-rtx-cu13-bindings tensorrt-rtx-cu13-libs, "
                   "or the explorer's 'rtx' extra)"),
    install_hint="install tensorrt-rtx-cu13-libs (or tensorrt-rtx-cu12-libs) from PyPI",
    needs_gpu=False,  # its Builder and ONNX parser work on a machine without a GPU
    differs_by_design=(("NonZero", "TensorRT-RTX has no NonZero plugin, which TensorRT's parser imports NonZero "
                                   "through (onnx-tensorrt importNonZero)"),))

#: every library the explorer knows, by key
LIBRARIES: dict[str, Library] = {TENSORRT.key: TENSORRT, TENSORRT_RTX.key: TENSORRT_RTX}

_AVAILABILITY: dict[tuple[str, bool], tuple[bool, str]] = {}
_AVAILABILITY_LOCK = threading.Lock()


def available(require_gpu: bool = True, library: Library = TENSORRT) -> tuple[bool, str]:
    """Whether the library can be used here, with a reason a person can act on. Cached per process.

    ``require_gpu=False`` only asks whether the import works (bindings and shared libraries present);
    ``True`` (the default) also creates a ``trt.Builder``, which needs a CUDA device: the parser and the
    builder both do.
    """
    key = (library.key, bool(require_gpu))
    with _AVAILABILITY_LOCK:
        if key not in _AVAILABILITY:
            _AVAILABILITY[key] = _probe(library, require_gpu=bool(require_gpu))
        return _AVAILABILITY[key]


def library_of(trt) -> Library:
    """The row of an imported bindings module (``tensorrt`` or ``tensorrt_rtx_bindings``)."""
    name = getattr(trt, "__name__", "")
    for library in LIBRARIES.values():
        if name == library.module or name.startswith(library.module + "."):
            return library
    raise ValueError(f"{name!r} is not a TensorRT library the explorer knows")


def parser_available(library: Library = TENSORRT) -> tuple[bool, str]:
    """Whether this library's ONNX parser can run here (TensorRT's needs a GPU, TensorRT-RTX's does not).

    A library that needs no GPU is only looked up (:func:`installed`), not imported: its parser runs in a
    child process, and importing it here would map hundreds of MB into the caller (a notebook kernel)
    for nothing; the child says why when the import then fails."""
    if not library.needs_gpu:
        if installed(library):
            return True, library.title
        return False, library.not_installed
    return available(require_gpu=True, library=library)


def installed(library: Library = TENSORRT) -> bool:
    """Whether the library's Python modules are on the path (nothing imported)."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None for name in (*library.preload, library.module))
    except (ImportError, ValueError):
        return False


def reset_availability_cache() -> None:
    """Forget cached answers of :func:`available` (tests, or after installing TensorRT in a live kernel)."""
    with _AVAILABILITY_LOCK:
        _AVAILABILITY.clear()


def installed_version(library: Library = TENSORRT) -> str | None:
    """``"major.minor"`` of the importable library, or None."""
    ok, _ = available(require_gpu=False, library=library)
    if not ok:
        return None
    trt = import_library(library)
    major, minor = version_of(trt)
    return f"{major}.{minor}"


def import_library(library: Library = TENSORRT):
    """The library's module (``import tensorrt``), or an ExplorerError carrying :func:`available`'s reason."""
    ok, why = available(require_gpu=False, library=library)
    if not ok:
        raise ExplorerError(f"{library.title} cannot be used: {why}")
    return _import(library)


def import_tensorrt():
    """``import tensorrt`` or an ExplorerError saying why not."""
    return import_library(TENSORRT)


def version_of(trt) -> tuple[int, int]:
    """(major, minor) of an imported library module; the API conformance check reads ``major, minor =
    version_of(trt)`` as the version a branch is for."""
    parts = trt.__version__.split(".")
    return int(parts[0]), int(parts[1])


def create_builder(trt, logger, messages: list[str], error: type[ExplorerError] = ExplorerError):
    """``trt.Builder(logger)``, or ``error`` with what the logger heard (no GPU, no driver...)."""
    try:
        builder = trt.Builder(logger)
    except Exception as exc:  # pybind11 raises TypeError when createInferBuilder returns null
        detail = "; ".join(messages[-3:]) or str(exc)
        raise error(f"TensorRT could not create a builder: {detail}",
                    hint="the parser and the builder need an NVIDIA GPU and driver") from exc
    if builder is None:
        raise error("TensorRT could not create a builder", hint="is an NVIDIA GPU visible?")
    return builder


def describe_import_failure(exc: BaseException, library: Library = TENSORRT) -> str:
    """An import error in words: which shared library is missing and how to get it."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    lib = re.search(r"(lib[\w.+-]+\.so(?:\.\d+)*)", text)
    what = lib.group(1) if lib else f"the {library.title} libraries"
    if isinstance(exc, MemoryError) or re.search(r"cannot allocate memory|failed to map segment|out of memory",
                                                 text, re.I):
        # the library is there: loading it needs more memory than this process may use (a child's limit)
        return (f"{library.title} is installed, but loading {what} ran out of memory ({first}); give the process "
                "more memory (the parser child's limit in bytes: EXPLORER_SHAPE_INFERENCE_MEMORY) or close other programs")
    if lib and re.search(r"no such file|cannot open shared object", text, re.I):
        packaged = _packaged_copy(library, what)
        if packaged is not None:
            # the file is there: its loader wheel swallowed why loading it failed (e.g. out of memory); ask again
            real = _load_error(packaged)
            if real is not None:
                return describe_import_failure(OSError(real), library)
        return (f"the {library.module} Python bindings import but {what} is missing ({first}); "
                f"{library.install_hint}")
    if lib:
        return f"the {library.module} Python bindings import but {what} could not be loaded ({first})"
    return f"import {library.module} failed: {type(exc).__name__}: {text}"


def _packaged_copy(library: Library, filename: str) -> str | None:
    """The path of ``filename`` inside the library's loader packages (``tensorrt_rtx_libs``), if it is there."""
    import importlib.util

    for name in library.preload:
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            path = os.path.join(folder, filename)
            if os.path.isfile(path):
                return path
    return None


def _load_error(path: str) -> str | None:
    """Why ``dlopen`` refuses a shared library that exists, or None when it loads."""
    import ctypes

    try:
        ctypes.CDLL(path)
    except OSError as exc:
        return str(exc)
    return None


def _import(library: Library) -> Any:
    for name in library.preload:
        importlib.import_module(name)
    return importlib.import_module(library.module)


def _probe(library: Library, require_gpu: bool) -> tuple[bool, str]:
    try:
        trt = _import(library)
    except ModuleNotFoundError as exc:
        if exc.name in library.missing_names or exc.name in library.preload:
            return False, library.not_installed
        return False, f"import {library.module} failed: {exc}"
    except (ImportError, OSError) as exc:
        return False, describe_import_failure(exc, library)
    except Exception as exc:  # a broken install must never take the kernel down
        return False, f"import {library.module} failed: {type(exc).__name__}: {exc}"
    found = getattr(trt, "__version__", "?")
    if not require_gpu:
        return True, f"{library.title} {found}"
    from .api import interfaces

    messages: list[str] = []
    try:
        logger = interfaces(trt).Logger(None, trt.ILogger.ERROR, messages)
        builder = trt.Builder(logger)
    except Exception as exc:  # pybind11 raises TypeError when createInferBuilder returns null
        detail = "; ".join(messages[-3:]) or str(exc)
        return False, (f"no NVIDIA GPU visible: {library.title} {found} could not create a builder "
                       f"({detail}){_gpu_hint()}")
    if builder is None:
        return False, f"no NVIDIA GPU visible: {library.title} {found} could not create a builder{_gpu_hint()}"
    return True, f"{library.title} {found}"


def _gpu_hint() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return f"; CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    import shutil

    if not shutil.which("nvidia-smi"):
        return "; nvidia-smi is not on PATH (no NVIDIA driver?)"
    return ""


__all__ = ["LIBRARIES", "Library", "TENSORRT", "TENSORRT_RTX", "available", "create_builder", "describe_import_failure",
           "import_library", "import_tensorrt", "installed", "installed_version", "library_of", "parser_available",
           "reset_availability_cache", "version_of"]
