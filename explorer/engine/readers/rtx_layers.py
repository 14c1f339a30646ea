"""The engine layer lines a TensorRT-RTX (and Myelin-era TensorRT) builder logs at VERBOSE after a build.

After ``Layers:`` the builder prints one line per engine layer, without a log prefix of its own::

    Name: Conv_5_myl0_4, LayerType: correlation, Inputs: [ { Name: input.24.1_5_myl0, Dimensions: [1,16,56,56],
    Strides: [...], StrideOrder: [...], Datatype: Float, Format: (NHWC) Channel major format }, ...],
    Constants: [ { Name: __mye1534dconst_myl0, Dimensions: [16,16,3,3], ... } ], Outputs: [ ... ],
    TacticName: __myelin_CASK_STUB, StreamId: 0, Metadata: [ONNX Layer: Conv_5][ONNX Layer: Relu_7][ONNX Layer: Add_6]

``Metadata`` names the ONNX nodes fused into the layer (the mapping's authority,
:func:`explorer.engine.mapping.parse_metadata`); ``Constants`` are the weights the layer reads. Phase lines
(``Graph construction completed in 0.0036 seconds.``, ``Graph optimization time: 0.00066 seconds.``) give
the build's phases and their times. :class:`~explorer.engine.readers.build_log.LogParser` calls these
functions on the lines that pass its cheap substring tests, so the reader stays one streamed pass.
"""

from __future__ import annotations

import math
import re

from ...dtypes import canonical_dtype, nbytes
from ..report import Layer, TensorDesc

#: one tensor of a layer line; names never hold ", Dimensions: [" in practice, and every group is bounded
_TENSOR = re.compile(r"\{ Name: (?P<name>[^{}]{0,4096}?), Dimensions: \[(?P<dims>[^\]]{0,1024})\], "
                     r"(?:Strides: \[[^\]]{0,1024}\], StrideOrder: \[[^\]]{0,1024}\], )?"
                     r"Datatype: (?P<dtype>\w{1,40}), Format: (?P<format>[^{}]{0,400}?) \}")
_PHASE = re.compile(r"(?P<phase>[A-Z][A-Za-z /-]{2,80}?) (?:completed in|time:) (?P<seconds>[0-9.eE+-]{1,24}) "
                    r"seconds\.?\s*$")
_INT = re.compile(r"-?[0-9]{1,19}")


def parse_layer_line(line: str) -> Layer | None:
    """A :class:`Layer` from one ``Name: ..., LayerType: ...`` line (a log prefix before it is allowed), or
    None when the line is not one."""
    at = line.find("Name: ")
    head = line.find(", LayerType: ", at)
    if at < 0 or head < 0:
        return None
    name = line[at + 6:head]
    rest = line[head + 13:]
    layer_type, _, rest = rest.partition(", ")
    metadata_at = rest.rfind(", Metadata: ")
    metadata = rest[metadata_at + 12:].rstrip("\r\n") if metadata_at >= 0 else ""
    body = rest[:metadata_at] if metadata_at >= 0 else rest.rstrip("\r\n")
    tactic_at = body.rfind(", TacticName: ")
    tactic = None
    if tactic_at >= 0:
        tactic = body[tactic_at + 14:].split(", StreamId: ", 1)[0].strip() or None
        body = body[:tactic_at]
    sections = _sections(body)
    inputs = _tensors(sections.get("Inputs", ""))
    outputs = _tensors(sections.get("Outputs", ""))
    constants = _tensors(sections.get("Constants", ""))
    kinds = []
    for tensor in outputs:
        if tensor.dtype and tensor.dtype not in kinds:
            kinds.append(tensor.dtype)
    weights = None
    for tensor in constants:
        size = _size(tensor)
        if size is not None:
            weights = (weights or 0) + size
    return Layer(name=name, type=layer_type.strip() or None, inputs=inputs, outputs=outputs,
                 precision=(kinds[0] if len(kinds) == 1 else "mixed") if kinds else None,
                 tactic_name=tactic, metadata=metadata.strip() or None, weights_bytes=weights,
                 raw={"Constants": [{"Name": t.name, "Dimensions": list(t.shape or ()), "Datatype": t.dtype}
                                    for t in constants]})


def parse_phase_line(line: str) -> tuple[str, float] | None:
    """(phase, seconds) from ``Graph construction completed in 0.0036 seconds.`` and the like."""
    m = _PHASE.search(line)
    if m is None:
        return None
    try:
        seconds = float(m["seconds"])
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return m["phase"].strip(), seconds


def _sections(body: str) -> dict[str, str]:
    """``Inputs: [...], Constants: [...], Outputs: [...]`` -> the text of each list."""
    found = {}
    for key in ("Inputs", "Constants", "Outputs"):
        start = body.find(f"{key}: [")
        if start < 0:
            continue
        found[key] = (start + len(key) + 3)
    ordered = sorted(found.items(), key=lambda item: item[1])
    out = {}
    for i, (key, start) in enumerate(ordered):
        end = ordered[i + 1][1] if i + 1 < len(ordered) else len(body)
        out[key] = body[start:end]
    return out


def _tensors(text: str) -> list[TensorDesc]:
    result = []
    for m in _TENSOR.finditer(text):
        dims = []
        for d in m["dims"].split(","):
            d = d.strip()
            if d:
                dims.append(int(d) if _INT.fullmatch(d) else d)
        result.append(TensorDesc(name=m["name"], shape=tuple(dims), dtype=canonical_dtype(m["dtype"]),
                                 format=f"{m['dtype']} {m['format'].strip()}"))
    return result


def _size(tensor: TensorDesc) -> int | None:
    if tensor.shape is None or not all(isinstance(d, int) and d >= 0 for d in tensor.shape):
        return None
    return nbytes(math.prod(tensor.shape), tensor.dtype)


__all__ = ["parse_layer_line", "parse_phase_line"]
