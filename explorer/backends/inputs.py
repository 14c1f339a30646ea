"""Random model inputs: the one recipe both backends time their runs with.

Fixed seed, one generator for all inputs in order: floats standard normal, integers 0 or 1 (valid indices
for any table, embedding or gather), booleans random. Where the names, types and shapes come from is the
backend's business (the ONNX graph for ONNX Runtime, the engine's I/O tensors for TensorRT).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import BuildError


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


__all__ = ["random_feeds"]
