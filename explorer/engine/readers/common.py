"""What every reader needs: open a path, a JSON string or an already-parsed object, and name the file.

Errors are :class:`~explorer.errors.ArtifactError` naming the file, the place (JSON line/column or JSON
path) and, when the JSON plainly came from another tool, which tool and which flag reads it.
"""

from __future__ import annotations

import codecs
import json
import os
from typing import Any, Iterator, Union

from ...errors import ArtifactError, check_memory_for, regular_file_size

Source = Union[str, os.PathLike, bytes, dict, list]

#: what each reader expects, for "this is X, not Y" messages
TOOLS = {
    "layer-info": ("trtexec --exportLayerInfo (or the engine inspector)", "--graph"),
    "profile": ("trtexec --exportProfile", "--profile"),
    "times": ("trtexec --exportTimes", "--times"),
    "build-metadata": ("trtexec build metadata (build options)", None),
    "chrome-trace": ("a Chrome trace (ONNX Runtime profiler or Nsight)", None),
    "rtx-trace": ("the TensorRT-RTX execution provider's profile (a Chrome trace of nv::trt::layer events)",
                  "artifact= (CLI: inspect FILE)"),
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


#: parsed JSON takes several times its text in memory (dicts, floats, strings): the up-front check's factor
JSON_MEMORY_FACTOR = 10
#: files bigger than this are parsed record by record where the reader can (see :func:`iter_json_array`)
STREAM_JSON_BYTES = 32 * 1024**2
#: one record of a streamed array may not be longer than this (trtexec's are a few hundred characters)
MAX_RECORD_CHARS = 64 * 1024**2


def load_json(source: Source) -> tuple[Any, str | None]:
    """Parse ``source`` (path, JSON text, bytes, or already-parsed dict/list) -> (object, file path or None)."""
    if isinstance(source, (dict, list)):
        return source, None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(_decode(bytes(source), None), None), None
    if _looks_like_json_text(source):
        return _parse(source, None), None
    if not isinstance(source, (str, os.PathLike)):
        raise ArtifactError(f"cannot read a TensorRT artifact from {type(source).__name__}; "
                            "give a path, JSON text or a parsed dict/list")
    path = os.fspath(source)
    text = read_text(path)
    return _parse(text, path), path


def file_size(path: str) -> int:
    """The size of a regular file, or an :class:`ArtifactError` saying why it cannot be read."""
    return regular_file_size(path, ArtifactError)


def read_text(path: str) -> str:
    size = file_size(path)
    check_memory_for(size * JSON_MEMORY_FACTOR, f"reading this {size / 1024**2:.0f} MiB JSON file", path,
                     error=ArtifactError)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ArtifactError(f"cannot read: {exc.strerror or exc}", file=path) from None
    except MemoryError:
        raise ArtifactError(f"not enough memory to read this {size / 1024**2:.0f} MiB file", file=path) from None
    if not data.strip():
        raise ArtifactError("empty file", file=path)
    return _decode(data, path)


def _decode(data: bytes, path: str | None) -> str:
    """UTF-8 (with or without a byte order mark) or BOM-marked UTF-16/32; binary data is refused."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in data[:4096]:
        raise ArtifactError("binary file, not JSON (a serialized engine? give trtexec's JSON exports)",
                            file=path or "<bytes>")
    return data.decode("utf-8", errors="replace")


def _parse(text: str, path: str | None) -> Any:
    if text.startswith("\ufeff"):
        text = text[1:]
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
    except RecursionError:
        raise ArtifactError("JSON nested too deeply to read (trtexec never writes such nesting)",
                            file=path or "<JSON text>") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits (Python's int conversion limit)
        raise ArtifactError(f"not valid JSON ({exc})", file=path or "<JSON text>") from None
    except MemoryError:
        raise ArtifactError("not enough memory to parse this JSON", file=path or "<JSON text>") from None


def iter_json_array(path: str, *, chunk_size: int = 1 << 18) -> Iterator[Any]:
    """The elements of a top-level JSON array, parsed one at a time from the file (memory: one chunk plus
    one element), so hundreds of MB of records never exist as one text or one list."""
    decoder = json.JSONDecoder()
    with open(path, "rb") as handle:
        reader = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        buf, pos, eof, line = "", 0, False, 1
        wanted = chunk_size

        def more(grow: bool = False) -> bool:
            nonlocal buf, pos, eof, wanted, line
            if eof:
                return False
            if grow:  # an element bigger than what is buffered: read faster, linear overall
                wanted = min(wanted * 2, 256 * chunk_size)
            data = handle.read(wanted)
            if not data:
                eof = True
                buf += reader.decode(b"", final=True)
                return False
            if b"\x00" in data:
                raise ArtifactError("binary data in a JSON file", file=path)
            line += buf.count("\n", 0, pos)
            buf = buf[pos:] + reader.decode(data)
            pos = 0
            return True

        def skip_space() -> None:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or not more():
                    return

        skip_space()
        if pos >= len(buf) or buf[pos] != "[":
            raise ArtifactError("expected a JSON array of records", file=path, where=f"line {line}")
        pos += 1
        index = 0
        skip_space()
        if pos < len(buf) and buf[pos] == "]":
            return
        while True:
            while True:
                try:
                    element, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    # more text may complete the record (grow the reads only for a record bigger than half a
                    # read: else a read boundary split it); an invalid record is not buffered past the bound
                    pending = len(buf) - pos
                    if pending < MAX_RECORD_CHARS and more(grow=pending > wanted // 2):
                        continue
                    raise ArtifactError(f"truncated or invalid JSON in record {index} ({exc.msg})", file=path,
                                        where=f"line {line + exc.lineno - 1}",
                                        hint="was the file cut short while trtexec was writing it?") from None
                except RecursionError:
                    raise ArtifactError("JSON nested too deeply to read", file=path, where=f"[{index}]") from None
                except ValueError as exc:  # JSONDecodeError is handled above; this is int() refusing
                    raise ArtifactError(f"not valid JSON ({exc})", file=path, where=f"[{index}]") from None
                if end >= len(buf) and not eof:  # a number may continue in the next chunk
                    if more():
                        continue
                break
            yield element
            index += 1
            pos = end
            skip_space()
            if pos >= len(buf):
                raise ArtifactError(f"truncated JSON after record {index - 1} (the array does not end)", file=path,
                                    hint="was the file cut short while trtexec was writing it?")
            if buf[pos] == "]":
                return
            if buf[pos] != ",":
                raise ArtifactError(f"invalid JSON after record {index - 1} (expected ',' or ']')", file=path)
            pos += 1
            skip_space()


def short_repr(value: Any, limit: int = 40) -> str:
    """A value quoted for an error message, at most ``limit`` characters (safe for huge numbers too)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
        if any(isinstance(e, dict) and e.get("cat") == "nv::trt::layer" for e in obj[:64]):
            return "rtx-trace"
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
        what = tool if "trtexec" not in tool or tool.startswith("a ") else f"{tool} output"
        return ArtifactError(f"this is {what}, not {wanted} output", file=file or "<JSON>", hint=hint)
    kind = type(obj).__name__
    return ArtifactError(f"not {wanted} output (unexpected JSON {kind})", file=file or "<JSON>")
