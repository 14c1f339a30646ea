"""Engine layer names <-> ONNX nodes, on the real fixtures and the sample models."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, TensorProto, helper, tiny_model

import explorer
from explorer.engine import load_report, map_layers, parse_metadata, read_layer_info, split_fused_name
from explorer.engine.mapping import NameResolver


def _model(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample model {name} not generated yet (sample_models/make_samples.py)")
    return explorer.load_model(path)


# -- name grammar -------------------------------------------------------------------------------------------
def test_split_fused_name():
    assert split_fused_name("Conv_0 + Relu_1") == ["Conv_0", "Relu_1"]
    assert split_fused_name("a || b + c") == ["a", "b", "c"]
    assert split_fused_name("PWN(PWN(x + y, z), w) + Conv_3") == ["PWN(PWN(x + y, z), w)", "Conv_3"]
    assert split_fused_name("(Unnamed Layer* 306) [Shuffle] + fc.bias") == ["(Unnamed Layer* 306) [Shuffle]", "fc.bias"]
    assert split_fused_name("{ForeignNode[a + b...c]}") == ["{ForeignNode[a + b...c]}"]
    assert split_fused_name("weird ( name + x") == ["weird ( name + x"]  # unbalanced: kept whole


def test_parse_metadata():
    assert parse_metadata("[ONNX Layer: /conv1/Conv]\x1f[ONNX Layer: /relu/Relu]") == ["/conv1/Conv", "/relu/Relu"]
    assert parse_metadata("[ONNX Layer: /a/MatMul]\x1e[ONNX Layer: /a/Add]") == ["/a/MatMul", "/a/Add"]
    assert parse_metadata("[ONNX Layer: x[0]]") == ["x[0]"]
    assert parse_metadata("[ONNX Layer: a][ONNX Layer: b]") == ["a", "b"]
    assert parse_metadata("plain_a\x1fplain_b") == ["plain_a", "plain_b"]
    assert parse_metadata(None) == [] and parse_metadata("") == []


def test_names_without_a_model_are_parsed_not_verified():
    mapping = map_layers(["Conv_0 + Relu_1", "PWN(PWN(Sigmoid_5, Mul_6), Add_7)",
                          "fusedPointwiseNode(Mul_9 + Add_10)", "conv1.weight + QuantizeLinear_7 + Conv_9",
                          "Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1",
                          "(Unnamed Layer* 12) [Shuffle]", "{ForeignNode[/a/MatMul.../b/Add]}"])
    nodes = [m.nodes for m in mapping.layers]
    assert nodes[0] == ["Conv_0", "Relu_1"]
    assert nodes[1] == ["Sigmoid_5", "Mul_6", "Add_7"]
    assert nodes[2] == ["Mul_9", "Add_10"]
    assert nodes[3] == ["QuantizeLinear_7", "Conv_9"] and mapping.layers[3].weights == ["conv1.weight"]
    assert mapping.layers[4].via == "reformat" and mapping.layers[4].reformat_of == "Conv_0 + Relu_1"
    assert nodes[5] == [] and mapping.layers[5].internal == ["(Unnamed Layer* 12) [Shuffle]"]
    assert nodes[6] == ["/a/MatMul", "/b/Add"]
    assert not mapping.verified and mapping.vanished == []


# -- the real fixtures --------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, model_name", [("fp32", "resnet18.onnx"), ("fp16", "resnet18.onnx"),
                                                 ("qat", "resnet18_qat.onnx")])
def test_fixture_layers_map_to_sample_model(fixtures_dir, variant, model_name):
    model = _model(model_name)
    report = read_layer_info(fixtures_dir / f"a100_resnet_{variant}.graph.json")
    mapping = map_layers(report, model)
    assert mapping.verified
    assert mapping.unknown_names == []  # every part is a node, a weight, or TensorRT's own
    ids = {node.id for node in model.nodes}
    for item in mapping.layers:
        assert set(item.nodes) <= ids
        assert set(item.weights) <= set(model.graph.initializers) | {
            out for n in model.nodes if n.op_type == "Constant" for out in n.outputs}
    # both directions agree, and every node is either in a layer or vanished
    for node, layers in mapping.node_to_layers.items():
        for layer in layers:
            assert node in mapping.nodes_of(layer)
    assert set(mapping.node_to_layers) | set(mapping.vanished) == ids
    assert not set(mapping.node_to_layers) & set(mapping.vanished)


def test_fp32_mapping_details(fixtures_dir):
    model = _model("resnet18.onnx")
    mapping = map_layers(read_layer_info(fixtures_dir / "a100_resnet_fp32.graph.json"), model)
    assert mapping.vanished == ["Flatten_47"]  # folded into the Gemm's reshape
    assert mapping.layers_of("Conv_0") == ["Conv_0 + Relu_1"]
    assert mapping.nodes_of("Conv_16 + Add_17 + Relu_18") == ["Conv_16", "Add_17", "Relu_18"]
    reshape = next(m for m in mapping.layers if m.layer == "reshape_after_Gemm_48")
    assert reshape.nodes == [] and reshape.internal == ["reshape_after_Gemm_48"]
    reformat = next(m for m in mapping.layers if m.layer.startswith("Reformatting CopyNode for Output Tensor 0 to Conv_10"))
    assert reformat.via == "reformat" and reformat.reformat_of == "Conv_10 + Add_11 + Relu_12"


def test_qat_weights_are_weights_not_nodes(fixtures_dir):
    model = _model("resnet18_qat.onnx")
    mapping = map_layers(read_layer_info(fixtures_dir / "a100_resnet_qat.graph.json"), model)
    conv1 = next(m for m in mapping.layers if m.layer == "conv1.weight + QuantizeLinear_7 + Conv_9")
    assert conv1.nodes == ["QuantizeLinear_7", "Conv_9"] and conv1.weights == ["conv1.weight"]
    fc = next(m for m in mapping.layers if m.layer.startswith("fc.weight + "))
    assert fc.nodes == ["QuantizeLinear_255", "Gemm_257"]
    assert fc.weights == ["fc.weight", "fc.bias"]
    assert "(Unnamed Layer* 307) [ElementWise]" in fc.internal
    assert "unsqueeze_node_after_fc.bias" in fc.internal
    for absorbed in ("DequantizeLinear_3", "BatchNormalization_10", "Relu_11", "Flatten_247", "Constant_0", "Cast_6"):
        assert absorbed in mapping.vanished


def test_load_report_fills_onnx_nodes(fixtures_dir):
    model = _model("resnet18.onnx")
    report = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json", model=model)
    assert report.layers[0].onnx_nodes == ["Conv_0", "Relu_1"]
    assert report.provenance["onnx_nodes"] == "layer names and metadata checked against the ONNX model"
    assert report.mapping.vanished == ["Flatten_47"]
    unverified = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json")
    assert unverified.layers[0].onnx_nodes == ["Conv_0", "Relu_1"]
    assert "no ONNX model" in unverified.provenance["onnx_nodes"]


def test_model_from_another_network_is_noted(fixtures_dir):
    model = _model("transformer_encoder.onnx")
    report = load_report(graph=fixtures_dir / "a100_resnet_fp32.graph.json", model=model)
    assert any("match no node" in note for note in report.notes)


# -- Myelin ranges, metadata, unnamed nodes, hostile names ----------------------------------------------------
def _on_paths(path, first, last):
    """Node names on a directed path first -> last, from the ONNX protobuf itself (plain loops, not the explorer)."""
    import onnx

    nodes = list(onnx.load(str(path)).graph.node)
    succ = {n.name: {m.name for m in nodes if set(m.input) & set(n.output)} for n in nodes}
    pred = {n.name: {m for m, after in succ.items() if n.name in after} for n in nodes}

    def reach(start, edges):
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    keep = reach(first, succ) & reach(last, pred)
    return [n.name for n in nodes if n.name in keep and n.op_type != "Constant"]


def test_foreign_node_range_is_the_nodes_on_paths_between_its_ends():
    """``{ForeignNode[A...B]}`` covers the nodes on directed paths A -> B, not the node-list slice between them:
    k_proj/v_proj MatMuls sit between q_proj/MatMul and norm1 in the list but on no path from q_proj."""
    model = _model("transformer_encoder.onnx")
    names = [n.name for n in model.nodes]
    first, last = "/encoder/layers.0/self_attn/q_proj/MatMul", "/encoder/layers.0/norm1/Add_1"
    mapping = map_layers([f"{{ForeignNode[{first}...{last}]}}"], model)
    expected = _on_paths(SAMPLES / "transformer_encoder.onnx", first, last)
    assert mapping.layers[0].nodes == expected and len(expected) > 15
    assert mapping.layers[0].range_nodes == expected and mapping.layers[0].unknown == []
    sliced = names[names.index(first): names.index(last) + 1]
    assert "/encoder/layers.0/self_attn/k_proj/MatMul" in sliced
    assert "/encoder/layers.0/self_attn/k_proj/MatMul" not in mapping.layers[0].nodes


def test_foreign_node_whose_first_layer_is_a_weight_stops_at_other_layers():
    """TensorRT may name a region after a Constant layer (a weight: ``{ForeignNode[fc.bias...Gemm_48_1]}``, the
    real name from TensorRT-RTX 1.7's build of resnet18; ``Gemm_48_1`` is the ONNX parser's second layer for node
    Gemm_48). A weight bounds nothing: the range walks back from the last node and stops at nodes other engine
    layers run."""
    model = _model("resnet18.onnx")
    whole = map_layers(["{ForeignNode[fc.bias...Gemm_48_1]}"], model)
    assert whole.layers[0].nodes == [n.id for n in model.nodes if n.op_type != "Constant"]
    tail = map_layers(["Conv_43 + Add_44 + Relu_45", "{ForeignNode[fc.bias...Gemm_48_1]}"], model)
    assert tail.layers[1].nodes == ["GlobalAveragePool_46", "Flatten_47", "Gemm_48"]


def test_metadata_is_the_authority():
    model = _model("transformer_encoder.onnx")
    meta = "[ONNX Layer: /encoder/layers.0/linear1/MatMul]\x1f[ONNX Layer: /encoder/layers.0/linear1/Add]"
    layer = {"Name": "__myl_MatMulAdd_myl0_3", "LayerType": "Myelin", "Metadata": meta}
    mapping = map_layers([layer], model)
    assert mapping.layers[0].via == "metadata"
    assert mapping.layers[0].nodes == ["/encoder/layers.0/linear1/MatMul", "/encoder/layers.0/linear1/Add"]
    assert mapping.layers[0].unknown == [] and mapping.layers[0].internal == ["__myl_MatMulAdd_myl0_3"]
    bad = map_layers([{"Name": "x", "Metadata": "[ONNX Layer: /not/in/model]"}], model)
    assert bad.layers[0].unknown == ["x", "/not/in/model"]


def test_unnamed_and_duplicate_nodes_match_by_id_and_output():
    model = _model("hostile_names.onnx")
    resolver = NameResolver(model)
    ids = {n.id: n for n in model.nodes}
    neg = next(n for n in model.nodes if n.op_type == "Neg")
    assert neg.name == "" and neg.id in ids
    mapped = resolver.map_layer(f"node_of_{neg.outputs[0]} + {neg.id}")
    assert mapped.nodes == [neg.id] and mapped.unknown == []
    dupes = [n.id for n in model.nodes if n.name == "duplicate"]
    assert len(dupes) == 2
    assert resolver.map_layer("duplicate").nodes == dupes  # the name is ambiguous: both
    assert resolver.map_layer(dupes[1]).nodes == [dupes[1]]  # the id is not


def test_hostile_names_are_data():
    model = _model("hostile_names.onnx")
    first = model.nodes[0]
    assert "<script>" in first.name
    mapping = map_layers([f"{first.name} + {model.nodes[1].name}"], model)
    assert mapping.layers[0].nodes == [first.id, model.nodes[1].id]


def test_node_names_containing_separators():
    model = explorer.load_model(tiny_model(
        [helper.make_node("Relu", ["x"], ["y"], name="a + b"), helper.make_node("Neg", ["y"], ["z"], name="c")],
        [("x", TensorProto.FLOAT, [2])], [("z", TensorProto.FLOAT, [2])]))
    mapped = map_layers(["a + b", "a + b + c"], model)
    assert mapped.layers[0].nodes == ["a + b"]
    # inside a fused name, the longest run of parts that names a node is taken whole
    assert mapped.layers[1].nodes == ["a + b", "c"] and mapped.layers[1].unknown == []
