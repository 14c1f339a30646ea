"""Model-to-model transformations the analysis offers (constant folding, opset conversion)."""

from __future__ import annotations

import onnx

from ..errors import ModelError
from .ir import Model
from .loader import load_model


def _with_ids_as_names(model: Model) -> onnx.ModelProto:
    """A copy whose node names are the explorer's ids, so nodes keep their identity through a rewrite."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    by_file_index = {node.file_index: node.id for node in model.graph.nodes}
    for index, node in enumerate(proto.graph.node):
        node.name = by_file_index.get(index, node.name)
    return proto


def fold_constants(model: Model) -> tuple[Model, str]:
    """Fold constant subgraphs (shape arithmetic and friends) with onnx-graphsurgeon.

    Returns the folded model and the tool used. Models whose weights live in external data are folded
    only if that data is present (folding needs values).
    """
    if model.proto is None:
        raise ModelError("constant folding needs the model's protobuf", file=model.path)
    missing = [i.name for i in model.graph.initializers.values() if i.external is not None]
    if missing:
        raise ModelError(f"constant folding would read {len(missing)} external weight tensors; the explorer "
                         "never reads external weights", file=model.path,
                         hint="fold with `polygraphy surgeon sanitize --fold-constants` and analyse the result")
    import onnx_graphsurgeon as gs

    proto = _with_ids_as_names(model)
    try:
        graph = gs.import_onnx(proto)
        graph.fold_constants(error_ok=True).cleanup(remove_unused_graph_inputs=False)
        folded = gs.export_onnx(graph)
    except Exception as exc:  # graphsurgeon failures are about the model
        raise ModelError(f"constant folding failed: {exc}", file=model.path) from None
    result = load_model(folded)
    result.path = model.path
    return result, f"onnx-graphsurgeon {gs.__version__} fold_constants"


def convert_opset(model: Model, target: int) -> Model:
    """Convert to another default-domain opset with ``onnx.version_converter``."""
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(model.proto, target)
    except Exception as exc:
        raise ModelError(f"cannot convert to opset {target}: {exc}", file=model.path) from None
    result = load_model(converted)
    result.path = model.path
    return result
