"""The partitioner on hand-made DAGs: maximal groups, no cycles after contraction, min_block_size."""

from __future__ import annotations

import random

import networkx as nx

from explorer.support.partition import MAC_OPS, partition, partition_with_fallback


def contracted_is_acyclic(preds, groups) -> bool:
    owner = {i: g for g, members in enumerate(groups) for i in members}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(groups)))
    for i, ps in enumerate(preds):
        for p in ps:
            if owner[p] != owner[i]:
                dag.add_edge(owner[p], owner[i])
    return nx.is_directed_acyclic_graph(dag)


def test_chain_with_one_unsupported_node_makes_three_partitions():
    preds = [[], [0], [1], [2], [3]]
    labels = [True, True, False, True, True]
    groups = partition(preds, labels)
    assert groups == [[0, 1], [2], [3, 4]]


def test_parallel_branch_around_unsupported_node_is_not_merged_into_a_cycle():
    # 0 -> 1(unsupported) -> 3 ;  0 -> 2 -> 3 : merging 0,2,3 would make a cycle with 1
    preds = [[], [0], [0], [1, 2]]
    labels = [True, False, True, True]
    groups = partition(preds, labels)
    assert contracted_is_acyclic(preds, groups)
    assert [3] in groups or any(3 in g and 0 not in g for g in groups)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]


def test_independent_supported_branches_are_separate_when_not_connected():
    preds = [[], [], [0], [1]]
    labels = [True, True, True, True]
    assert partition(preds, labels) == [[0, 2], [1, 3]]


def test_random_dags_always_contract_acyclic_and_are_label_pure():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        preds = [sorted(rng.sample(range(i), k=min(i, rng.randint(0, 3)))) for i in range(n)]
        labels = [rng.random() < 0.7 for _ in range(n)]
        groups = partition(preds, labels)
        assert sorted(i for g in groups for i in g) == list(range(n))
        assert all(len({labels[i] for i in g}) == 1 for g in groups)
        assert contracted_is_acyclic(preds, groups)


def test_min_block_size_sends_small_partitions_back_and_merges_them():
    preds = [[], [0], [1], [2], [3], [4], [5]]
    labels = [True, False, True, True, False, True, True]  # T | U | T T | U | T T
    ops = ["Conv", "Unique", "Relu", "Relu", "Unique", "Conv", "Relu"]
    groups, final, demoted = partition_with_fallback(preds, labels, ops, min_block_size=3)
    assert not any(final)
    assert groups == [list(range(7))]
    assert "min_block_size=3" in demoted[2]


def test_require_mac_prunes_partitions_without_multiply_accumulate():
    preds = [[], [0], [1], [2]]
    labels = [True, True, False, True]
    ops = ["Relu", "Sigmoid", "Unique", "Conv"]
    groups, final, demoted = partition_with_fallback(preds, labels, ops, require_mac=True)
    assert final == [False, False, False, True]
    assert "multiply-accumulate" in demoted[0]
    assert "Conv" in MAC_OPS


# -- nodes inside If/Loop/Scan bodies are counted (issue 11: silero-vad "80%" with 684 of 689 nodes in an If) --
def _silero_like(path, body_nodes: int = 684):
    """Five top-level nodes, one of them an If whose branches hold ``body_nodes`` nodes, one of them an op
    TensorRT does not take (Unique): the If is unsupported, and the model's work is in it."""
    import numpy as np
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    def branch(name: str, count: int, unsupported: bool):
        nodes, prev = [], "x"
        for i in range(count - (1 if unsupported else 0)):
            nodes.append(h.make_node("Relu", [prev], [f"{name}_{i}"], name=f"{name}/relu_{i}"))
            prev = f"{name}_{i}"
        if unsupported:
            nodes.append(h.make_node("Unique", [prev], [f"{name}_u"], name=f"{name}/unique"))
            prev = f"{name}_u"
        out = h.make_tensor_value_info(prev, T.FLOAT, None)
        return h.make_graph(nodes, name, [], [out])

    then_count = body_nodes // 2
    x = h.make_tensor_value_info("x", T.FLOAT, [4])
    y = h.make_tensor_value_info("y", T.FLOAT, None)
    nodes = [h.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
             h.make_node("Greater", ["s", "zero"], ["c"], name="greater"),
             h.make_node("If", ["c"], ["b"], name="decoder/if", then_branch=branch("then", then_count, True),
                         else_branch=branch("else", body_nodes - then_count, False)),
             h.make_node("Sigmoid", ["x"], ["sg"], name="head/sigmoid"),
             h.make_node("Mul", ["sg", "sg"], ["y"], name="head/mul")]
    graph = h.make_graph(nodes, "silero_like", [x], [y, h.make_tensor_value_info("b", T.FLOAT, None)],
                         [nh.from_array(np.array(0.0, np.float32), "zero")])
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def test_coverage_counts_the_nodes_inside_an_unsupported_if(tmp_path):
    import explorer

    report = explorer.analyze(_silero_like(tmp_path / "silero_like.onnx"))
    assert (report.nodes_in_tensorrt, report.nodes_total) == (4, 5)  # what "80% supported" counted
    assert report.body_nodes == 684 and report.nodes_total_with_bodies == 689
    assert report.nodes_in_tensorrt_with_bodies == 4  # the If's bodies run where the If runs: the framework
    assert report.coverage_text() == "4/5 top-level (80.0%); with If/Loop/Scan bodies 4/689 (0.6%)"
    data = report.to_dict()
    assert (data["nodes_total_with_bodies"], data["nodes_in_tensorrt_with_bodies"]) == (689, 4)
    framework = next(p for p in data["partitions"] if not p["supported"])
    assert [data["nodes"][i]["node"] for i in framework["members"]] == ["decoder/if"]
    assert framework["body_nodes"] == 684 and report.partition_body_nodes(report.partitions[framework["index"]]) == 684
    assert "with If/Loop/Scan bodies: 689 nodes (684 in bodies), 687 supported (99.7%), 4 in TensorRT engines (0.6%)" in report.summary()
    assert "1 nodes (+684 in bodies)" in report.summary()
    from explorer.html.fragments import partitions_header
    assert "with If/Loop/Scan bodies 4/689 (0.6%)" in partitions_header(report)


def test_a_supported_if_takes_its_bodies_into_tensorrt():
    import explorer
    from conftest import SAMPLES

    report = explorer.analyze(SAMPLES / "control_flow.onnx")
    if_node = report.verdict("branch/if")
    assert if_node.in_tensorrt and len(if_node.children) == 5
    # the Loop (a Unique in its body) and head/scaled_tanh (builtin ScaledTanh importer, no alpha/beta) stay out
    assert report.coverage_text() == "3/5 top-level (60.0%); with If/Loop/Scan bodies 8/17 (47.1%)"
