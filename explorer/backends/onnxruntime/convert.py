"""The model in the requested precision: fp16/bf16 through :mod:`explorer.backends.precision`, int8 through
``onnxruntime.quantization.quantize_static``.

int8 is QDQ format, symmetric int8 activations and weights (zero points of 0, what TensorRT needs),
calibrated on a few random batches - good for exploring what quantization does to the graph and the
timings, not for accuracy; a model that already has Q/DQ nodes is kept as is. ONNX Runtime builds no fp8.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import onnx
from polygraphy import mod

from ...dtypes import PRECISIONS
from ...errors import BuildError
from ...isolation import isolated_task
from ...model.quantization import has_qdq
from .session import first_line, remove, shared_pool_in_use

quantization = mod.lazy_import("onnxruntime.quantization", log=False)

#: how many random batches calibrate an int8 quantization
CALIBRATION_BATCHES = 4


@dataclass
class Conversion:
    """What was done to the model's precision (``tool`` None: nothing), and the converter's own words."""

    precision: str
    tool: str | None = None
    changed: bool = False
    note: str | None = None  # the one remark the report's notes repeat
    notes: list[str] = field(default_factory=list)  # the converter's remarks
    details: dict[str, Any] = field(default_factory=dict)  # the converter's record (kept fp32 nodes, options...)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Conversion":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


def convert_precision(proto, precision: str, *, calibration: Iterable[dict] | None = None,
                      workdir: str | None = None, block: Iterable[str] = ()) -> tuple[Any, Conversion]:
    """The model ``proto`` in ``precision``: (new ModelProto, what was done). fp32 and already-quantized
    int8 models come back unchanged. Weights must be loaded (not external) for fp16/bf16/int8.

    ``block``: op types and node names kept fp32 (the block list of :class:`BuildSettings`
    ``precision_block``): fp16/bf16 add them to the converter's op and node block lists, int8 excludes
    those nodes from quantization (``nodes_to_exclude``)."""
    block = [str(b) for b in block if str(b)]
    if precision not in PRECISIONS:
        raise BuildError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp8":
        raise BuildError("ONNX Runtime cannot build fp8: it has no fp8 kernels for the explorer to time",
                         hint="build fp8 with backend='tensorrt' on a GPU that has fp8 (Hopper or newer)")
    if precision == "fp32":
        info = Conversion("fp32")
        if has_qdq(proto):
            info.note = ("the model has Q/DQ nodes: they are kept at fp32 too (precision comes from the model's "
                         "types); the precision column shows which layers really compute in int8")
        return proto, info
    if precision in ("fp16", "bf16"):
        return _convert_float(proto, precision, block)
    # int8
    if has_qdq(proto):
        return proto, Conversion("int8", note="the model already has Q/DQ nodes: kept as is")
    if calibration is None:
        raise BuildError("int8 quantization needs calibration inputs")
    excluded = blocked_nodes(proto, block)
    if shared_pool_in_use():  # quantize_static's own sessions cannot run in a process with the shared pool
        return _quantize_int8_isolated(proto, list(calibration), workdir=workdir, exclude=excluded)
    return quantize_int8(proto, calibration, workdir=workdir, exclude=excluded)


def blocked_nodes(proto, block: Iterable[str]) -> list[str]:
    """Names of the nodes of ``proto`` a block list names, by op type or by node name."""
    wanted = set(block)
    return [n.name for n in proto.graph.node if n.name and (n.op_type in wanted or n.name in wanted)]


def _convert_float(proto, precision: str, block: list[str] = ()) -> tuple[Any, Conversion]:
    from ..precision import DEFAULT_BLOCK_OPS, convert_precision as convert_float

    try:
        converted, info = convert_float(proto, precision, keep_io_types=True,
                                        block_ops=[*DEFAULT_BLOCK_OPS, *block], block_nodes=block)
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"converting the model to {precision} failed: {type(exc).__name__}: {exc}") from exc
    details = dataclasses.asdict(info)
    return converted, Conversion(precision=precision, tool=details.pop("tool"), changed=True,
                                 notes=[str(n) for n in details.pop("notes", [])],
                                 details={**details, "via": "explorer.backends.precision.convert_precision"})


def quantize_int8(proto, calibration: Iterable[dict], *, workdir: str | None = None,
                  exclude: Iterable[str] = ()) -> tuple[Any, Conversion]:
    """QDQ int8 with ``onnxruntime.quantization.quantize_static``: symmetric int8 activations and weights
    (zero points 0), per-channel weights, MinMax calibration over ``calibration`` (a few input dicts);
    the nodes named in ``exclude`` are not quantized."""
    exclude = list(exclude)
    batches = list(calibration)

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    own_dir = workdir is None
    folder = tempfile.mkdtemp(prefix="explorer-int8-") if own_dir else workdir
    target = os.path.join(folder, "quantized_int8.onnx")
    try:
        quantization.quantize_static(
            proto, target, Reader(), quant_format=quantization.QuantFormat.QDQ,
            activation_type=quantization.QuantType.QInt8, weight_type=quantization.QuantType.QInt8,
            per_channel=True, extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
            nodes_to_exclude=exclude or None)
        quantized = onnx.load(target)
    except Exception as exc:
        raise BuildError(f"onnxruntime.quantization could not quantize the model to int8: "
                         f"{type(exc).__name__}: {first_line(exc)}") from exc
    finally:
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)
    return quantized, _int8_info(len(batches), exclude)


def _quantize_int8_isolated(proto, batches: list[dict], *, workdir: str | None,
                            exclude: list[str] = ()) -> tuple[Any, Conversion]:
    """:func:`quantize_int8` in a child process (see :func:`.session.shared_thread_pool`): the calibration
    batches travel as an ``.npz`` file (plain arrays, no pickles), the model on the child's stdin."""
    from ...isolation import TaskCrashed, TaskFailed, run_task

    names = list(batches[0]) if batches else []
    folder = workdir or tempfile.mkdtemp(prefix="explorer-int8-")
    arrays_path = os.path.join(folder, "int8_calibration.npz")
    np.savez(arrays_path, **{f"b{i}_{j}": np.asarray(batch[name]) for i, batch in enumerate(batches)
                             for j, name in enumerate(names)})
    try:
        data = run_task(quantize_int8_task, proto.SerializeToString(), arrays_path, json.dumps(names), folder,
                        json.dumps(list(exclude)))
    except TaskFailed as exc:
        message = str(exc).split(": ", 1)[1] if str(exc).startswith("BuildError: ") else str(exc)
        raise BuildError(message) from None
    except TaskCrashed as exc:
        raise BuildError(f"onnxruntime.quantization could not quantize the model to int8: it {exc}") from None
    finally:
        remove(arrays_path)
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    quantized = onnx.ModelProto()
    quantized.ParseFromString(data)
    return quantized, _int8_info(len(batches), exclude)


def _int8_info(batches: int, exclude: Iterable[str] = ()) -> Conversion:
    details: dict[str, Any] = {"calibration": f"{batches} random batches"}
    if exclude:
        details["block_nodes"] = list(exclude)
    return Conversion(
        precision="int8", changed=True,
        tool="onnxruntime.quantization.quantize_static (QDQ, symmetric int8 activations and weights, "
             "per-channel weights, MinMax)",
        details=details,
        note="random calibration data: fine for exploring the graph and the timings, not for accuracy; "
             "calibrate on real data (or use NVIDIA Model Optimizer) for a deployable model")


@isolated_task("quantize_int8")
def quantize_int8_task(data: bytes, arrays_path: str, names_json: str, workdir: str, exclude_json: str = "[]") -> bytes:
    """``quantize_static`` on a serialized model with calibration batches from an ``.npz`` file (plain
    arrays ``b{batch}_{input}``, no pickles); the quantized model's bytes."""
    model = onnx.ModelProto()
    model.ParseFromString(data)
    names = json.loads(names_json)
    with np.load(arrays_path, allow_pickle=False) as arrays:
        count = len(arrays.files) // max(1, len(names))
        batches = [{name: arrays[f"b{i}_{j}"] for j, name in enumerate(names)} for i in range(count)]
    return quantize_int8(model, batches, workdir=workdir or None,
                         exclude=json.loads(exclude_json))[0].SerializeToString()


__all__ = ["CALIBRATION_BATCHES", "Conversion", "blocked_nodes", "convert_precision", "has_qdq", "quantize_int8"]
