"""Model-to-model transformations the analysis offers (constant folding, opset conversion)."""

from __future__ import annotations

import onnx

from ..errors import ModelError
from ..isolation import TaskCrashed, TaskFailed, isolated_task, run_task
from .ir import Model
from .loader import load_model


def name_nodes_by_id(proto: onnx.ModelProto, model: Model) -> int:
    """Rename every node of ``proto`` (the ONNX file ``model`` was loaded from) to its explorer id, in place,
    bodies of If/Loop/Scan included, so nodes keep their identity through a rewrite (and ONNX Runtime,
    which refuses duplicate node names, accepts them). Returns how many names changed."""
    return _rename_graph(proto.graph, model.graph)


def _rename_graph(graph_proto: onnx.GraphProto, graph) -> int:
    changed = 0
    by_file_index = {node.file_index: node for node in graph.nodes}
    for index, node_proto in enumerate(graph_proto.node):
        node = by_file_index.get(index)
        if node is None:
            continue
        local_id = node.id
        if node.parent and local_id.startswith(node.parent + "/"):
            local_id = local_id[len(node.parent) + 1:]  # body ids carry their parent's id as a prefix
        if node_proto.name != local_id:
            node_proto.name = local_id
            changed += 1
        for attr in node_proto.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                body = node.subgraphs.get(attr.name)
                if body is not None:
                    changed += _rename_graph(attr.g, body)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for k, g in enumerate(attr.graphs):
                    body = node.subgraphs.get(f"{attr.name}[{k}]")
                    if body is not None:
                        changed += _rename_graph(g, body)
    return changed


def _with_ids_as_names(model: Model) -> onnx.ModelProto:
    """A copy whose node names are the explorer's ids (see :func:`name_nodes_by_id`)."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    name_nodes_by_id(proto, model)
    return proto


def fold_constants(model: Model) -> tuple[Model, str]:
    """Fold constant subgraphs (shape arithmetic and friends) with onnx-graphsurgeon, in a child process
    (graphsurgeon evaluates constants with ONNX Runtime: C++ that a malformed model can crash).

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
    proto = _with_ids_as_names(model)
    folded = _isolated(fold_constants_task, proto, model, "constant folding")
    result = load_model(folded)
    result.path = model.path
    return result, f"onnx-graphsurgeon {_version('onnx-graphsurgeon')} fold_constants"


def convert_opset(model: Model, target: int) -> Model:
    """Convert to another default-domain opset with ``onnx.version_converter``."""
    if model.proto is None:
        raise ModelError("opset conversion needs the model's protobuf", file=model.path)
    converted = _isolated(convert_version_task, model.proto, model, f"conversion to opset {int(target)}",
                          str(int(target)))
    result = load_model(converted)
    result.path = model.path
    return result


@isolated_task("fold_constants")
def fold_constants_task(data: bytes) -> bytes:
    """The child's side of :func:`fold_constants`: serialized model in, folded model out."""
    import onnx_graphsurgeon as gs

    proto = onnx.ModelProto()
    proto.ParseFromString(data)
    graph = gs.import_onnx(proto)
    graph.fold_constants(error_ok=True).cleanup(remove_unused_graph_inputs=False)
    return gs.export_onnx(graph).SerializeToString()


@isolated_task("convert_version")
def convert_version_task(data: bytes, target: str) -> bytes:
    """The child's side of :func:`convert_opset`."""
    from onnx import version_converter

    proto = onnx.ModelProto()
    proto.ParseFromString(data)
    return version_converter.convert_version(proto, int(target)).SerializeToString()


def _isolated(task, proto: onnx.ModelProto, model: Model, what: str, *args: str) -> bytes:
    """Run an ONNX C++ rewrite in a child process: a malformed model can crash it, never the kernel."""
    try:
        data = proto.SerializeToString()
    except Exception as exc:  # over 2 GiB
        raise ModelError(f"{what} needs the model as one protobuf: {exc}", file=model.path) from None
    try:
        return run_task(task, data, *args)
    except TaskCrashed as exc:
        raise ModelError(f"{what} {exc}; the model is malformed in a way the tool does not survive",
                         file=model.path, hint="check it with onnx.checker.check_model(path, full_check=True)"
                         ) from None
    except TaskFailed as exc:
        lines = str(exc).strip().splitlines()
        raise ModelError(f"{what} failed: {lines[0][:300] if lines else 'unknown error'}", file=model.path) from None


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(version unknown)"
