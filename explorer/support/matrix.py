"""The published onnx-tensorrt operator support matrices, parsed into plain data.

The markdown files in ``explorer/support/data`` are verbatim copies of ``docs/operators.md`` from the
onnx/onnx-tensorrt repository at a TensorRT release. They are the source of every *predicted* support verdict
(when TensorRT itself is not installed), so everything built from them is labelled
``support-matrix <version> (prediction)``.

Type names are normalised to ONNX element type names (``FP32`` -> ``FLOAT``, ``FP8`` -> the ``FLOAT8*``
family, ...), so they compare directly with :attr:`explorer.model.ir.TensorInfo.dtype`.

TensorRT 11.x has no matrix of its own here: :func:`load_matrix` gives the 10.15 matrix for it (the facts we
hold document no operator changes, only that 11.x networks are always strongly typed) and says so in
:attr:`SupportMatrix.note`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from ..errors import ExplorerError

__all__ = ["OperatorSpec", "SupportMatrix", "available_versions", "load_matrix", "normalise_type", "data_dir",
           "FP8_TYPES", "QUANTIZED_TYPES"]

#: Every ONNX float8 element type; the matrices say just "FP8" (TensorRT's own FP8 is E4M3FN).
FP8_TYPES = frozenset({"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ"})
#: The types the matrices call "Quantized Types" (usable only through Q/DQ), as ONNX names.
QUANTIZED_TYPES = frozenset({"INT8", "INT4", "FLOAT4E2M1"}) | FP8_TYPES

_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "FP32": ("FLOAT",), "FLOAT32": ("FLOAT",), "FLOAT": ("FLOAT",),
    "FP16": ("FLOAT16",), "FLOAT16": ("FLOAT16",), "HALF": ("FLOAT16",),
    "BF16": ("BFLOAT16",), "BFLOAT16": ("BFLOAT16",),
    "FP8": tuple(sorted(FP8_TYPES)),
    "FP4": ("FLOAT4E2M1",),
    "INT4": ("INT4",), "INT8": ("INT8",), "UINT8": ("UINT8",),
    "INT32": ("INT32",), "INT64": ("INT64",),
    "INF64": ("INT64",),  # typo in the 10.1 matrix (ConstantOfShape)
    "BOOL": ("BOOL",), "DOUBLE": ("DOUBLE",), "FP64": ("DOUBLE",),
}

_FILE_PREFIX = "onnx-tensorrt-operators-"
_NEXT_MAJOR = "11.x"
_NEXT_MAJOR_BASE = "10.15"


def normalise_type(token: str) -> tuple[str, ...]:
    """ONNX element type names for one type token of a matrix (``"FP8"`` gives all four FLOAT8 types)."""
    key = token.strip().strip("`").upper()
    if not key:
        return ()
    return _TYPE_ALIASES.get(key, (key,))


@dataclass(frozen=True)
class OperatorSpec:
    """One row of the matrix: is the operator supported, for which types, with which restrictions."""

    name: str
    supported: bool
    types: frozenset[str]  # ONNX element type names
    restrictions: str = ""  # the matrix's text, verbatim apart from ``<br />`` -> " "


@dataclass(frozen=True, eq=False)
class SupportMatrix:
    """A parsed support matrix. Compared and hashed by identity (results of :func:`load_matrix` are cached)."""

    version: str  # "10.1", "10.15", "11.x based on 10.15"
    opset_min: int
    opset_max: int
    operators: dict[str, OperatorSpec]
    quantized_types: frozenset[str] = QUANTIZED_TYPES
    io_only_types: frozenset[str] = frozenset({"UINT8"})
    source_label: str = ""
    note: str = ""  # set when the matrix stands in for another version (e.g. 10.8 -> 10.1, 11.x -> 10.15)
    requested: str = ""  # the version string the caller asked for
    data_types: frozenset[str] = frozenset()  # every ONNX type the matrix header names
    strongly_typed: bool = False  # TensorRT 11.x: networks are always strongly typed
    notes: tuple[str, ...] = field(default=(), repr=False)  # the "> Note:" lines of the header

    @property
    def supported_operators(self) -> list[str]:
        return sorted(name for name, spec in self.operators.items() if spec.supported)

    @property
    def unsupported_operators(self) -> list[str]:
        return sorted(name for name, spec in self.operators.items() if not spec.supported)

    def spec(self, op_type: str) -> OperatorSpec | None:
        return self.operators.get(op_type)


# ----------------------------------------------------------------------------------------------- files

def data_dir():
    """The folder of the published matrices and parser-derived data files (package data)."""
    try:
        from importlib.resources import files

        return files("explorer.support").joinpath("data")
    except Exception:  # pragma: no cover - unusual import setups
        return Path(__file__).resolve().parent / "data"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@lru_cache(maxsize=1)
def _published() -> dict[str, str]:
    """Published matrix version -> file name, e.g. {"10.1": "onnx-tensorrt-operators-10.1.md"}."""
    found: dict[str, str] = {}
    for entry in data_dir().iterdir():
        name = entry.name
        if name.startswith(_FILE_PREFIX) and name.endswith(".md"):
            version = name[len(_FILE_PREFIX):-3]
            if re.fullmatch(r"\d+\.\d+", version):
                found[version] = name
    return dict(sorted(found.items(), key=lambda kv: _version_key(kv[0])))


def available_versions() -> list[str]:
    """The versions :func:`load_matrix` knows, oldest first: the published matrices, then ``"11.x"``."""
    versions = list(_published())
    if _NEXT_MAJOR_BASE in versions:
        versions.append(_NEXT_MAJOR)
    return versions


# --------------------------------------------------------------------------------------------- parsing

_OPSET_RE = re.compile(r"inclusive range of opset\s+(\d+)\s+to opset\s+(\d+)", re.IGNORECASE)
_DATATYPES_RE = re.compile(r"supports the following ONNX data types:\s*(.+)", re.IGNORECASE)
_QUANTIZED_RE = re.compile(r"Note:\s*(.+?)\s+are treated as `?Quantized Types`?", re.IGNORECASE)
_IO_ONLY_RE = re.compile(r"Note:\s*([A-Z0-9]+) is only supported as network input or output", re.IGNORECASE)


def _split_type_list(text: str) -> list[str]:
    return [t for t in re.split(r",|\band\b", text.rstrip(". ")) if t.strip()]


def parse_matrix(text: str, version: str) -> SupportMatrix:
    """Parse one ``operators.md`` text. Raises :class:`ExplorerError` when it has no opset range or table."""
    opset = _OPSET_RE.search(text)
    if not opset:
        raise ExplorerError(f"support matrix {version}: no 'inclusive range of opset A to opset B' line")
    data_types: set[str] = set()
    quantized: set[str] = set()
    io_only: set[str] = set()
    notes: list[str] = []
    operators: dict[str, OperatorSpec] = {}
    in_table = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(">"):
            notes.append(line.lstrip("> ").strip())
        if (m := _DATATYPES_RE.search(line)) and not in_table:
            for token in _split_type_list(m.group(1)):
                data_types.update(normalise_type(token))
        if m := _QUANTIZED_RE.search(line):
            for token in _split_type_list(m.group(1)):
                quantized.update(normalise_type(token))
        if m := _IO_ONLY_RE.search(line):
            io_only.update(normalise_type(m.group(1)))
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not cells or not cells[0] or cells[0] == "Operator" or set(cells[0]) <= {"-", ":"}:
            in_table = in_table or (cells and cells[0] == "Operator")
            continue
        in_table = True
        name = cells[0].strip("` ")
        flag = cells[1].strip().upper() if len(cells) > 1 else ""
        types: set[str] = set()
        if len(cells) > 2:
            for token in cells[2].split(","):
                types.update(normalise_type(token))
        restrictions = " ".join(c for c in cells[3:] if c)
        restrictions = re.sub(r"\s*<br\s*/?>\s*", " ", restrictions).strip()
        restrictions = re.sub(r"\s+", " ", restrictions)
        operators[name] = OperatorSpec(name=name, supported=flag.startswith("Y"), types=frozenset(types),
                                       restrictions=restrictions)
    if not operators:
        raise ExplorerError(f"support matrix {version}: no operator table found")
    return SupportMatrix(
        version=version, opset_min=int(opset.group(1)), opset_max=int(opset.group(2)), operators=operators,
        quantized_types=frozenset(quantized) or QUANTIZED_TYPES,
        io_only_types=frozenset(io_only) or frozenset({"UINT8"}),
        source_label=f"support-matrix {version} (prediction)", data_types=frozenset(data_types),
        notes=tuple(notes))


@lru_cache(maxsize=None)
def _load_published(version: str) -> SupportMatrix:
    text = data_dir().joinpath(_published()[version]).read_text(encoding="utf-8")
    return parse_matrix(text, version)


@lru_cache(maxsize=None)
def _load_next_major() -> SupportMatrix:
    base = _load_published(_NEXT_MAJOR_BASE)
    version = f"{_NEXT_MAJOR} based on {_NEXT_MAJOR_BASE}"
    note = (f"No support matrix is published here for TensorRT {_NEXT_MAJOR}; this is the {_NEXT_MAJOR_BASE} "
            f"matrix (same operators, types and opset range {base.opset_min}-{base.opset_max}): no operator "
            f"changes are documented for 11.x. TensorRT 11 networks are always strongly typed (no FP16/INT8 "
            f"builder flags): layer precision follows the ONNX tensor types, so use an FP16/BF16 model or "
            f"Q/DQ nodes.")
    return replace(base, version=version, source_label=f"support-matrix {version} (prediction)", note=note,
                   strongly_typed=True)


_VERSION_RE = re.compile(r"(\d+)(?:\.(x)|\.(\d+)((?:\.\d+)*))?")


def _unknown(version: object, why: str) -> ExplorerError:
    return ExplorerError(f"unknown TensorRT version {version!r} for the support matrix: {why}",
                         hint="available versions: " + ", ".join(available_versions()))


def load_matrix(version: str | None = None) -> SupportMatrix:
    """The support matrix for a TensorRT version (cached).

    ``None`` gives the newest *published* matrix (10.15: a prediction should rest on a published table). A published version ("10.1", "10.15", or a full version such as
    "10.15.1.29") gives its matrix. A version between published ones ("10.8") gives the newest published
    matrix not newer than it, with :attr:`SupportMatrix.note` saying so; "10.0" gives the 10.1 matrix (whose
    header describes 10.0). Any 11.x version gives the 10.15 matrix labelled ``"11.x based on 10.15"``.
    Anything else raises :class:`~explorer.errors.ExplorerError` listing the available versions.
    """
    if version is not None and not isinstance(version, str):
        raise _unknown(version, "give a version string such as '10.15'")
    return _load_matrix(version)


@lru_cache(maxsize=64)
def _load_matrix(version: str | None) -> SupportMatrix:
    published = _published()
    if not published:
        raise ExplorerError("no support matrix data files found in explorer/support/data")
    if version is None:
        version = max(published, key=_version_key)
    text = version.strip().lower()
    text = re.sub(r"^(tensorrt|trt)[\s\-_]*", "", text).lstrip("v").strip()
    m = _VERSION_RE.fullmatch(text)
    if not m:
        raise _unknown(version, "not a version number")
    major = int(m.group(1))
    minor_text = m.group(2) or m.group(3)

    if text in published:
        return _load_published(text)
    if major == 11:
        matrix = _load_next_major()
        return matrix if text in ("11.x", "11") else replace(matrix, requested=version)

    majors = [v for v in published if _version_key(v)[0] == major]
    if not majors:
        raise _unknown(version, f"no support matrix for TensorRT {major}.x")
    if minor_text is None or minor_text == "x":
        chosen = majors[-1]
        note = f"TensorRT {version} read as the newest {major}.x matrix: {chosen}."
    else:
        minor = int(minor_text)
        older = [v for v in majors if _version_key(v)[1] <= minor]
        if older:
            chosen = older[-1]
        elif (major, minor) == (10, 0) and "10.1" in published:
            chosen = "10.1"  # the 10.1 document's header describes TensorRT 10.0
        else:
            raise _unknown(version, f"older than every published {major}.x matrix")
        if _version_key(chosen) == (major, minor):
            return _load_published(chosen)
        if (major, minor) == (10, 0):
            note = "TensorRT 10.0 uses the 10.1 matrix, whose header describes TensorRT 10.0."
        else:
            note = (f"No matrix is published for TensorRT {major}.{minor}; using {chosen}, the newest published "
                    f"matrix not newer than it.")
    return replace(_load_published(chosen), note=note, requested=version)
