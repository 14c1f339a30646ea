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


# ----------------------------------------------------------------------------------- more families
# bench/analyze.py measures the analysis on four families unlike each other in what costs: few shared
# initializers (decoder_model), many per-layer initializers and Constant nodes, a branchy CNN whose joins
# and long skips stress partitioning, and control flow (If/Loop bodies) with model-local functions.

LOCAL_NODES_PER_LAYER = 42


def decoder_local_weights_model(num_nodes: int, hidden: int = 8) -> onnx.ModelProto:
    """A decoder whose every layer has its own weights, biases and small constants (about 17 initializers
    and 4 Constant nodes per 42-node layer: ~40k initializers at 100k nodes), as exporters write unshared
    constants."""
    layers = max(1, round(num_nodes / LOCAL_NODES_PER_LAYER))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    rng = np.random.default_rng(1)

    def init(name: str, values) -> str:
        inits.append(numpy_helper.from_array(np.asarray(values), name))
        return name

    def weight(name: str, shape) -> str:
        return init(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    x = "input_ids_embeds"
    for i in range(layers):
        p = f"/model/decoder/layers.{i}"

        def node(op, inputs, scope, **attrs):
            out = f"{p}/{scope}/{op}_output_0"
            nodes.append(helper.make_node(op, inputs, [out], name=f"{p}/{scope}/{op}", **attrs))
            return out

        def constant(scope, values):
            out = f"{p}/{scope}/Constant_output_0"
            nodes.append(helper.make_node("Constant", [], [out], name=f"{p}/{scope}/Constant",
                                          value=numpy_helper.from_array(np.asarray(values))))
            return out

        eps = init(f"{p}.eps", np.array(1e-5, np.float32))
        two = init(f"{p}.two", np.array(2.0, np.float32))
        scale = init(f"{p}.scale", np.array(1.0 / np.sqrt(hidden), np.float32))
        axes = init(f"{p}.axes", np.array([-1], np.int64))

        def rmsnorm(h, scope, w):
            sq = node("Pow", [h, two], scope)
            mean = node("ReduceMean", [sq, axes], scope, keepdims=1)
            root = node("Sqrt", [node("Add", [mean, eps], scope + "/eps")], scope)
            return node("Mul", [node("Div", [h, root], scope), weight(w, [hidden])], scope + "/weight")

        def linear(h, scope, n_in, n_out, bias=True):
            out = node("MatMul", [h, weight(f"{p}.{scope}.weight", [n_in, n_out])], scope)
            if bias:
                out = node("Add", [out, weight(f"{p}.{scope}.bias", [n_out])], scope + "/bias")
            return out

        g = rmsnorm(x, "input_layernorm", f"{p}.ln1.weight")
        q = linear(g, "self_attn/q_proj", hidden, hidden)
        k = linear(g, "self_attn/k_proj", hidden, hidden)
        v = linear(g, "self_attn/v_proj", hidden, hidden)
        kt = node("Transpose", [k], "self_attn/k_t", perm=[0, 2, 1])
        scores = node("Mul", [node("MatMul", [q, kt], "self_attn/qk"), scale], "self_attn/scale")
        probs = node("Softmax", [scores], "self_attn", axis=-1)
        o = linear(node("MatMul", [probs, v], "self_attn/av"), "self_attn/o_proj", hidden, hidden)
        h1 = node("Add", [x, o], "residual_attn")
        g2 = rmsnorm(h1, "post_attention_layernorm", f"{p}.ln2.weight")
        gate = linear(g2, "mlp/gate_proj", hidden, 2 * hidden, bias=False)
        up = linear(g2, "mlp/up_proj", hidden, 2 * hidden, bias=False)
        silu = node("Mul", [gate, node("Sigmoid", [gate], "mlp/act_fn")], "mlp/act_fn")
        down = linear(node("Mul", [silu, up], "mlp"), "mlp/down_proj", 2 * hidden, hidden, bias=False)
        h2 = node("Add", [h1, down], "residual_mlp")
        # shape bookkeeping with Constant nodes: Shape -> Gather(Constant) -> Unsqueeze -> Concat -> Reshape
        idx = node("Gather", [node("Shape", [h2], "view"), constant("view/idx", np.array(1, np.int64))],
                   "view", axis=0)
        uns = node("Unsqueeze", [idx, constant("view/axes", np.array([0], np.int64))], "view")
        shape = node("Concat", [constant("view/batch", np.array([1], np.int64)), uns,
                                constant("view/hidden", np.array([hidden], np.int64))], "view", axis=0)
        x = node("Reshape", [h2, shape], "view")
    graph = helper.make_graph(
        nodes, "decoder_local_weights",
        [helper.make_tensor_value_info("input_ids_embeds", TensorProto.FLOAT, [1, "seq", hidden])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, "seq", hidden])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="bench")
    model.ir_version = 9
    return model


CNN_NODES_PER_BLOCK = 12


def branchy_cnn_model(num_nodes: int, channels: int = 4, size: int = 8, skip: int = 16,
                      custom_every: int = 25) -> onnx.ModelProto:
    """A CNN of many joins: each block runs two branches (3x3 and 1x1 conv) joined by Concat, squeezes back
    with a 1x1 conv, adds a residual and a *deep skip* from ``skip`` blocks back (U-Net/DenseNet-like long
    edges). Every ``custom_every``-th block has a custom-domain op (needs a plugin), so the graph is cut into
    many partitions whose long edges the cut must keep acyclic."""
    blocks = max(1, round(num_nodes / CNN_NODES_PER_BLOCK))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    rng = np.random.default_rng(2)

    def weight(name: str, shape) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name))
        return name

    x = "image"
    history = [x]
    for b in range(blocks):
        p = f"/backbone/stage{b // 100}/block{b}"

        def node(op, inputs, scope, domain=None, **attrs):
            out = f"{p}/{scope}/{op}_output_0"
            nodes.append(helper.make_node(op, inputs, [out], name=f"{p}/{scope}/{op}", domain=domain, **attrs))
            return out

        c = channels
        a = node("Relu", [node("Conv", [x, weight(f"{p}.a.weight", [c, c, 3, 3]), weight(f"{p}.a.bias", [c])],
                              "branch_a", pads=[1, 1, 1, 1])], "branch_a")
        bb = node("Relu", [node("Conv", [x, weight(f"{p}.b.weight", [c, c, 1, 1])], "branch_b")], "branch_b")
        cat = node("Concat", [a, bb, x], "join", axis=1)
        sq = node("Conv", [cat, weight(f"{p}.squeeze.weight", [c, 3 * c, 1, 1])], "squeeze")
        if custom_every and b % custom_every == custom_every - 1:
            sq = node("CustomScale", [sq], "plugin", domain="bench.custom")
        else:
            sq = node("Sigmoid", [sq], "gate")
        res = node("Add", [x, sq], "residual")
        deep = node("Add", [res, history[max(0, len(history) - skip)]], "deep_skip")
        mx = node("MaxPool", [deep], "pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
        mixed = node("Add", [mx, node("Mul", [deep, a], "mix")], "mix")
        x = node("Relu", [mixed], "out")
        history.append(x)
    graph = helper.make_graph(
        nodes, "branchy_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, channels, size, size])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("bench.custom", 1)],
                              producer_name="bench")
    model.ir_version = 9
    return model


CONTROL_GROUP_NODES = 25000  # nodes per group: half top-level, half in a Loop body and the If inside it


def control_flow_model(num_nodes: int, hidden: int = 8) -> onnx.ModelProto:
    """Groups of blocks where half the nodes live in control flow: a Loop whose body runs blocks and an If
    (condition computed at run time, both branches blocks), as generation loops are exported; every block
    calls two model-local functions (one calling the other), and body nodes read the outer graph's weights.
    ``num_nodes`` counts body nodes too. (ONNX shape inference copies the outer scope into every body, so
    a model of many small bodies is quadratic for ONNX itself: here bodies are few and large.)"""
    fn_domain = "bench.fn"
    f = TensorProto.FLOAT
    groups = max(1, round(num_nodes / CONTROL_GROUP_NODES))
    per_group = num_nodes / groups
    top_blocks = max(1, round(per_group * 0.5 / 11))
    loop_blocks = max(1, round(per_group * 0.3 / 11))
    branch_blocks = max(1, round(per_group * 0.1 / 11))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [numpy_helper.from_array(np.array(2, np.int64), "trip_count"),
                                     numpy_helper.from_array(np.array(True), "loop_cond"),
                                     numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    rng = np.random.default_rng(3)

    act = helper.make_function(fn_domain, "FastAct", ["X"], ["Y"], [
        helper.make_node("Sigmoid", ["X"], ["s"]),
        helper.make_node("Mul", ["X", "s"], ["Y"])], [helper.make_opsetid("", 17)])
    gated = helper.make_function(fn_domain, "GatedUnit", ["X", "G"], ["Y"], [
        helper.make_node("FastAct", ["G"], ["a"], domain=fn_domain),
        helper.make_node("Mul", ["X", "a"], ["Y"])], [helper.make_opsetid("", 17), helper.make_opsetid(fn_domain, 1)])

    def blocks(out: list, prefix: str, x: str, count: int) -> str:
        """``count`` 11-node blocks appended to ``out``; weights are top-level initializers."""
        for b in range(count):
            p = f"{prefix}/blocks.{b}"

            def node(op, inputs, scope, domain=None, **attrs):
                name = f"{p}/{scope}/{op}"
                out.append(helper.make_node(op, inputs, [name + "_output_0"], name=name, domain=domain, **attrs))
                return name + "_output_0"

            w = f"{p}.weight"
            inits.append(numpy_helper.from_array((rng.standard_normal([hidden, hidden]) * 0.1).astype(np.float32), w))
            bias = f"{p}.bias"
            inits.append(numpy_helper.from_array(np.zeros([hidden], np.float32), bias))
            h = node("Add", [node("MatMul", [x, w], "proj"), bias], "proj/bias")
            a = node("FastAct", [h], "act", domain=fn_domain)
            g = node("GatedUnit", [a, x], "gate", domain=fn_domain)
            n = node("Div", [g, node("Add", [node("Abs", [g], "norm"), "one"], "norm")], "norm")
            r = node("Add", [x, node("Relu", [n], "out")], "residual")
            x = node("Tanh", [node("Mul", [r, "half"], "out")], "out")
        return x

    inits += [numpy_helper.from_array(np.array(1.0, np.float32), "one"),
              numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    x = "input"
    for gi in range(groups):
        p = f"/model/groups.{gi}"
        h = blocks(nodes, p, x, top_blocks)
        red, cond = f"{p}/cond/ReduceSum_output_0", f"{p}/cond/Greater_output_0"
        nodes.append(helper.make_node("ReduceSum", [h], [red], name=f"{p}/cond/ReduceSum", keepdims=0))
        nodes.append(helper.make_node("Greater", [red, "zero"], [cond], name=f"{p}/cond/Greater"))
        lp = f"{p}/loop"
        it, cin, carried, cout = f"{lp}/i", f"{lp}/cond_in", f"{lp}/x_in", f"{lp}/cond_out"
        body: list[onnx.NodeProto] = [helper.make_node("Identity", [cin], [cout], name=f"{lp}/cond/Identity")]
        y = blocks(body, lp, carried, loop_blocks)
        then_nodes: list[onnx.NodeProto] = []
        else_nodes: list[onnx.NodeProto] = []
        then_out = blocks(then_nodes, f"{lp}/then", y, branch_blocks)
        else_out = blocks(else_nodes, f"{lp}/else", h, branch_blocks)  # h: read from two scopes out
        branched = f"{lp}/If_output_0"
        body.append(helper.make_node(
            "If", [cond], [branched], name=f"{lp}/If",
            then_branch=helper.make_graph(then_nodes, f"{lp}/then", [],
                                          [helper.make_tensor_value_info(then_out, f, [1, "seq", hidden])]),
            else_branch=helper.make_graph(else_nodes, f"{lp}/else", [],
                                          [helper.make_tensor_value_info(else_out, f, [1, "seq", hidden])])))
        loop_body = helper.make_graph(
            body, lp, [helper.make_tensor_value_info(it, TensorProto.INT64, []),
                       helper.make_tensor_value_info(cin, TensorProto.BOOL, []),
                       helper.make_tensor_value_info(carried, f, [1, "seq", hidden])],
            [helper.make_tensor_value_info(cout, TensorProto.BOOL, []),
             helper.make_tensor_value_info(branched, f, [1, "seq", hidden])])
        x = f"{p}/Loop_output_0"
        nodes.append(helper.make_node("Loop", ["trip_count", "loop_cond", h], [x], name=f"{p}/Loop", body=loop_body))
    graph = helper.make_graph(
        nodes, "control_flow", [helper.make_tensor_value_info("input", f, [1, "seq", hidden])],
        [helper.make_tensor_value_info(x, f, [1, "seq", hidden])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(fn_domain, 1)],
                              functions=[act, gated], producer_name="bench")
    model.ir_version = 9
    return model


#: name -> generator of a model with about N nodes (bench/analyze.py runs each)
FAMILIES = {
    "decoder": decoder_model,
    "decoder-local-weights": decoder_local_weights_model,
    "branchy-cnn": branchy_cnn_model,
    "control-flow": control_flow_model,
}
