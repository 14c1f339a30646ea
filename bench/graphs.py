"""Synthetic decoder-style ONNX graphs of a chosen size, for benchmarks and scale tests.

Each layer looks like a modern exporter's transformer decoder block (scoped names such as
``/model/layers.3/self_attn/q_proj/MatMul``): RMSNorm, Q/K/V projections, attention with Softmax, output
projection, residual, gated MLP with SiLU. Weights are tiny unless ``external_weight_bytes`` is given, in
which case they live in an external file that is created sparse (the explorer must never read it).
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NODES_PER_LAYER = 36


def decoder_model(num_nodes: int, hidden: int = 8, seq: str | int = "seq") -> onnx.ModelProto:
    """A decoder-style model with about ``num_nodes`` nodes (rounded to whole layers)."""
    layers = max(1, round(num_nodes / NODES_PER_LAYER))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    rng = np.random.default_rng(0)

    def weight(name: str, shape) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float32), name))
        return name

    def const(name: str, values, dtype=np.int64) -> str:
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    eps = const("eps", 1e-5, np.float32)
    two = const("two", 2.0, np.float32)
    scale = const("attn_scale", 1.0 / np.sqrt(hidden), np.float32)
    axes_last = const("axes_last", [-1])
    x = "hidden_states"
    for i in range(layers):
        p = f"/model/layers.{i}"

        def node(op, inputs, scope, n_out=1, **attrs):
            out = [f"{p}/{scope}/{op}_output_{k}" for k in range(n_out)]
            nodes.append(helper.make_node(op, inputs, out, name=f"{p}/{scope}/{op}", **attrs))
            return out[0] if n_out == 1 else out

        # RMSNorm (decomposed, as exporters write it)
        sq = node("Pow", [x, two], "input_layernorm")
        mean = node("ReduceMean", [sq, axes_last], "input_layernorm", keepdims=1)
        add_eps = node("Add", [mean, eps], "input_layernorm")
        root = node("Sqrt", [add_eps], "input_layernorm")
        normed = node("Div", [x, root], "input_layernorm")
        gamma = node("Mul", [normed, weight(f"{p}.ln1.weight", [hidden])], "input_layernorm")
        # attention
        q = node("MatMul", [gamma, weight(f"{p}.q.weight", [hidden, hidden])], "self_attn/q_proj")
        k = node("MatMul", [gamma, weight(f"{p}.k.weight", [hidden, hidden])], "self_attn/k_proj")
        v = node("MatMul", [gamma, weight(f"{p}.v.weight", [hidden, hidden])], "self_attn/v_proj")
        kt = node("Transpose", [k], "self_attn", perm=[0, 2, 1])
        scores = node("MatMul", [q, kt], "self_attn/qk")
        scaled = node("Mul", [scores, scale], "self_attn")
        probs = node("Softmax", [scaled], "self_attn", axis=-1)
        ctx = node("MatMul", [probs, v], "self_attn/av")
        o = node("MatMul", [ctx, weight(f"{p}.o.weight", [hidden, hidden])], "self_attn/o_proj")
        h1 = node("Add", [x, o], "residual_attn")
        # post-attention RMSNorm
        sq2 = node("Pow", [h1, two], "post_attention_layernorm")
        mean2 = node("ReduceMean", [sq2, axes_last], "post_attention_layernorm", keepdims=1)
        add2 = node("Add", [mean2, eps], "post_attention_layernorm")
        root2 = node("Sqrt", [add2], "post_attention_layernorm")
        normed2 = node("Div", [h1, root2], "post_attention_layernorm")
        gamma2 = node("Mul", [normed2, weight(f"{p}.ln2.weight", [hidden])], "post_attention_layernorm")
        # gated MLP with SiLU
        gate = node("MatMul", [gamma2, weight(f"{p}.gate.weight", [hidden, 2 * hidden])], "mlp/gate_proj")
        up = node("MatMul", [gamma2, weight(f"{p}.up.weight", [hidden, 2 * hidden])], "mlp/up_proj")
        sig = node("Sigmoid", [gate], "mlp/act_fn")
        silu = node("Mul", [gate, sig], "mlp/act_fn")
        prod = node("Mul", [silu, up], "mlp")
        down = node("MatMul", [prod, weight(f"{p}.down.weight", [2 * hidden, hidden])], "mlp/down_proj")
        h2 = node("Add", [h1, down], "residual_mlp")
        # shape bookkeeping exporters love: Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        shp = node("Shape", [h2], "view")
        idx = node("Gather", [shp, const(f"{p}.idx", 1)], "view", axis=0)
        uns = node("Unsqueeze", [idx, const(f"{p}.axes0", [0])], "view")
        cat = node("Concat", [const(f"{p}.batch", [1]), uns, const(f"{p}.hid", [hidden])], "view", axis=0)
        x = node("Reshape", [h2, cat], "view")
        ident = node("Identity", [x], "out")
        x = node("Relu", [ident], "out")
        x = node("Neg", [x], "out")
        x = node("Neg", [x], "out2")
    nodes.append(helper.make_node("Identity", [x], ["logits"], name="/lm_head/Identity"))
    graph = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [1, seq, hidden])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench")
    model.ir_version = 9
    return model


def model_with_external_weights(path: str, total_bytes: int, tensors: int = 64) -> str:
    """Write a small model whose ``total_bytes`` of float weights live in a sparse external file."""
    per = max(4, total_bytes // tensors // 4 * 4)
    side = int(np.sqrt(per // 4))
    data_name = os.path.basename(path) + ".data"
    nodes, inits = [], []
    x = "input"
    offset = 0
    for i in range(tensors):
        w = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[side, side])
        w.data_location = TensorProto.EXTERNAL
        nbytes = side * side * 4
        for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(nbytes))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        offset += nbytes
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [x, w.name], [f"t{i}"], name=f"/layers.{i}/MatMul"))
        nodes.append(helper.make_node("Relu", [f"t{i}"], [f"r{i}"], name=f"/layers.{i}/Relu"))
        x = f"r{i}"
    graph = helper.make_graph(nodes, "external", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                  [1, side])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, side])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    with open(os.path.join(os.path.dirname(path), data_name), "wb") as f:
        f.truncate(offset)  # sparse: the bytes exist on disk as far as stat is concerned
    return path
