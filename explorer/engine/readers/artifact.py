"""One artifact, whatever it is: a TREx folder, a trtexec JSON export or log, the TensorRT-RTX EP's trace.

:func:`artifact_kind` tells them apart by what they hold (a folder, the JSON's shape, a log's lines), so one
path is enough: ``explorer.load_report("run/")``, ``load_report("trtexec.log")``, ``python -m explorer
inspect trace.json``.
"""

from __future__ import annotations

import os

from ...errors import ArtifactError
from ..report import EngineReport
from .common import describe, load_json, sniff, wrong_tool

#: what :func:`artifact_kind` returns, and what reads it
KINDS = ("folder", "layer-info", "profile", "times", "rtx-trace", "log")


def artifact_kind(source) -> str:
    """``"folder"``, ``"layer-info"``, ``"profile"``, ``"times"``, ``"rtx-trace"`` or ``"log"`` (a text file:
    a build log and/or a ``--dumpProfile`` table); an :class:`ArtifactError` for anything else."""
    from .rtx_trace import is_rtx_trace

    if isinstance(source, (str, os.PathLike)) and not _is_text(source) and os.path.isdir(os.fspath(source)):
        return "folder"
    if looks_like_json(source):
        obj, path = load_json(source)
        found = sniff(obj)
        if is_rtx_trace(obj) or (isinstance(obj, dict) and is_rtx_trace(obj.get("traceEvents"))):
            return "rtx-trace"
        if found in ("layer-info", "profile", "times"):
            return found
        if found == "chrome-trace":
            raise ArtifactError("a Chrome trace without TensorRT-RTX layer events (cat 'nv::trt::layer'): "
                                "ONNX Runtime's session profile is read by the onnxruntime build backend",
                                file=path or describe(source))
        raise wrong_tool(obj, "layer-info", path or describe(source))
    return "log"


def read_artifact(source, *, engine: str | None = None) -> EngineReport:
    """The partial report of one artifact (see :func:`artifact_kind`); ``engine`` picks one engine of a
    folder that holds several."""
    from . import read_layer_info, read_profile, read_times
    from .rtx_trace import read_rtx_trace
    from .trex_folder import read_trex_folder

    kind = artifact_kind(source)
    if kind == "folder":
        return read_trex_folder(source, engine)
    if engine is not None:
        raise ArtifactError(f"engine={engine!r} picks an engine of a folder; this is one file",
                            file=describe(source))
    if kind == "layer-info":
        return read_layer_info(source)
    if kind == "profile":
        return read_profile(source)
    if kind == "times":
        return read_times(source)
    if kind == "rtx-trace":
        return read_rtx_trace(source)
    return read_log(source)


def read_log(source) -> EngineReport:
    """A trtexec / TensorRT log: its build records (tactics, memory, layers) and its ``--dumpProfile`` table,
    whichever it has."""
    from . import read_build_log
    from .dump_profile import has_profile_table, log_has_profile_table, read_dump_profile

    if isinstance(source, (str, os.PathLike)) and not _is_text(source):
        table = log_has_profile_table(source)
    elif isinstance(source, (bytes, bytearray)):
        table = has_profile_table(bytes(source).decode("utf-8", errors="replace").splitlines())
    elif isinstance(source, str):
        table = has_profile_table(source.splitlines())
    else:
        source = [str(line) for line in source]
        table = has_profile_table(source)
    built = read_build_log(source)
    if not table:
        return built
    profiled = read_dump_profile(source)
    if not (built.layers or built.tactics or built.memory.layers or built.memory.engine_totals):
        return profiled  # a profiling run's log: nothing about the build to add (nor its "no tactics" note)
    return EngineReport.merge(built, profiled)


def _is_text(source) -> bool:
    """A string that is the artifact's text rather than a path."""
    return isinstance(source, str) and ("\n" in source or source.lstrip()[:1] in ("{", "["))


def looks_like_json(source) -> bool:
    """Whether the source is JSON by its name or first bytes (cheap: the file is not parsed)."""
    if isinstance(source, (dict, list)):
        return True
    if isinstance(source, (bytes, bytearray)):
        return bytes(source).lstrip()[:1] in (b"{", b"[")
    if isinstance(source, str) and _is_text(source):
        return source.lstrip()[:1] in ("{", "[")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith((".json", ".trace")):
            return True
        try:
            with open(path, "rb") as handle:
                head = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        except OSError as exc:
            raise ArtifactError(f"cannot read: {exc.strerror or exc}", file=path) from None
        if head[:1] == b"{":
            return True
        # a JSON array opens with "[" and a record; a log line with "[06/02/2026-..." or "[TensorRT]"
        return head[:1] == b"[" and head[1:].lstrip()[:1] in (b"{", b"[", b"]", b'"')
    return False


__all__ = ["KINDS", "artifact_kind", "looks_like_json", "read_artifact", "read_log"]
