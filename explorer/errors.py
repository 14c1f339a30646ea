"""One error vocabulary for the whole package.

Every public function raises one of these for bad input, so callers (the CLI, the widget, a notebook) can
catch :class:`ExplorerError` alone and show the message: it names the file, the place and a hint.

Two helpers every input boundary shares: :func:`printable` (names from models and logs reach a terminal
as visible escapes, never as control sequences) and :func:`check_memory_for` (work the machine cannot hold
is refused up front, with the numbers).
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class: something the user gave us cannot be used, and the message says why."""

    def __init__(self, problem: str, *, file: str | None = None, where: str | None = None,
                 hint: str | None = None) -> None:
        self.problem = problem
        self.file = file
        self.where = where
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.where:
            parts.append(str(self.where))
        head = ": ".join(parts)
        text = f"{head}: {self.problem}" if head else self.problem
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


def printable(text: object, limit: int | None = None) -> str:
    """Text that is safe to print on a terminal: names from models and logs are data, never commands.

    Control characters (ANSI escapes, bell, carriage return, newline), invisible format characters and
    bidirectional overrides become visible escapes (``\\x1b``, ``\\u202e``); ``limit`` shortens very long
    text (a 1 MB node name) to about that many characters, saying how long it was.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = f"{text[:max(limit - 20, 1)]}... ({len(text)} characters)"
    if text.isprintable():  # the common case: nothing to escape
        return text
    # not printable: controls, format characters, surrogates, separators other than the space
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def check_memory_for(needed: int, what: str, file: str | None, error: type[ExplorerError] | None = None) -> None:
    """Refuse up front, with the numbers, work that needs more memory than the machine has available
    (raises ``error``, :class:`ModelError` by default)."""
    if needed < 256 * 1024**2:
        return  # small: not worth asking the OS
    try:
        import psutil

        available = psutil.virtual_memory().available
    except Exception:  # psutil missing or the platform does not say: try anyway
        return
    if needed > available:
        raise (error or ModelError)(
            f"{what} needs about {_size(needed)} of memory and only {_size(available)} is available",
            file=file, hint="close other programs, or use a machine with more memory")


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


class ModelError(ExplorerError):
    """An ONNX model cannot be read or breaks ONNX's rules (not ONNX, truncated, cycle, dangling input...)."""


class ArtifactError(ExplorerError):
    """A TensorRT artifact (trtexec JSON, build log, engine inspector output) cannot be read."""


class BuildError(ExplorerError):
    """An engine build failed; the message carries TensorRT's or ONNX Runtime's own words."""


class ExplorerWarning(UserWarning):
    """Something is off but analysis goes on (e.g. missing external data: structure is still analysed)."""


def regular_file_size(path: str, error: type[ExplorerError], what: str = "a file") -> int:
    """The size of a regular file, or ``error`` saying why it cannot be read (missing, a directory, a
    device or pipe that would never end, a NUL in the path)."""
    import os
    import stat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error("file not found", file=path) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise error(f"cannot read file: {getattr(exc, 'strerror', None) or exc}", file=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"is a directory, not {what}", file=path)
    if not stat.S_ISREG(info.st_mode):
        raise error(f"not a regular file (a device, pipe or socket), not {what}", file=path)
    return info.st_size
