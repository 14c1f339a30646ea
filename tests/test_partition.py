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
