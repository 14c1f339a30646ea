"""Node identity through model rewrites: constant folding keeps every node's explorer id, bodies included."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from conftest import tiny_model
from explorer import load_model
from explorer.model.transforms import fold_constants, name_nodes_by_id


def _if_with_foldable_body():
    """``If(cond)`` whose then-branch has unnamed nodes: two Constants and their Add (which folding removes)
    before the Mul that reads the outer ``x``: the Mul's id comes from its position in the body."""
    def const(value):
        return helper.make_node("Constant", [], [f"c{value}"],
                                value=numpy_helper.from_array(np.full([2], value, np.float32)))

    then_body = helper.make_graph(
        [const(1), const(2), helper.make_node("Add", ["c1", "c2"], ["s"]), helper.make_node("Mul", ["x", "s"], ["t"])],
        "then", [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_body = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                                  [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    branch = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_body, else_branch=else_body)
    return tiny_model([branch], [("x", TensorProto.FLOAT, [2]), ("cond", TensorProto.BOOL, [])],
                      [("y", TensorProto.FLOAT, [2])])


def _body_ids(model):
    branch = model.graph.nodes[0]
    return {n.op_type: n.id for n in branch.subgraphs["then_branch"].nodes}


def test_a_node_inside_an_if_body_keeps_its_id_through_constant_folding():
    model = load_model(_if_with_foldable_body())
    assert _body_ids(model) == {"Constant": "branch/Constant_1", "Add": "branch/Add_2", "Mul": "branch/Mul_3"}

    folded, tool = fold_constants(model)

    assert "onnx-graphsurgeon" in tool
    after = _body_ids(folded)
    assert "Add" not in after  # the constant arithmetic is gone ...
    assert after["Mul"] == "branch/Mul_3"  # ... and the Mul is still the node it was, not "branch/Mul_0"


def test_name_nodes_by_id_renames_body_nodes_with_their_local_ids():
    proto = _if_with_foldable_body()
    changed = name_nodes_by_id(proto, load_model(proto))
    then_body = next(a.g for a in proto.graph.node[0].attribute if a.name == "then_branch")
    assert [n.name for n in then_body.node] == ["Constant_0", "Constant_1", "Add_2", "Mul_3"]
    assert changed == 5  # four then-branch nodes and the else-branch Neg; "branch" already had its id
