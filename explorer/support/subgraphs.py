"""Every partition of a :class:`SupportReport` as its own ``.onnx`` file, as ``polygraphy inspect capability
--with-partitioning`` writes them: a TensorRT user takes the supported ones to a GPU machine (``trtexec``,
``polygraphy run``) and runs the rest elsewhere.

Files are ``supported_subgraph-N.onnx`` / ``unsupported_subgraph-N.onnx``, N the partition's index (Polygraphy
names its files by node range, ``supported_subgraph-nodes-0-1.onnx``; our partitions need not be ranges).
Each file's inputs are the tensors its nodes read that come from outside it (graph inputs or other
partitions' outputs; weights stay inside), its outputs the tensors it writes that the graph returns or other
partitions read. Running the files in index order, each fed from the model's inputs and the earlier files'
outputs, is running the model. Built with onnx-graphsurgeon (one import, one ``gs.Graph`` per partition over
the imported nodes), so types, opsets and If/Loop/Scan bodies come along as they were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ExplorerError


@dataclass(frozen=True)
class ExportedSubgraph:
    """One written partition."""

    path: str
    partition: int
    supported: bool
    nodes: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    unknown_rank: tuple[str, ...] = ()  # boundary tensors shape inference gave no rank: onnx.checker refuses them

    def to_dict(self) -> dict:
        return {"path": self.path, "partition": self.partition, "supported": self.supported, "nodes": self.nodes,
                "inputs": list(self.inputs), "outputs": list(self.outputs), "unknown_rank": list(self.unknown_rank)}


def subgraph_file_name(supported: bool, index: int) -> str:
    return f"{'supported' if supported else 'unsupported'}_subgraph-{index}.onnx"


def export_subgraphs(model, report, folder: str) -> list[ExportedSubgraph]:
    """Write each partition of ``report`` (an analysis of ``model``) under ``folder``; returns what was written."""
    import onnx
    import onnx_graphsurgeon as gs

    from ..model.transforms import name_nodes_by_id
    from .analysis import _implicit_inputs

    if model.proto is None:
        raise ExplorerError("exporting subgraphs needs the model's ONNX graph", file=model.path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ExplorerError(f"cannot create the folder for the subgraphs: {exc.strerror}", file=folder) from None
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    name_nodes_by_id(proto, model)  # gs nodes then carry the report's node ids
    graph = gs.import_onnx(proto)
    tensors = graph.tensors()
    by_id = {n.name: n for n in graph.nodes}
    ir_nodes = model.graph.by_id
    graph_outputs = {t.name for t in graph.outputs}

    reads: dict[str, set[str]] = {}  # node id -> every tensor it reads, bodies' outer-scope values included
    for node_id, node in by_id.items():
        names = {t.name for t in node.inputs if t.name}
        ir = ir_nodes.get(node_id)
        if ir is not None and ir.subgraphs:
            names |= _implicit_inputs(ir)
        reads[node_id] = names
    owner = {node_id: p.index for p in report.partitions for node_id in p.nodes}
    written = []
    for p in report.partitions:
        members = [by_id[i] for i in p.nodes if i in by_id]
        produced = {t.name for n in members for t in n.outputs if t.name}
        inputs, seen = [], set()
        for n in members:
            for name in sorted(reads[n.name]):
                if name in produced or name in seen or name not in tensors:
                    continue
                tensor = tensors[name]
                if isinstance(tensor, gs.Constant):
                    continue  # a weight: it goes with the nodes
                seen.add(name)
                inputs.append(tensor)
        read_elsewhere = {name for node_id, names in reads.items() if owner.get(node_id) != p.index
                          for name in names}
        out_names = [t.name for n in members for t in n.outputs
                     if t.name and (t.name in graph_outputs or t.name in read_elsewhere)]
        outputs = [tensors[name] for name in dict.fromkeys(out_names)]
        sub = gs.Graph(nodes=members, inputs=inputs, outputs=outputs, opset=graph.opset,
                       name=f"{graph.name or 'graph'}_partition_{p.index}", import_domains=graph.import_domains,
                       producer_name="trt-explorer")
        exported = gs.export_onnx(sub, do_type_check=False)
        # IR 3 wanted every weight listed as a graph input too; from IR 4 weights stand alone (as gs writes them)
        exported.ir_version = max(proto.ir_version, 4)
        del exported.functions[:]
        exported.functions.extend(proto.functions)
        path = os.path.join(folder, subgraph_file_name(p.supported, p.index))
        try:
            onnx.save(exported, path)
        except (OSError, ValueError) as exc:
            raise ExplorerError(f"cannot write partition {p.index}: {exc}", file=path) from None
        unknown = tuple(t.name for t in [*inputs, *outputs] if t.shape is None)
        written.append(ExportedSubgraph(path, p.index, p.supported, len(members),
                                        tuple(t.name for t in inputs), tuple(t.name for t in outputs), unknown))
    return written


__all__ = ["ExportedSubgraph", "export_subgraphs", "subgraph_file_name"]
