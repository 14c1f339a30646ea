"""The model's inputs: their specs, concrete shapes for a build, and random values to run it on."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from onnx import helper

from ...errors import BuildError
from ..inputs import random_feeds


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


def resolve_input_shapes(proto, shapes: Mapping[str, Any] | None) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Concrete shapes for every input: the ``opt`` shape from ``shapes`` when given, else the declared
    dims with symbolic/unknown ones set to 1 (noted)."""
    shapes = dict(shapes or {})
    specs = graph_input_specs(proto)
    names = [name for name, _, _ in specs]
    unknown = [name for name in shapes if name not in names]
    if unknown:
        raise BuildError(f"shapes given for {', '.join(repr(n) for n in unknown)}, which the model has no input "
                         f"named; its inputs are {', '.join(repr(n) for n in names) or '(none)'}")
    resolved: dict[str, tuple[int, ...]] = {}
    notes: list[str] = []
    for name, _, dims in specs:
        if name in shapes:
            resolved[name] = tuple(int(d) for d in shapes[name][1])
            continue
        concrete = []
        defaulted = []
        for i, d in enumerate(dims):
            if isinstance(d, int) and d > 0:
                concrete.append(d)
            else:
                concrete.append(1)
                defaulted.append(f"dim {i} ({d!r})" if d else f"dim {i}")
        if defaulted:
            notes.append(f"input {name!r}: {', '.join(defaulted)} set to 1; give shapes={{{name!r}: ...}} for "
                         "other sizes")
        resolved[name] = tuple(concrete)
    return resolved, notes


def random_inputs(proto, shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, Any]:
    """Random inputs of the model's types at ``shapes`` (from :func:`resolve_input_shapes`), fixed seed
    (see :func:`explorer.backends.inputs.random_feeds`: floats standard normal, integers 0 or 1, booleans
    random)."""
    specs = []
    for name, elem_type, _ in graph_input_specs(proto):
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
        except Exception:
            raise BuildError(f"input {name!r} has ONNX element type {elem_type}, which random inputs cannot "
                             "be made for") from None
        specs.append((name, dtype, shapes[name]))
    return random_feeds(specs, seed)


__all__ = ["graph_input_specs", "random_inputs", "resolve_input_shapes"]
