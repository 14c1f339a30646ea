"""One error vocabulary for the whole package.

Every public function raises one of these for bad input, so callers (the CLI, the widget, a notebook) can
catch :class:`ExplorerError` alone and show the message: it names the file, the place and a hint.
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


class ModelError(ExplorerError):
    """An ONNX model cannot be read or breaks ONNX's rules (not ONNX, truncated, cycle, dangling input...)."""


class ArtifactError(ExplorerError):
    """A TensorRT artifact (trtexec JSON, build log, engine inspector output) cannot be read."""


class BuildError(ExplorerError):
    """An engine build failed; the message carries TensorRT's or ONNX Runtime's own words."""


class ExplorerWarning(UserWarning):
    """Something is off but analysis goes on (e.g. missing external data: structure is still analysed)."""
