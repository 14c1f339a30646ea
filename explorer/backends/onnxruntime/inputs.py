"""The model's inputs for an ONNX Runtime build: concrete shapes, and the values to run it on.

:func:`plan_inputs` gives every input a shape: the one given, else its dynamic dimensions chosen by
:func:`explorer.backends.inputs.choose_dims` (the sizes every backend chooses, with the reasons), and says
which in the report's notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod
from typing import Any, Mapping

import numpy as np
from onnx import helper

from ...errors import BuildError
from ..inputs import (IMAGE_SIZE, SEQUENCE_LENGTH, ChosenDim, choose_dims, chosen_note, graph_input_specs,
                      random_feeds, shape_text, spatial_axes)

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
                out.append(chosen_note(name, self.shapes[name], dims, "ran at"))
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
            parts.append(f"input {n!r} was given as {shape_text(self.shapes[n])}" + (f" ({named})" if named else ""))
        node = _failing_node(message)
        head = f"ONNX Runtime could not {what} the model at the input shapes used"
        if node:
            head += f" (node {node} failed)"
        examples = ", ".join(f"{n}:{shape_text(_example(self.declared[n], self.shapes[n]))}" for n in dynamic)
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
        raise BuildError(f"input {name!r} has {len(dims)} dimension(s) ({declared}); the shape given, "
                         f"{shape_text(shape)}, has {len(shape)}")
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
        raise BuildError(f"value of input {name!r} has {cast.size} elements; its shape {shape_text(shape)} holds "
                         f"{prod(shape)} (a single number fills any shape)")
    return cast.tolist()


def _example(declared: list, used: tuple[int, ...]) -> tuple[int, ...]:
    """A shape to suggest: the one used with each dynamic image height/width of 1 raised to :data:`IMAGE_SIZE`
    and others rounded up to a multiple of 32 (what strided backbones need)."""
    spatial = spatial_axes(1, declared)
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


def _value_text(value: Any) -> str:
    return str(value) if not isinstance(value, list) or len(value) <= 4 else f"[{len(value)} numbers]"


__all__ = ["InputPlan", "plan_inputs", "random_inputs", "resolve_input_shapes"]
