"""What every reader needs: open a path, a JSON string or an already-parsed object, and name the file.

Errors are :class:`~explorer.errors.ArtifactError` naming the file, the place (JSON line/column or JSON
path) and, when the JSON plainly came from another tool, which tool and which flag reads it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Union

from ...errors import ArtifactError

Source = Union[str, os.PathLike, bytes, dict, list]

#: what each reader expects, for "this is X, not Y" messages
TOOLS = {
    "layer-info": ("trtexec --exportLayerInfo (or the engine inspector)", "--graph"),
    "profile": ("trtexec --exportProfile", "--profile"),
    "times": ("trtexec --exportTimes", "--times"),
    "build-metadata": ("trtexec build metadata (build options)", None),
    "chrome-trace": ("a Chrome trace (ONNX Runtime profiler or Nsight), not a trtexec export", None),
}


def describe(source: Any) -> str:
    """A short name for messages and provenance: the file's base name, or what kind of object it was."""
    if isinstance(source, (str, os.PathLike)) and not _looks_like_json_text(source):
        return os.path.basename(os.fspath(source)) or os.fspath(source)
    if isinstance(source, (dict, list)):
        return "<parsed JSON>"
    return "<JSON text>"


def _looks_like_json_text(source: Any) -> bool:
    return isinstance(source, str) and source.lstrip()[:1] in ("{", "[")


def load_json(source: Source) -> tuple[Any, str | None]:
    """Parse ``source`` (path, JSON text, bytes, or already-parsed dict/list) -> (object, file path or None)."""
    if isinstance(source, (dict, list)):
        return source, None
    if isinstance(source, (bytes, bytearray)):
        return _parse(bytes(source).decode("utf-8", errors="replace"), None), None
    if _looks_like_json_text(source):
        return _parse(source, None), None
    if not isinstance(source, (str, os.PathLike)):
        raise ArtifactError(f"cannot read a TensorRT artifact from {type(source).__name__}; "
                            "give a path, JSON text or a parsed dict/list")
    path = os.fspath(source)
    text = read_text(path)
    return _parse(text, path), path


def read_text(path: str) -> str:
    if not os.path.exists(path):
        raise ArtifactError("file not found", file=path)
    if os.path.isdir(path):
        raise ArtifactError("is a directory, not a file", file=path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ArtifactError(f"cannot read: {exc.strerror or exc}", file=path) from None
    if not data.strip():
        raise ArtifactError("empty file", file=path)
    if b"\x00" in data[:4096]:
        raise ArtifactError("binary file, not JSON (a serialized engine? give trtexec's JSON exports)", file=path)
    return data.decode("utf-8", errors="replace")


def _parse(text: str, path: str | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        tail = text.rstrip()
        truncated = exc.pos >= len(tail) or not tail.endswith(("}", "]"))
        problem = f"not valid JSON ({exc.msg})"
        if truncated:
            problem = f"truncated JSON ({exc.msg}; the document does not end)"
        raise ArtifactError(problem, file=path or "<JSON text>", where=f"line {exc.lineno}, column {exc.colno}",
                            hint="was the file cut short while trtexec was writing it?" if truncated else None
                            ) from None


def sniff(obj: Any) -> str | None:
    """Which tool wrote this JSON: a key of :data:`TOOLS`, or None when unknown."""
    if isinstance(obj, dict):
        if "Layers" in obj:
            return "layer-info"
        if "traceEvents" in obj:
            return "chrome-trace"
        if "model_options" in obj or "build_options" in obj:
            return "build-metadata"
        return None
    if isinstance(obj, list) and obj:
        first = obj[0]
        if isinstance(first, dict):
            if set(first) == {"count"} or "timeMs" in first or "averageMs" in first:
                return "profile"
            if "latencyMs" in first or "computeMs" in first or "startEnqMs" in first:
                return "times"
            if "ph" in first and ("dur" in first or "ts" in first):
                return "chrome-trace"
    return None


def wrong_tool(obj: Any, expected: str, file: str | None) -> ArtifactError:
    """An error for JSON that is valid but not what this reader reads, naming what it looks like."""
    wanted, _ = TOOLS[expected]
    found = sniff(obj)
    if found and found != expected:
        tool, flag = TOOLS[found]
        hint = f"give it to {flag}" if flag else None
        return ArtifactError(f"this is {tool} output, not {wanted} output", file=file or "<JSON>", hint=hint)
    kind = type(obj).__name__
    return ArtifactError(f"not {wanted} output (unexpected JSON {kind})", file=file or "<JSON>")
