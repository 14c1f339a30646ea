"""Engine layer information: trtexec ``--exportLayerInfo`` and the engine inspector (same JSON schema).

Shapes of the file, by TensorRT version:

* 8.x-10.x: ``{"Layers": [{...}, ...], "Bindings": ["input", "output"]}``
* 11.x: ``"I/O Tensors": [{"Name", "IOMode", "DataType", "Dimensions", "Location", ...}]`` instead of Bindings
* built without ``--profilingVerbosity=detailed``: ``"Layers"`` is a list of plain names

``IEngineInspector.get_engine_information(LayerInformationFormat.JSON)`` returns the same document from a
live engine, so one function reads all of them: give it a path, the JSON text or the parsed dict.
"""

from __future__ import annotations

import re
from typing import Any

from ...errors import ArtifactError
from ...dtypes import canonical_dtype, nbytes
from ..report import EngineReport, Layer, MemoryReport, OptimizationProfile, TensorDesc
from .common import Source, describe, load_json, wrong_tool

NAME_ONLY_NOTE = ("layer details need --profilingVerbosity=detailed: this layer information has names only "
                  "(no types, precisions, tensors, tactics or weights). Rebuild with trtexec "
                  "--profilingVerbosity=detailed --exportLayerInfo=... (Python: config.profiling_verbosity = "
                  "trt.ProfilingVerbosity.DETAILED before building).")


def read_layer_info(source: Source, *, origin_label: str | None = None) -> EngineReport:
    """Read layer information into an :class:`EngineReport` (layers, I/O tensors, weights and activations).

    ``origin_label`` names the source in provenance; default ``"trtexec --exportLayerInfo <file>"`` for a
    file and ``"engine inspector"`` for JSON text or a dict (what a live engine returns).
    """
    obj, path = load_json(source)
    label = origin_label or (f"trtexec --exportLayerInfo {describe(source)}" if path else "engine inspector")
    file = path or label
    if isinstance(obj, dict) and "Layers" not in obj and "Name" in obj and "LayerType" in obj:
        obj = {"Layers": [obj]}  # get_layer_information(i): one layer
    if not isinstance(obj, dict) or "Layers" not in obj:
        raise wrong_tool(obj, "layer-info", file)
    raw_layers = obj["Layers"]
    if not isinstance(raw_layers, list):
        raise ArtifactError(f"'Layers' is a {type(raw_layers).__name__}, expected a list", file=file, where="Layers")

    notes: list[str] = []
    layers: list[Layer] = []
    names_only = bool(raw_layers) and all(isinstance(item, str) for item in raw_layers)
    for index, item in enumerate(raw_layers):
        if isinstance(item, str):
            layers.append(Layer(name=item))
        elif isinstance(item, dict):
            layers.append(_layer(item, file, index))
        else:
            raise ArtifactError(f"a layer is a {type(item).__name__}, expected an object or a name",
                                file=file, where=f"Layers[{index}]")
    if names_only:
        notes.append(NAME_ONLY_NOTE)
    elif any(isinstance(item, str) for item in raw_layers):
        notes.append("some layers have names only: " + NAME_ONLY_NOTE)
    io_tensors = _io_tensors(obj, layers, file)
    profiles = split_profiles(layers, io_tensors, label)
    if profiles:
        notes.append(f"the engine has {len(profiles)} optimization profiles: the layers shown are profile 0's; "
                     "report.for_profile(N) (CLI --opt-profile N) shows profile N's layers and memory")
        first = profiles[0]
        return EngineReport(layers=list(first.layers), io_tensors=list(first.io_tensors), memory=first.memory,
                            sources=[label], provenance={"layers": label}, notes=notes, profiles=profiles)
    memory = MemoryReport.from_layers(layers, label)
    return EngineReport(layers=layers, io_tensors=io_tensors, memory=memory, sources=[label],
                        provenance={"layers": label}, notes=notes)


#: the suffix TensorRT gives the layers and bindings of optimization profile N >= 1 (profile 0 has none);
#: TREx's parser.import_graph_file filters on the same pattern
PROFILE_SUFFIX = re.compile(r" ?\[profile +(?P<index>[0-9]+)\]$")


def profile_of(name: str) -> tuple[int, str]:
    """(profile index, the name without its `` [profile N]`` suffix)."""
    m = PROFILE_SUFFIX.search(name)
    return (int(m["index"]), name[:m.start()]) if m else (0, name)


def split_profiles(layers: list[Layer], io_tensors: list[TensorDesc], label: str) -> list[OptimizationProfile]:
    """The layers and I/O tensors of each optimization profile, with each profile's memory; [] for an engine
    with one profile."""
    indexes = sorted({profile_of(layer.name)[0] for layer in layers})
    if indexes == [0] or not indexes:
        return []
    profiles = []
    for index in indexes:
        mine = [layer for layer in layers if profile_of(layer.name)[0] == index]
        io = [t for t in io_tensors if profile_of(t.name)[0] == index]
        source = f"{label}, layers of optimization profile {index}"
        profiles.append(OptimizationProfile(index=index, layers=mine, io_tensors=io,
                                            memory=MemoryReport.from_layers(mine, source), source=source))
    return profiles


def _layer(raw: dict, file: str, index: int) -> Layer:
    name = raw.get("Name")
    if not isinstance(name, str):
        raise ArtifactError("layer without a 'Name' string", file=file, where=f"Layers[{index}].Name")
    where = f"Layers[{index}] ({name[:60]})"
    inputs = [_tensor(t, file, f"{where}.Inputs[{i}]") for i, t in enumerate(_list(raw, "Inputs", file, where))]
    outputs = [_tensor(t, file, f"{where}.Outputs[{i}]") for i, t in enumerate(_list(raw, "Outputs", file, where))]
    return Layer(
        name=name,
        type=_str(raw.get("LayerType")),
        precision=_precision(outputs),
        inputs=inputs,
        outputs=outputs,
        tactic_name=_str(raw.get("TacticName")),
        tactic_value=_tactic_value(raw.get("TacticValue")),
        origin=_str(raw.get("Origin")),
        parameter_type=_str(raw.get("ParameterType")),
        metadata=_str(raw.get("Metadata")),
        weights_bytes=_weights_bytes(raw),
        raw=raw,
    )


def _list(raw: dict, key: str, file: str, where: str) -> list:
    value = raw.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ArtifactError(f"'{key}' is a {type(value).__name__}, expected a list", file=file, where=f"{where}.{key}")
    return value


def _tensor(raw: Any, file: str, where: str) -> TensorDesc:
    if isinstance(raw, str):
        return TensorDesc(name=raw)
    if not isinstance(raw, dict):
        raise ArtifactError(f"a tensor is a {type(raw).__name__}, expected an object", file=file, where=where)
    fmt = _str(raw.get("Format/Datatype") or raw.get("Format"))
    dims = raw.get("Dimensions")
    shape = tuple(_dim(d) for d in dims) if isinstance(dims, list) else None
    return TensorDesc(
        name=str(raw.get("Name", "")),
        shape=shape,
        format=fmt,
        dtype=canonical_dtype(_str(raw.get("DataType"))) or canonical_dtype(fmt),
        location=_str(raw.get("Location")),
        io_mode=_io_mode(raw.get("IOMode")),
    )


def _precision(outputs: list[TensorDesc]) -> str | None:
    kinds = []
    for tensor in outputs:
        if tensor.dtype and tensor.dtype not in kinds:
            kinds.append(tensor.dtype)
    if not kinds:
        return None
    return kinds[0] if len(kinds) == 1 else "mixed"


def _weights_bytes(raw: dict) -> int | None:
    """Bytes of every ``{"Type", "Count"}`` field (Weights, Bias, and Scale/Shift/Power of Scale layers)."""
    total = None
    for value in raw.values():
        if isinstance(value, dict) and "Count" in value and "Type" in value:
            count = value.get("Count")
            valid = isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= _MAX_COUNT
            size = nbytes(count if valid else None, canonical_dtype(_str(value.get("Type"))))
            if size is not None:
                total = (total or 0) + size
    return total


#: no real tensor or weight has more elements than this; bigger numbers in a file are garbage
_MAX_COUNT = 2**62


def _dim(value: Any) -> int | str | None:
    """A dimension as the engine wrote it: an int, a symbolic name, or None when it is no dimension."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -_MAX_COUNT <= value <= _MAX_COUNT else None
    if isinstance(value, str):
        return value[:200]
    return None


def _tactic_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value & (2**64 - 1):016x}"
    return str(value)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _io_mode(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).upper()
    if "IN" in text:
        return "INPUT"
    if "OUT" in text:
        return "OUTPUT"
    return text


def _io_tensors(obj: dict, layers: list[Layer], file: str) -> list[TensorDesc]:
    """Engine inputs/outputs: 11.x lists them with types; 8.x-10.x name them and layers describe them."""
    listed = obj.get("I/O Tensors")
    if isinstance(listed, list):
        return [_tensor(item, file, f"I/O Tensors[{i}]") for i, item in enumerate(listed)]
    bindings = obj.get("Bindings")
    if not isinstance(bindings, list):
        return []
    produced = {t.name: t for layer in layers for t in layer.outputs}
    consumed = {t.name: t for layer in layers for t in layer.inputs}
    result = []
    for name in bindings:
        name = str(name)
        known = produced.get(name) or consumed.get(name)
        mode = "OUTPUT" if name in produced else ("INPUT" if name in consumed else None)
        if known is not None:
            result.append(TensorDesc(name=name, shape=known.shape, format=known.format, dtype=known.dtype,
                                     location=known.location, io_mode=mode))
        else:
            result.append(TensorDesc(name=name, io_mode=mode))
    return result


__all__ = ["read_layer_info", "NAME_ONLY_NOTE", "PROFILE_SUFFIX", "profile_of", "split_profiles"]
