"""The backends' isolated tasks (see :mod:`explorer.isolation`), beside the backend code they run.

TEMPORARY HOME, re-pointed at merge: ``tensorrt_parser`` moves beside the parser code in ``explorer/trt/``
and ``quantize_int8`` into ``explorer/backends/onnxruntime/convert.py`` (each as ``@isolated_task`` on a
function of that module); this file is then deleted.
"""

from __future__ import annotations

import json

from ..isolation import isolated_task


@isolated_task("tensorrt_parser", memory_limit=0)  # CUDA reserves far more address space than it uses
def tensorrt_parser_task(data: bytes, model_path: str) -> bytes:
    """TensorRT's ONNX parser on a serialized model: its :class:`ParserCapability` as JSON."""
    from .tensorrt import parser_capability

    return json.dumps(parser_capability(data, model_path or None).to_dict()).encode("utf-8")


@isolated_task("quantize_int8")
def quantize_int8_task(data: bytes, arrays_path: str, names_json: str, workdir: str) -> bytes:
    """``quantize_static`` on a serialized model with calibration batches from an ``.npz`` file (plain
    arrays ``b{batch}_{input}``, no pickles); the quantized model's bytes."""
    import numpy as np
    import onnx

    from .onnxruntime import quantize_int8

    model = onnx.ModelProto()
    model.ParseFromString(data)
    names = json.loads(names_json)
    with np.load(arrays_path, allow_pickle=False) as arrays:
        count = len(arrays.files) // max(1, len(names))
        batches = [{name: arrays[f"b{i}_{j}"] for j, name in enumerate(names)} for i in range(count)]
    return quantize_int8(model, batches, workdir=workdir or None)[0].SerializeToString()
