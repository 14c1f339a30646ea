"""Model inputs for every backend: sizes for dynamic dimensions, and the one random-input recipe.

A dynamic dimension never silently becomes 1: :func:`choose_dims` chooses a size that means something
(the model's metadata, its dimension's name, its place in an NCHW image or a sequence), says which and why,
and refuses a chosen spatial size of 1 (a 1-pixel image runs, and its times mean nothing). ONNX Runtime runs
at the sizes chosen; TensorRT builds its profile for them (min = opt = max) when none are given.

Random values: fixed seed, one generator for all inputs in order: floats standard normal, integers 0 or 1
(valid indices for any table, embedding or gather), booleans random. Where the names, types and shapes come
from is the backend's business (the ONNX graph for ONNX Runtime, the engine's I/O tensors for TensorRT).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import BuildError


#: an image's height and width when neither the user nor the model's metadata give them (a multiple of 32,
#: which detectors with five stride-2 stages need, and YOLO's export size)
IMAGE_SIZE = 640
#: a sequence's length (tokens, frames, samples) when nobody gives one
SEQUENCE_LENGTH = 128

_BATCH = re.compile(r"(^|[^a-z])(n|b|bs|batch|batch_?size|num_?batch(es)?)([^a-z]|$)|batch", re.I)
_HEIGHT = re.compile(r"(^|[^a-z])(h|height|img_?h|image_?height|rows)([^a-z]|$)|height", re.I)
_WIDTH = re.compile(r"(^|[^a-z])(w|width|img_?w|image_?width|cols)([^a-z]|$)|width", re.I)
_SEQUENCE = re.compile(r"seq|len|token|time|frame|sample|step|word|char", re.I)


def graph_input_specs(proto) -> list[tuple[str, int, list]]:
    """(name, ONNX elem_type, dims) of each real graph input (initializers excluded); dims are ints,
    strings (symbolic) or None (unknown)."""
    inits = {t.name for t in proto.graph.initializer}
    specs = []
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or None)
        specs.append((vi.name, tt.elem_type, dims))
    return specs


@dataclass(frozen=True)
class ChosenDim:
    """A dynamic dimension the explorer gave a size to (nobody else did), and why."""

    input: str
    index: int
    param: str | None  # the model's name for it (dim_param), if any
    value: int
    reason: str  # e.g. "image height (default 640)", "metadata imgsz"

    def describe(self) -> str:
        name = f"dimension {self.param!r}" if self.param else f"dimension {self.index}"
        return f"{name} of input {self.input!r} was set to {self.value} ({self.reason})"


def choose_dims(name: str, elem_type: int, dims: list, metadata: Mapping[str, str] | None = None) -> list[ChosenDim]:
    """A size for each dynamic dimension of one input, with the reason: the model's metadata (``imgsz``,
    ``height``/``width``, ``batch``), the dimension's name (batch -> 1, height/width -> an image size,
    sequence-like -> :data:`SEQUENCE_LENGTH`), else its place (the first dimension a batch of 1; an NCHW or
    NHWC image's spatial ones :data:`IMAGE_SIZE`; others a sequence). Raises :class:`BuildError` rather than
    choose an image height or width of 1."""
    metadata = metadata or {}
    rank = len(dims)
    height, width, where = _metadata_image_size(metadata)
    spatial = spatial_axes(elem_type, dims)
    chosen = []
    for i, d in enumerate(dims):
        if isinstance(d, int) and d > 0:
            continue
        param = d if isinstance(d, str) and d else None
        label = param or ""
        if _BATCH.search(label) or (i == 0 and rank > 1):
            batch = _int(metadata.get("batch")) or 1
            chosen.append(ChosenDim(name, i, param, batch,
                                    "metadata batch" if metadata.get("batch") and batch != 1 else "batch of 1"))
            continue
        axis = ("height" if _HEIGHT.search(label) else "width" if _WIDTH.search(label) else None) or spatial.get(i)
        if axis:
            size = height if axis == "height" else width
            chosen.append(ChosenDim(name, i, param, size or IMAGE_SIZE,
                                    f"image {axis}, from metadata {where}" if size else
                                    f"image {axis}, default {IMAGE_SIZE}"))
            continue
        chosen.append(ChosenDim(name, i, param, SEQUENCE_LENGTH,
                                f"{'sequence length' if _SEQUENCE.search(label) or rank in (2, 3) else 'size'}, "
                                f"default {SEQUENCE_LENGTH}"))
    for c in chosen:
        if c.value < 1 or (c.value == 1 and "image" in c.reason):
            raise BuildError(f"{c.describe()}, which would time a degenerate input",
                             hint=f"give a shape for {name!r}")
    return chosen


def chosen_note(name: str, shape: Sequence[int], chosen: Iterable[ChosenDim], done: str, detail: str = "") -> str:
    """The report's note on one input's chosen sizes: ``done`` says what was made at them ("ran at",
    "was built for"), ``detail`` follows the shape ("(min = opt = max)")."""
    said = ", ".join(f"{repr(c.param) if c.param else f'dim {c.index}'} = {c.value} ({c.reason})" for c in chosen)
    return (f"input {name!r} has dynamic dimensions and {done} {shape_text(shape)}{' ' + detail if detail else ''}: "
            f"{said}; "
            f"give a shape (e.g. --shape {name}:{shape_text(shape)}) for other sizes")


def shape_text(shape: Sequence[int]) -> str:
    """``1x3x224x224``, the way shapes are given (``--shape``); ``(scalar)`` for rank 0."""
    return "x".join(str(d) for d in shape) if len(shape) else "(scalar)"


def spatial_axes(elem_type: int, dims: list) -> dict[int, str]:
    """Height and width axes of a rank-4 floating image input: NHWC when only the last dimension is a channel
    count (1, 3 or 4), else NCHW."""
    if len(dims) != 4 or elem_type not in (1, 10, 11, 16):
        return {}
    channels = (1, 3, 4)
    if dims[3] in channels and dims[1] not in channels:
        return {1: "height", 2: "width"}
    return {2: "height", 3: "width"}


def _metadata_image_size(metadata: Mapping[str, str]) -> tuple[int | None, int | None, str]:
    """(height, width, key) from metadata_props: ``imgsz`` (Ultralytics: ``[640, 640]`` or ``640``),
    ``image_size``/``input_size``, or ``height`` and ``width``."""
    for key in ("imgsz", "image_size", "input_size", "img_size"):
        if key in metadata:
            try:
                value = ast.literal_eval(metadata[key].strip())
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, int) and value > 0:
                return value, value, f"{key}={metadata[key]}"
            if isinstance(value, (list, tuple)) and len(value) >= 2 and all(isinstance(v, int) and v > 0
                                                                            for v in value[-2:]):
                return int(value[-2]), int(value[-1]), f"{key}={metadata[key]}"
    height, width = _int(metadata.get("height")), _int(metadata.get("width"))
    if height or width:
        return height, width, "height/width"
    return None, None, ""


def _int(text: Any) -> int | None:
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def random_feeds(specs: Iterable[tuple[str, Any, Sequence[int]]], seed: int = 0) -> dict[str, np.ndarray]:
    """``{name: array}`` for ``specs`` of ``(name, numpy dtype, shape)``; raises :class:`BuildError` for a
    type random values cannot be made for (strings, complex numbers)."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for name, dtype, shape in specs:
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if dtype.kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.random(shape) < 0.5
        elif dtype.kind in "iu":
            feeds[name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            raise BuildError(f"input {name!r} has type {dtype}, which random inputs cannot be made for")
    return feeds


__all__ = ["IMAGE_SIZE", "SEQUENCE_LENGTH", "ChosenDim", "choose_dims", "chosen_note", "graph_input_specs",
           "random_feeds", "shape_text", "spatial_axes"]
