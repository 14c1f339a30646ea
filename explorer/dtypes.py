"""Data types and precisions: the one table of names and item sizes every layer reads.

``PRECISIONS`` are the build precisions the explorer offers (each backend says which of them it can build).

TensorRT writes types as ``"Row major linear FP32"``, ``"Channel major FP16 format where channel % 8 == 0"``,
``"Four wide channel vectorized row major Int8 format"`` (tensor formats), ``"Float"``/``"Half"``/``"Int8"``
(weights), ``"kFLOAT"`` (API enums) or ``"FP32"`` (11.x I/O tensors); ONNX Runtime writes ``"float"``,
``"float16"``, ``"float8e4m3fn"`` (profiler) or ``"tensor(float16)"`` (session type strings). Everything
downstream (precision column, activation and weight bytes) only needs the element type, so it is read once,
here. ONNX names its element types after ``TensorProto`` (``"FLOAT16"``, ``"FLOAT8E4M3FN"``):
:data:`ONNX_DTYPES` gives their canonical names and sizes (the model loader sizes initializers from it).
"""

from __future__ import annotations

import re

#: build precisions, in the order the app and the CLI offer them
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")

#: spelling (case-folded) -> canonical precision name
_CANONICAL = {
    "fp32": "FP32", "float": "FP32", "float32": "FP32", "kfloat": "FP32",
    "fp16": "FP16", "half": "FP16", "float16": "FP16", "khalf": "FP16",
    "bf16": "BF16", "bfloat16": "BF16", "kbf16": "BF16",
    "fp8": "FP8", "kfp8": "FP8", "e4m3": "FP8",
    "float8e4m3fn": "FP8", "float8e4m3fnuz": "FP8", "float8e5m2": "FP8", "float8e5m2fnuz": "FP8",  # ONNX / ORT
    "fp4": "FP4", "kfp4": "FP4",
    "fp64": "FP64", "double": "FP64",
    "int8": "INT8", "kint8": "INT8",
    "uint8": "UINT8", "kuint8": "UINT8",
    "int4": "INT4", "kint4": "INT4", "uint4": "UINT4",
    "int16": "INT16", "uint16": "UINT16",
    "int32": "INT32", "kint32": "INT32", "uint32": "UINT32",
    "int64": "INT64", "kint64": "INT64", "uint64": "UINT64",
    "bool": "BOOL", "kbool": "BOOL",
}

#: bytes per element (sub-byte types count as fractions; totals are rounded up)
ITEMSIZE = {
    "FP32": 4, "FP16": 2, "BF16": 2, "FP8": 1, "FP4": 0.5, "FP64": 8,
    "INT8": 1, "UINT8": 1, "INT4": 0.5, "UINT4": 0.5, "INT16": 2, "UINT16": 2, "INT32": 4, "UINT32": 4,
    "INT64": 8, "UINT64": 8, "BOOL": 1,
}

#: ONNX TensorProto element type name -> (canonical name, bytes per element). Types with no TensorRT word keep
#: their ONNX name (FLOAT8E5M2, COMPLEX64, ...); STRING counts as 8 bytes (a pointer per element).
ONNX_DTYPES = {
    "FLOAT": ("FP32", 4), "FLOAT16": ("FP16", 2), "BFLOAT16": ("BF16", 2), "DOUBLE": ("FP64", 8),
    "FLOAT8E4M3FN": ("FP8", 1), "FLOAT8E4M3FNUZ": ("FLOAT8E4M3FNUZ", 1), "FLOAT8E5M2": ("FLOAT8E5M2", 1),
    "FLOAT8E5M2FNUZ": ("FLOAT8E5M2FNUZ", 1), "FLOAT8E8M0": ("FLOAT8E8M0", 1), "FLOAT4E2M1": ("FP4", 0.5),
    "FLOAT6E2M3": ("FLOAT6E2M3", 0.75), "FLOAT6E3M2": ("FLOAT6E3M2", 0.75),
    "INT8": ("INT8", 1), "UINT8": ("UINT8", 1), "INT16": ("INT16", 2), "UINT16": ("UINT16", 2),
    "INT32": ("INT32", 4), "UINT32": ("UINT32", 4), "INT64": ("INT64", 8), "UINT64": ("UINT64", 8),
    "INT4": ("INT4", 0.5), "UINT4": ("UINT4", 0.5), "INT2": ("INT2", 0.25), "UINT2": ("UINT2", 0.25),
    "BOOL": ("BOOL", 1), "STRING": ("STRING", 8), "COMPLEX64": ("COMPLEX64", 8), "COMPLEX128": ("COMPLEX128", 16),
}


def onnx_itemsize(onnx_dtype: str | None) -> float | None:
    """Bytes per element of an ONNX element type name (``"FLOAT16"`` -> 2; fractional for sub-byte types)."""
    entry = ONNX_DTYPES.get(onnx_dtype) if onnx_dtype else None
    return entry[1] if entry else None


def onnx_canonical(onnx_dtype: str | None) -> str | None:
    """The canonical name of an ONNX element type (``"FLOAT"`` -> ``"FP32"``, ``"float16"`` -> ``"FP16"``)."""
    if not onnx_dtype:
        return None
    name = str(onnx_dtype).upper()
    entry = ONNX_DTYPES.get(name)
    return entry[0] if entry else name


def onnx_nbytes(count: int, onnx_dtype: str | None, default_itemsize: int = 4) -> int:
    """Bytes of ``count`` elements of an ONNX element type (sub-byte types rounded up to whole bytes)."""
    size = onnx_itemsize(onnx_dtype)
    if size is None:
        size = default_itemsize
    if isinstance(size, int):
        return count * size
    return -(-count * int(size * 4) // 4)  # sub-byte sizes (0.25, 0.5, 0.75) in integers


_TOKEN = re.compile(r"[A-Za-z]+[0-9]*")


def canonical_dtype(text: str | None) -> str | None:
    """``"Channel major FP16 format where channel % 8 == 0"`` -> ``"FP16"``; None when no type is named."""
    if not text:
        return None
    direct = _CANONICAL.get(text.strip().lower())
    if direct:
        return direct
    for token in _TOKEN.findall(text):
        found = _CANONICAL.get(token.lower())
        if found:
            return found
    return None


def itemsize(dtype: str | None) -> float | None:
    return ITEMSIZE.get(dtype) if dtype else None


def nbytes(count: int | None, dtype: str | None) -> int | None:
    """Bytes of ``count`` elements of ``dtype`` (rounded up for sub-byte types), None when unknown."""
    size = itemsize(dtype)
    if count is None or size is None:
        return None
    if isinstance(size, int):
        return count * size
    return -(-count * int(size * 4) // 4)  # sub-byte sizes (0.5, 0.25) in integers: no float overflow


def volume(shape) -> int | None:
    """Element count of a fully known shape; None when a dimension is symbolic or negative (dynamic)."""
    if shape is None:
        return None
    total = 1
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            return None
        total *= dim
    return total
