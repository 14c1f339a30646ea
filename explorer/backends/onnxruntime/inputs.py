"""The model's inputs: their specs, concrete shapes for a build, and the values to run it on.

A dynamic dimension never silently becomes 1: :func:`plan_inputs` chooses a size that means something
(the model's metadata, its dimension's name, its place in an NCHW image or a sequence), says which and why,
and refuses a chosen spatial size of 1 (a 1-pixel image runs, and its times mean nothing).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from math import prod
from typing import Any, Mapping

import numpy as np
from onnx import helper

from ...errors import BuildError
from ..inputs import random_feeds

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


@dataclass
class InputPlan:
    """The concrete shape of every input, the dimensions chosen for the user, and the values given."""

    shapes: dict[str, tuple[int, ...]]
    chosen: list[ChosenDim] = field(default_factory=list)
    given: list[str] = field(default_factory=list)  # inputs whose shape the user gave
    values: dict[str, Any] = field(default_factory=dict)  # input -> the value the user gave (else random)
    declared: dict[str, list] = field(default_factory=dict)  # input -> its dims as the model declares them

    def notes(self) -> list[str]:
        """One note per input with chosen dimensions, and one per given value."""
        out = []
        for name in self.shapes:
            dims = [c for c in self.chosen if c.input == name]
            if dims:
                said = ", ".join(f"{repr(c.param) if c.param else f'dim {c.index}'} = {c.value} ({c.reason})"
                                 for c in dims)
                out.append(f"input {name!r} has dynamic dimensions and ran at {_x(self.shapes[name])}: {said}; "
                           f"give a shape (e.g. --shape {name}:{_x(self.shapes[name])}) for other sizes")
        for name, value in self.values.items():
            out.append(f"input {name!r} = {_value_text(value)} (given), not random")
        return out

    def inputs_text(self, seed: int) -> str:
        """What the runs were fed, for the report's settings."""
        text = f"random, seed {seed}"
        if self.values:
            text += "; " + ", ".join(f"{k} = {_value_text(v)}" for k, v in self.values.items()) + " (given)"
        return text

    def failure(self, what: str, message: str) -> BuildError | None:
        """The error to raise when ONNX Runtime fails at these shapes: the explorer's words (which sizes were
        used and where they came from, a shape to give), not ONNX Runtime's; None when no input is dynamic."""
        dynamic = [n for n, dims in self.declared.items() if any(not (isinstance(d, int) and d > 0) for d in dims)]
        if not dynamic:
            return None
        parts = [c.describe() for c in self.chosen]
        for n in self.given:
            dims = self.declared[n]
            named = ", ".join(f"{repr(d) if d else f'dim {i}'} = {self.shapes[n][i]}" for i, d in enumerate(dims)
                              if not isinstance(d, int) and i < len(self.shapes[n]))
            parts.append(f"input {n!r} was given as {_x(self.shapes[n])}" + (f" ({named})" if named else ""))
        node = _failing_node(message)
        head = f"ONNX Runtime could not {what} the model at the input shapes used"
        if node:
            head += f" (node {node} failed)"
        examples = ", ".join(f"{n}:{_x(_example(self.declared[n], self.shapes[n]))}" for n in dynamic)
        return BuildError(f"{head}: {'; '.join(parts)}",
                          hint=f"give shapes the model accepts, such as {examples} (--shape / shapes= / the Build "
                               "tab's shape fields)")


def plan_inputs(proto, shapes: Mapping[str, Any] | None = None,
                values: Mapping[str, Any] | None = None) -> InputPlan:
    """Concrete shapes for every input: the ``opt`` shape from ``shapes`` when given, else the declared dims
    with each dynamic one chosen by :func:`choose_dims` (noted); ``values`` fix an input's contents (a control
    input such as silero-vad's ``sr``): a scalar fills its shape, a list must have its size."""
    shapes = dict(shapes or {})
    values = dict(values or {})
    specs = graph_input_specs(proto)
    names = [name for name, _, _ in specs]
    for what, given in (("shapes", shapes), ("values", values)):
        unknown = [name for name in given if name not in names]
        if unknown:
            raise BuildError(f"{what} given for {', '.join(repr(n) for n in unknown)}, which the model has no "
                             f"input named; its inputs are {', '.join(repr(n) for n in names) or '(none)'}")
    metadata = {p.key: p.value for p in proto.metadata_props}
    plan = InputPlan(shapes={})
    for name, elem_type, dims in specs:
        plan.declared[name] = list(dims)
        if name in shapes:
            plan.shapes[name] = _check_given(name, dims, tuple(int(d) for d in shapes[name][1]))
            plan.given.append(name)
        elif name in values and any(not (isinstance(d, int) and d > 0) for d in dims):
            size = int(np.asarray(values[name]).size)
            plan.shapes[name] = tuple(size if not (isinstance(d, int) and d > 0) else d for d in dims)
        else:
            chosen = choose_dims(name, elem_type, dims, metadata)
            plan.chosen.extend(chosen)
            by_index = {c.index: c.value for c in chosen}
            plan.shapes[name] = tuple(by_index.get(i, d) for i, d in enumerate(dims))
        if name in values:
            plan.values[name] = _check_value(name, elem_type, values[name], plan.shapes[name])
    return plan


def choose_dims(name: str, elem_type: int, dims: list, metadata: Mapping[str, str] | None = None) -> list[ChosenDim]:
    """A size for each dynamic dimension of one input, with the reason: the model's metadata (``imgsz``,
    ``height``/``width``, ``batch``), the dimension's name (batch -> 1, height/width -> an image size,
    sequence-like -> :data:`SEQUENCE_LENGTH`), else its place (the first dimension a batch of 1; an NCHW or
    NHWC image's spatial ones :data:`IMAGE_SIZE`; others a sequence). Raises :class:`BuildError` rather than
    choose an image height or width of 1."""
    metadata = metadata or {}
    rank = len(dims)
    height, width, where = _metadata_image_size(metadata)
    spatial = _spatial_axes(elem_type, dims)
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


def resolve_input_shapes(proto, shapes: Mapping[str, Any] | None) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Concrete shapes for every input and notes on the dimensions chosen (see :func:`plan_inputs`)."""
    plan = plan_inputs(proto, shapes)
    return plan.shapes, plan.notes()


def random_inputs(proto, shapes: Mapping[str, tuple[int, ...]], seed: int = 0,
                  values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Random inputs of the model's types at ``shapes`` (from :func:`plan_inputs`), fixed seed (see
    :func:`explorer.backends.inputs.random_feeds`: floats standard normal, integers 0 or 1, booleans random),
    except the inputs ``values`` fixes (checked by :func:`plan_inputs`)."""
    values = dict(values or {})
    specs = []
    dtypes = {}
    for name, elem_type, _ in graph_input_specs(proto):
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
        except Exception:
            raise BuildError(f"input {name!r} has ONNX element type {elem_type}, which random inputs cannot "
                             "be made for") from None
        dtypes[name] = dtype
        specs.append((name, dtype, shapes[name]))
    feeds = random_feeds(specs, seed)
    for name, value in values.items():
        shape = tuple(shapes[name])
        array = np.asarray(value, dtype=dtypes[name])
        feeds[name] = np.full(shape, array.item(), dtype=dtypes[name]) if array.size == 1 else array.reshape(shape)
    return feeds


def _check_given(name: str, dims: list, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape given, if it fits the declared rank and fixed sizes (before ONNX Runtime says it worse)."""
    declared = "[" + ", ".join(str(d) if isinstance(d, int) and d > 0 else (d or "?") for d in dims) + "]"
    if len(shape) != len(dims):
        raise BuildError(f"input {name!r} has {len(dims)} dimension(s) ({declared}); the shape given, {_x(shape)}, "
                         f"has {len(shape)}")
    fixed = [(i, d, g) for i, (d, g) in enumerate(zip(dims, shape)) if isinstance(d, int) and d > 0 and d != g]
    if fixed:
        i, d, g = fixed[0]
        raise BuildError(f"input {name!r} is {declared}: its dimension {i} is fixed at {d}, the shape given has {g}")
    return shape


def _check_value(name: str, elem_type: int, value: Any, shape: tuple[int, ...]) -> Any:
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError
        cast = array.astype(dtype)
    except (TypeError, ValueError):
        raise BuildError(f"value of input {name!r} must be a number or a list of numbers, got {value!r}") from None
    if dtype.kind in "iu" and not np.array_equal(cast, array):
        raise BuildError(f"input {name!r} holds integers ({dtype}), got {value!r}")
    if cast.size != 1 and cast.size != prod(shape):
        raise BuildError(f"value of input {name!r} has {cast.size} elements; its shape {_x(shape)} holds "
                         f"{prod(shape)} (a single number fills any shape)")
    return cast.tolist()


def _spatial_axes(elem_type: int, dims: list) -> dict[int, str]:
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


def _example(declared: list, used: tuple[int, ...]) -> tuple[int, ...]:
    """A shape to suggest: the one used with each dynamic image height/width of 1 raised to :data:`IMAGE_SIZE`
    and others rounded up to a multiple of 32 (what strided backbones need)."""
    spatial = _spatial_axes(1, declared)
    out = []
    for i, d in enumerate(used):
        if i in spatial and not isinstance(declared[i], int):
            d = IMAGE_SIZE if d <= 1 else -(-d // 32) * 32
        out.append(d)
    return tuple(out)


def _failing_node(message: str) -> str | None:
    """``'/model.3/Concat' (Concat)`` from ONNX Runtime's "running Concat node. Name:'/model.3/Concat'"."""
    name = re.search(r"Name:\s*'([^']*)'", message)
    op = re.search(r"running (\w+) node", message)
    if not name:
        return None
    return repr(name.group(1)) + (f" ({op.group(1)})" if op else "")


def _x(shape) -> str:
    return "x".join(str(d) for d in shape) if len(shape) else "(scalar)"


def _value_text(value: Any) -> str:
    return str(value) if not isinstance(value, list) or len(value) <= 4 else f"[{len(value)} numbers]"


__all__ = ["IMAGE_SIZE", "SEQUENCE_LENGTH", "ChosenDim", "InputPlan", "choose_dims", "graph_input_specs",
           "plan_inputs", "random_inputs", "resolve_input_shapes"]
