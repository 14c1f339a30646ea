#!/usr/bin/env python3
"""Build the sample ONNX models shipped with the TensorRT Engine Explorer.

Deterministic: every random tensor comes from ``numpy.random.default_rng`` with a
fixed seed, every name is fixed, and nothing depends on time or paths.

    python sample_models/make_samples.py            # regenerate in place
    python sample_models/make_samples.py OUT_DIR    # write somewhere else
    python sample_models/make_samples.py --no-check # skip checker / onnxruntime runs

Importable: every ``make_*`` function returns an ``onnx.ModelProto``;
``build_all(out_dir)`` writes every file and returns ``{file name: size in bytes}``.

Only ``onnx``, ``numpy`` and ``onnxruntime`` are needed (no torch).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20240611
IR_VERSION = 9
OPSET = 17
HERE = Path(__file__).resolve().parent
PRODUCER = "trt-engine-explorer/sample_models/make_samples.py"
PRODUCER_VERSION = "1"
F32 = np.float32

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _model(graph: onnx.GraphProto, opsets: Dict[str, int], doc: str,
           ir_version: int = IR_VERSION, functions=None) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        doc_string=doc,
        functions=functions or [],
    )
    model.ir_version = ir_version
    model.model_version = 1
    return model


def _init(name: str, arr: np.ndarray) -> TensorProto:
    arr = np.asarray(arr)  # (np.ascontiguousarray would turn 0-d scalars into shape [1])
    return numpy_helper.from_array(arr if arr.flags.c_contiguous else arr.copy(), name)


def _const_node(name: str, out: str, arr: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [out], name=name,
                            value=numpy_helper.from_array(np.asarray(arr)))


def _vi(name: str, elem: int, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _he(rng: np.random.Generator, shape: Sequence[int], fan_in: int, gain: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in) * gain).astype(F32)


def _round_up_2sig(v: float) -> float:
    """Round a positive range up to two significant digits.

    Calibrated ranges come from onnxruntime runs whose last bits can differ between
    CPUs; rounding them makes the generated files byte-identical across machines
    (unless a value lands within an ulp of a rounding step, which is very unlikely).
    """
    v = float(v)
    if not math.isfinite(v) or v <= 0.0:
        return 1.0
    step = 10.0 ** (math.floor(math.log10(v)) - 1)
    return float(f"{math.ceil(v / step * (1 - 1e-7)) * step:.6g}")


def _ort_session(model: onnx.ModelProto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


_NP_OF_ONNX = {
    TensorProto.FLOAT: np.float32, TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8,
    TensorProto.INT64: np.int64, TensorProto.INT32: np.int32, TensorProto.BOOL: np.bool_,
}


def sample_inputs(model: onnx.ModelProto, dim_values: Optional[Dict[str, int]] = None,
                  seed: int = SEED) -> Dict[str, np.ndarray]:
    """Deterministic inputs for a model (symbolic dims from ``dim_values``, else 2)."""
    dim_values = dim_values or {}
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else dim_values.get(d.dim_param, 2)
                 for d in tt.shape.dim]
        dtype = _NP_OF_ONNX[tt.elem_type]
        if dtype == np.float32:
            feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[inp.name] = rng.integers(0, 16, shape).astype(dtype)
    return feeds


def run_ort(model: onnx.ModelProto, dim_values: Optional[Dict[str, int]] = None) -> Dict[str, np.ndarray]:
    sess = _ort_session(model)
    outs = sess.run(None, sample_inputs(model, dim_values))
    return {o.name: v for o, v in zip(sess.get_outputs(), outs)}


def _intermediate_values(model: onnx.ModelProto, names: Iterable[str],
                         feeds_list: List[Dict[str, np.ndarray]]) -> Dict[str, List[np.ndarray]]:
    """Run ``model`` with extra graph outputs and return the requested tensors."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    names = list(dict.fromkeys(names))
    existing = {o.name for o in m.graph.output}
    graph_inputs = {i.name for i in m.graph.input}
    for n in names:
        if n not in existing and n not in graph_inputs:
            m.graph.output.append(helper.make_empty_tensor_value_info(n))
    sess = _ort_session(m)
    out_names = [o.name for o in sess.get_outputs()]
    res: Dict[str, List[np.ndarray]] = {n: [] for n in names}
    for feeds in feeds_list:
        vals = dict(zip(out_names, sess.run(None, feeds)))
        vals.update(feeds)
        for n in names:
            res[n].append(vals[n])
    return res


# ---------------------------------------------------------------------------
# 1 + 2. ResNet-18 (legacy PyTorch exporter names), fp32 (BN folded) and QAT
# ---------------------------------------------------------------------------

RESNET_STEM = 16
RESNET_WIDTHS = (16, 32, 64, 128)  # torchvision: 64/128/256/512
RESNET_CLASSES = 10
RESNET_INPUT = [1, 3, 224, 224]
BN_EPS = 1e-5


def _resnet_blocks():
    """(prefix, c_in, c_out, stride, has_downsample) for the 8 BasicBlocks."""
    blocks, cin = [], RESNET_STEM
    for li, w in enumerate(RESNET_WIDTHS, 1):
        for bi in range(2):
            stride = 2 if (li > 1 and bi == 0) else 1
            blocks.append((f"layer{li}.{bi}", cin, w, stride, stride != 1 or cin != w))
            cin = w
    return blocks


def resnet_params(seed: int = SEED) -> Dict[str, np.ndarray]:
    """torchvision-style state_dict (unfolded Conv + BatchNorm) with random weights."""
    rng = np.random.default_rng(seed)
    p: Dict[str, np.ndarray] = {}

    def conv(name, cout, cin, k):
        p[name + ".weight"] = _he(rng, (cout, cin, k, k), cin * k * k)

    def bn(name, c, gamma=1.0):
        p[name + ".weight"] = (gamma * (1.0 + 0.1 * rng.standard_normal(c))).astype(F32)
        p[name + ".bias"] = (0.05 * rng.standard_normal(c)).astype(F32)
        p[name + ".running_mean"] = (0.05 * rng.standard_normal(c)).astype(F32)
        p[name + ".running_var"] = rng.uniform(0.8, 1.25, c).astype(F32)

    conv("conv1", RESNET_STEM, 3, 7)
    bn("bn1", RESNET_STEM)
    for prefix, cin, cout, _stride, ds in _resnet_blocks():
        conv(prefix + ".conv1", cout, cin, 3)
        bn(prefix + ".bn1", cout)
        conv(prefix + ".conv2", cout, cout, 3)
        bn(prefix + ".bn2", cout, gamma=0.5)  # keeps residual growth tame
        if ds:
            conv(prefix + ".downsample.0", cout, cin, 1)
            bn(prefix + ".downsample.1", cout, gamma=0.5)
    c = RESNET_WIDTHS[-1]
    p["fc.weight"] = (rng.standard_normal((RESNET_CLASSES, c)) / math.sqrt(c)).astype(F32)
    p["fc.bias"] = (0.01 * rng.standard_normal(RESNET_CLASSES)).astype(F32)
    return p


def _fold_bn(p, conv, bn):
    w = p[conv + ".weight"].astype(np.float64)
    g, b = p[bn + ".weight"].astype(np.float64), p[bn + ".bias"].astype(np.float64)
    m, v = p[bn + ".running_mean"].astype(np.float64), p[bn + ".running_var"].astype(np.float64)
    s = g / np.sqrt(v + BN_EPS)
    return (w * s[:, None, None, None]).astype(F32), (b - m * s).astype(F32)


def _conv_attrs(k: int, stride: int):
    pad = k // 2
    return dict(dilations=[1, 1], group=1, kernel_shape=[k, k], pads=[pad] * 4, strides=[stride, stride])


# Tensor names copied from the trtexec layer info of the real ResNet-18 engines
# (/work/shared/fixtures/trt/a100_resnet_{fp32,qat}.graph.json), per BasicBlock.
_FP32_RELU1_OUT = [129, 136, 143, 152, 159, 168, 175, 184]      # onnx::Conv_N
_FP32_BLOCK_OUT = [24, 40, 60, 76, 96, 112, 132, 148]           # input.N
_QAT_BLOCK_Q = [140, 169, 198, 240, 269, 311, 340, 382]         # onnx::DequantizeLinear_N
_QAT_MID_Q = [154, 183, 212, 254, 283, 325, 354, 396]           # onnx::DequantizeLinear_N
_QAT_DS_ADD = {2: 222, 4: 293, 6: 364}                          # onnx::Add_N (bn2 output)
_QAT_BLOCK_OUT = ["inputs.4", "inputs.8", "inputs.12", "inputs.16",
                  "inputs.20", "inputs.24", "inputs.28", "input.115"]


def make_resnet18() -> onnx.ModelProto:
    """ResNet-18, BN folded into Conv, node names as the legacy exporter wrote them."""
    p = resnet_params()
    nodes: List[onnx.NodeProto] = []
    inits: List[TensorProto] = []
    state = {"node": 0, "conv": 0}

    def name(op):
        n = f"{op}_{state['node']}"
        state["node"] += 1
        return n

    def conv(x, conv_key, bn_key, k, stride, consumer, out=None):
        # legacy exporter + BN folding: folded params and conv outputs get fresh
        # value numbers after the graph output (191): out, weight, bias = 192+3i, ...
        i = state["conv"]
        state["conv"] += 1
        w, b = _fold_bn(p, conv_key, bn_key)
        wn, bnm = f"onnx::Conv_{193 + 3 * i}", f"onnx::Conv_{194 + 3 * i}"
        inits.extend([_init(wn, w), _init(bnm, b)])
        y = out or f"onnx::{consumer}_{192 + 3 * i}"
        nodes.append(helper.make_node("Conv", [x, wn, bnm], [y], name=name("Conv"), **_conv_attrs(k, stride)))
        return y

    def op(op_type, inputs, out, **attrs):
        nodes.append(helper.make_node(op_type, inputs, [out], name=name(op_type), **attrs))
        return out

    x = conv("input.1", "conv1", "bn1", 7, 2, "Relu")
    x = op("Relu", [x], "onnx::MaxPool_125")
    x = op("MaxPool", [x], "input.8", ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    for bi, (prefix, _cin, _cout, stride, ds) in enumerate(_resnet_blocks()):
        y = conv(x, prefix + ".conv1", prefix + ".bn1", 3, stride, "Relu")
        y = op("Relu", [y], f"onnx::Conv_{_FP32_RELU1_OUT[bi]}")
        y = conv(y, prefix + ".conv2", prefix + ".bn2", 3, 1, "Add")
        idt = conv(x, prefix + ".downsample.0", prefix + ".downsample.1", 1, stride, "Add") if ds else x
        out_n = _FP32_BLOCK_OUT[bi]
        y = op("Add", [y, idt], f"input.{out_n - 4}")
        x = op("Relu", [y], f"input.{out_n}")
    x = op("GlobalAveragePool", [x], "onnx::Flatten_189")
    x = op("Flatten", [x], "onnx::Gemm_190", axis=1)
    inits.extend([_init("fc.weight", p["fc.weight"]), _init("fc.bias", p["fc.bias"])])
    op("Gemm", [x, "fc.weight", "fc.bias"], "191", alpha=1.0, beta=1.0, transB=1)
    assert nodes[-1].name == "Gemm_48", nodes[-1].name

    graph = helper.make_graph(
        nodes, "torch_jit",
        [_vi("input.1", TensorProto.FLOAT, RESNET_INPUT)],
        [_vi("191", TensorProto.FLOAT, [RESNET_INPUT[0], RESNET_CLASSES])],
        initializer=inits)
    return _model(graph, {"": OPSET},
                  "Synthetic torchvision ResNet-18 (widths 16/32/64/128, 10 classes, random weights) laid out "
                  "like the legacy torch.onnx exporter with BatchNorm folded into Conv. Node names match the "
                  "TensorRT A100 fp32 fixture (Conv_0 ... Gemm_48).")


def _resnet_qat_graph(p, amax: Optional[Dict[str, float]], calib: Optional[Dict[str, str]]):
    """Build the pytorch-quantization style graph.

    With ``amax`` None the quantizers are skipped (float reference used to calibrate);
    ``calib`` then receives {quantizer name: tensor name}.
    """
    quant = amax is not None
    nodes: List[onnx.NodeProto] = []
    inits: List[TensorProto] = []
    state = {"node": 0, "tmp": 0}
    TMP = "@tmp:"

    def name(op):
        n = f"{op}_{state['node']}"
        state["node"] += 1
        return n

    def tmp():
        state["tmp"] += 1
        return f"{TMP}{state['tmp']}"

    def add(op_type, inputs, out=None, **attrs):
        out = out or tmp()
        nodes.append(helper.make_node(op_type, inputs, [out], name=name(op_type), **attrs))
        return out

    def const(arr):
        out = tmp()
        nodes.append(_const_node(name("Constant"), out, arr))
        return out

    def act_q(x, qname, out=None):
        """TensorQuantizer, per tensor: Constant scale, Constant zp, Q, DQ."""
        if not quant:
            calib[qname] = x
            return x
        scale = np.array(amax[qname] / 127.0, dtype=F32)
        s = const(scale)
        z = const(np.array(0, dtype=np.int8))
        q = add("QuantizeLinear", [x, s, z], out)
        return add("DequantizeLinear", [q, s, z])

    def w_q(wname):
        """TensorQuantizer, per channel (axis 0): Constant scale, Constant zp int32, Cast, Q, DQ."""
        w = p[wname]
        inits.append(_init(wname, w))
        if not quant:
            return wname
        ch_amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1).astype(F32)
        ch_amax = np.maximum(ch_amax, F32(1e-8))
        s = const((ch_amax / F32(127.0)).astype(F32))
        z0 = const(np.zeros(w.shape[0], dtype=np.int32))
        z = add("Cast", [z0], to=TensorProto.INT8)
        q = add("QuantizeLinear", [wname, s, z], axis=0)
        return add("DequantizeLinear", [q, s, z], axis=0)

    def bn(x, key, out=None):
        names = [f"{key}.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
        inits.extend(_init(n, p[n]) for n in names)
        return add("BatchNormalization", [x] + names, out, epsilon=BN_EPS, momentum=0.9)

    def qconv(x, key, k, stride, q_out=None):
        xq = act_q(x, key + "._input_quantizer", q_out)
        wq = w_q(key + ".weight")
        return add("Conv", [xq, wq], **_conv_attrs(k, stride))

    x = qconv("input.1", "conv1", 7, 2, q_out="onnx::DequantizeLinear_125")
    x = bn(x, "bn1")
    x = add("Relu", [x], "onnx::MaxPool_136")
    x = add("MaxPool", [x], "inputs", ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    for bi, (prefix, _cin, _cout, stride, ds) in enumerate(_resnet_blocks()):
        y = qconv(x, prefix + ".conv1", 3, stride, q_out=f"onnx::DequantizeLinear_{_QAT_BLOCK_Q[bi]}")
        y = bn(y, prefix + ".bn1")
        y = add("Relu", [y])
        y = qconv(y, prefix + ".conv2", 3, 1, q_out=f"onnx::DequantizeLinear_{_QAT_MID_Q[bi]}")
        y = bn(y, prefix + ".bn2", f"onnx::Add_{_QAT_DS_ADD[bi]}" if bi in _QAT_DS_ADD else None)
        if ds:
            # the downsample QuantConv2d has its own input quantizer on the same tensor
            # (same calibrated amax, so TensorRT merges it with the conv1 quantizer)
            idt = act_q(x, prefix + ".downsample.0._input_quantizer")
            if quant:
                amax_key = prefix + ".conv1._input_quantizer"
                assert amax[prefix + ".downsample.0._input_quantizer"] == amax[amax_key]
            idt = add("Conv", [idt, w_q(prefix + ".downsample.0.weight")], **_conv_attrs(1, stride))
            idt = bn(idt, prefix + ".downsample.1")
        else:
            idt = x
        y = add("Add", [y, idt])
        x = add("Relu", [y], _QAT_BLOCK_OUT[bi])
    x = add("GlobalAveragePool", [x], "onnx::Flatten_409")
    x = add("Flatten", [x], "inputs.32", axis=1)
    xq = act_q(x, "fc._input_quantizer")
    wq = w_q("fc.weight")
    inits.append(_init("fc.bias", p["fc.bias"]))
    add("Gemm", [xq, wq, "fc.bias"], "422", alpha=1.0, beta=1.0, transB=1)
    if quant:
        assert nodes[-1].name == "Gemm_257", nodes[-1].name

    # Give the remaining tensors legacy-exporter style names: onnx::<FirstConsumerOp>_<N>,
    # N increasing in node order and jumping forward at each name known from the fixture.
    consumer: Dict[str, str] = {}
    for n in nodes:
        for i in n.input:
            consumer.setdefault(i, n.op_type)
    used = {o for n in nodes for o in n.output if not o.startswith(TMP)}
    rename: Dict[str, str] = {}
    counter = 123
    for n in nodes:
        for o in n.output:
            if not o.startswith(TMP):
                tail = o.rsplit("_", 1)[-1]
                if o.startswith("onnx::") and tail.isdigit():
                    counter = max(counter, int(tail) + 1)
                continue
            while True:
                cand = f"onnx::{consumer.get(o, 'Output')}_{counter}"
                counter += 1
                if cand not in used:
                    break
            used.add(cand)
            rename[o] = cand
    for n in nodes:
        for seq in (n.input, n.output):
            for i, t in enumerate(seq):
                if t in rename:
                    seq[i] = rename[t]
    if calib is not None:
        for q, t in calib.items():
            calib[q] = rename.get(t, t)
    return nodes, inits


def make_resnet18_qat() -> onnx.ModelProto:
    """ResNet-18 with pytorch-quantization style Q/DQ (names match the QAT fixture)."""
    p = resnet_params()
    # 1) float reference (Conv + BN, no quantizers) to calibrate activation amax
    calib: Dict[str, str] = {}
    fnodes, finits = _resnet_qat_graph(p, None, calib)
    fgraph = helper.make_graph(fnodes, "calib", [_vi("input.1", TensorProto.FLOAT, RESNET_INPUT)],
                               [_vi("422", TensorProto.FLOAT, [RESNET_INPUT[0], RESNET_CLASSES])],
                               initializer=finits)
    fmodel = _model(fgraph, {"": 13}, "calibration reference")
    feeds = [sample_inputs(fmodel, seed=SEED + k) for k in range(2)]
    vals = _intermediate_values(fmodel, calib.values(), feeds)
    amax = {q: _round_up_2sig(max(float(np.abs(v).max()) for v in vals[t])) for q, t in calib.items()}
    # 2) the quantized graph
    nodes, inits = _resnet_qat_graph(p, amax, None)
    graph = helper.make_graph(
        nodes, "torch_jit",
        [_vi("input.1", TensorProto.FLOAT, RESNET_INPUT)],
        [_vi("422", TensorProto.FLOAT, [RESNET_INPUT[0], RESNET_CLASSES])],
        initializer=inits)
    return _model(graph, {"": 13},
                  "Synthetic QAT ResNet-18 (widths 16/32/64/128, 10 classes, random weights) laid out like "
                  "pytorch-quantization + the legacy torch.onnx exporter (opset 13): per-tensor activation "
                  "Q/DQ, per-channel (axis 0) weight Q/DQ with Cast zero points, BatchNorm not folded. "
                  "Node names match the TensorRT A100 QAT fixture (QuantizeLinear_2 ... Gemm_257).")


# ---------------------------------------------------------------------------
# 3. Transformer encoder (scoped names like the modern torch exporter)
# ---------------------------------------------------------------------------

TF_LAYERS, TF_HIDDEN, TF_HEADS, TF_SEQ, TF_FFN = 2, 64, 4, 128, 256


class _ScopedBuilder:
    """Node/tensor naming like torch.onnx: /scope/Op, /scope/Op_1, /scope/Op_output_0."""

    def __init__(self):
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[TensorProto] = []
        self._count: Dict[str, int] = {}

    def op(self, scope, op_type, inputs, n_out=1, **attrs):
        base = f"{scope}/{op_type}"
        k = self._count.get(base, 0)
        self._count[base] = k + 1
        name = base if k == 0 else f"{base}_{k}"
        outs = [f"{name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, scope, arr):
        return self.op(scope, "Constant", [], value=numpy_helper.from_array(np.asarray(arr)))

    def init(self, name, arr):
        self.inits.append(_init(name, arr))
        return name


def make_transformer_encoder() -> onnx.ModelProto:
    rng = np.random.default_rng(SEED + 3)
    b = _ScopedBuilder()
    H, NH, S = TF_HIDDEN, TF_HEADS, TF_SEQ
    hd = H // NH

    def linear(scope, x, key, fin, fout):
        w = b.init(f"{key}.weight", (rng.standard_normal((fin, fout)) / math.sqrt(fin)).astype(F32))
        bias = b.init(f"{key}.bias", (0.02 * rng.standard_normal(fout)).astype(F32))
        return b.op(scope, "Add", [b.op(scope, "MatMul", [x, w]), bias])

    def ln_params(key):
        g = b.init(f"{key}.weight", (1.0 + 0.05 * rng.standard_normal(H)).astype(F32))
        beta = b.init(f"{key}.bias", (0.02 * rng.standard_normal(H)).astype(F32))
        return g, beta

    def layer_norm_decomposed(scope, x, key):
        g, beta = ln_params(key)
        mean = b.op(scope, "ReduceMean", [x], axes=[-1], keepdims=1)
        d = b.op(scope, "Sub", [x, mean])
        sq = b.op(scope, "Pow", [d, b.const(scope, np.array(2.0, F32))])
        var = b.op(scope, "ReduceMean", [sq], axes=[-1], keepdims=1)
        ve = b.op(scope, "Add", [var, b.const(scope, np.array(1e-5, F32))])
        n = b.op(scope, "Div", [d, b.op(scope, "Sqrt", [ve])])
        return b.op(scope, "Add", [b.op(scope, "Mul", [n, g]), beta])

    def layer_norm_op(scope, x, key):
        g, beta = ln_params(key)
        return b.op(scope, "LayerNormalization", [x, g, beta], axis=-1, epsilon=1e-5)

    def heads(scope, x, perm):
        shape = b.const(scope, np.array([1, S, NH, hd], np.int64))
        return b.op(scope, "Transpose", [b.op(scope, "Reshape", [x, shape])], perm=perm)

    x = "embeddings"
    for li in range(TF_LAYERS):
        sc = f"/encoder/layers.{li}"
        key = f"encoder.layers.{li}"
        sa = f"{sc}/self_attn"
        q = linear(f"{sa}/q_proj", x, f"{key}.self_attn.q_proj", H, H)
        k = linear(f"{sa}/k_proj", x, f"{key}.self_attn.k_proj", H, H)
        v = linear(f"{sa}/v_proj", x, f"{key}.self_attn.v_proj", H, H)
        qh = heads(sa, q, [0, 2, 1, 3])          # [1, NH, S, hd]
        kt = heads(sa, k, [0, 2, 3, 1])          # [1, NH, hd, S]
        vh = heads(sa, v, [0, 2, 1, 3])          # [1, NH, S, hd]
        scores = b.op(sa, "MatMul", [qh, kt])
        scores = b.op(sa, "Div", [scores, b.const(sa, np.array(math.sqrt(hd), F32))])
        probs = b.op(sa, "Softmax", [scores], axis=-1)
        ctx = b.op(sa, "MatMul", [probs, vh])
        ctx = b.op(sa, "Transpose", [ctx], perm=[0, 2, 1, 3])
        ctx = b.op(sa, "Reshape", [ctx, b.const(sa, np.array([1, S, H], np.int64))])
        attn = linear(f"{sa}/out_proj", ctx, f"{key}.self_attn.out_proj", H, H)
        x = b.op(sc, "Add", [x, attn])
        norm = layer_norm_decomposed if li == 0 else layer_norm_op
        x = norm(f"{sc}/norm1", x, f"{key}.norm1")
        h = linear(f"{sc}/linear1", x, f"{key}.linear1", H, TF_FFN)
        act = f"{sc}/activation"
        e = b.op(act, "Erf", [b.op(act, "Div", [h, b.const(act, np.array(math.sqrt(2.0), F32))])])
        e = b.op(act, "Add", [e, b.const(act, np.array(1.0, F32))])
        h = b.op(act, "Mul", [b.op(act, "Mul", [h, e]), b.const(act, np.array(0.5, F32))])
        h = linear(f"{sc}/linear2", h, f"{key}.linear2", TF_FFN, H)
        x = b.op(sc, "Add", [x, h])
        x = norm(f"{sc}/norm2", x, f"{key}.norm2")
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="/encoder/Identity"))
    graph = helper.make_graph(
        b.nodes, "main_graph",
        [_vi("embeddings", TensorProto.FLOAT, [1, S, H])],
        [_vi("last_hidden_state", TensorProto.FLOAT, [1, S, H])],
        initializer=b.inits)
    return _model(graph, {"": OPSET},
                  "Synthetic 2-layer post-norm transformer encoder (hidden 64, 4 heads, seq 128, FFN 256, "
                  "random weights), scoped node names like the torch.onnx exporter. Layer 0 writes LayerNorm "
                  "as ReduceMean/Sub/Pow/.../Add, layer 1 uses LayerNormalization; GELU is the Erf pattern.")


# ---------------------------------------------------------------------------
# 4. Operators TensorRT does not take (support matrix 10.15)
# ---------------------------------------------------------------------------


def make_unsupported_ops(custom_op: bool = True) -> onnx.ModelProto:
    """CNN whose middle alternates between TensorRT-supported and unsupported nodes.

    ``custom_op=False`` replaces the com.example plugin by Identity so onnxruntime can
    run the rest (used only as a self-check, never written to disk).
    """
    rng = np.random.default_rng(SEED + 4)
    nodes, inits = [], []

    def conv(name, x, out, cin, cout, k=3, stride=1):
        w, bb = f"{name}.weight", f"{name}.bias"
        inits.extend([_init(w, _he(rng, (cout, cin, k, k), cin * k * k)),
                      _init(bb, (0.01 * rng.standard_normal(cout)).astype(F32))])
        nodes.append(helper.make_node("Conv", [x, w, bb], [out], name=name, **_conv_attrs(k, stride)))
        return out

    def n(op, name, ins, outs, domain="", **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain, **attrs))
        return outs[0]

    # supported head
    x = conv("stem/conv1", "image", "stem/conv1_out", 3, 8)
    x = n("Relu", "stem/relu1", [x], ["stem/relu1_out"])
    x = conv("stem/conv2", x, "stem/conv2_out", 8, 8)
    # MaxPool with the Indices output: unsupported output (TensorRT: `Indices` unsupported)
    x = n("MaxPool", "pool/maxpool_with_indices", [x], ["pool/values", "pool/indices"],
          kernel_shape=[2, 2], strides=[2, 2])                                         # [1,8,16,16]
    x = n("Sigmoid", "pool/sigmoid", [x], ["pool/sigmoid_out"])                         # supported island
    # custom-domain op: needs a TensorRT plugin
    if custom_op:
        x = n("MyPlugin", "plugin/my_plugin", [x], ["plugin/out"], domain="com.example",
              alpha=0.5, plugin_version="1")
    else:
        x = n("Identity", "plugin/my_plugin", [x], ["plugin/out"])
    x = conv("mid/conv", x, "mid/conv_out", 8, 8)                                       # supported island
    # TopK with sorted=0: attribute restriction (TensorRT needs sorted=1)
    inits.append(_init("topk/k", np.array([6], np.int64)))
    x = n("TopK", "topk/unsorted", [x, "topk/k"], ["topk/values", "topk/indices"], axis=1, largest=1,
          sorted=0)                                                                    # [1,6,16,16]
    x = n("Relu", "topk/relu", [x], ["topk/relu_out"])                                  # supported island
    # Resize with antialias=1 (opset 18): TensorRT does not antialias
    inits.append(_init("resize/scales", np.array([1.0, 1.0, 0.5, 0.5], F32)))
    x = n("Resize", "resize/antialias", [x, "", "resize/scales"], ["resize/out"], mode="linear",
          antialias=1)                                                                 # [1,6,8,8]
    # supported tail
    x = conv("tail/conv", x, "tail/conv_out", 6, 16)
    x = n("Relu", "tail/relu", [x], ["tail/relu_out"])
    x = n("GlobalAveragePool", "tail/gap", [x], ["tail/gap_out"])
    x = n("Flatten", "tail/flatten", [x], ["tail/flatten_out"], axis=1)
    inits.extend([_init("tail/fc.weight", (rng.standard_normal((5, 16)) / 4.0).astype(F32)),
                  _init("tail/fc.bias", np.zeros(5, F32))])
    n("Gemm", "tail/fc", [x, "tail/fc.weight", "tail/fc.bias"], ["logits"], transB=1)
    # side branches: Unique (not supported at all) on the TopK indices, BitShift on uint8
    n("Unique", "side/unique", ["topk/indices"], ["unique_channels"], sorted=1)
    inits.append(_init("side/shift", np.array([2], np.uint8)))
    n("BitShift", "side/bitshift", ["flags", "side/shift"], ["flags_shifted"], direction="RIGHT")

    graph = helper.make_graph(
        nodes, "unsupported_ops",
        [_vi("image", TensorProto.FLOAT, [1, 3, 32, 32]), _vi("flags", TensorProto.UINT8, [1, 8])],
        [_vi("logits", TensorProto.FLOAT, [1, 5]),
         _vi("pool/indices", TensorProto.INT64, [1, 8, 16, 16]),
         _vi("unique_channels", TensorProto.INT64, ["num_unique"]),
         _vi("flags_shifted", TensorProto.UINT8, [1, 8])],
        initializer=inits,
        value_info=[_vi("plugin/out", TensorProto.FLOAT, [1, 8, 16, 16])])
    opsets = {"": 18, "com.example": 1} if custom_op else {"": 18}
    return _model(graph, opsets,
                  "Small CNN whose middle mixes TensorRT-supported and unsupported nodes: MaxPool with "
                  "Indices output, com.example::MyPlugin (needs a plugin), TopK sorted=0, Resize antialias=1, "
                  "Unique and BitShift side branches. Valid ONNX; onnxruntime cannot run MyPlugin.")


# ---------------------------------------------------------------------------
# 5. Dynamic shapes with shape arithmetic
# ---------------------------------------------------------------------------


def make_dynamic_shapes() -> onnx.ModelProto:
    rng = np.random.default_rng(SEED + 5)
    nodes, inits = [], []

    def n(op, name, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=name, **attrs))
        return out

    def cst(name, arr):
        return n("Constant", name, [], f"{name}_output_0", value=numpy_helper.from_array(np.asarray(arr)))

    inits += [_init("backbone.conv.weight", _he(rng, (8, 3, 3, 3), 27)),
              _init("backbone.conv.bias", (0.01 * rng.standard_normal(8)).astype(F32)),
              _init("head.fc.weight", (rng.standard_normal((10, 8)) / math.sqrt(8)).astype(F32)),
              _init("head.fc.bias", np.zeros(10, F32)),
              _init("tokens.proj.weight", (rng.standard_normal((8, 4)) / math.sqrt(8)).astype(F32))]
    x = n("Conv", "/backbone/conv/Conv", ["images", "backbone.conv.weight", "backbone.conv.bias"],
          "/backbone/conv/Conv_output_0", **_conv_attrs(3, 2))
    x = n("Relu", "/backbone/relu/Relu", [x], "/backbone/relu/Relu_output_0")
    # head: [batch, 10]
    g = n("GlobalAveragePool", "/head/GlobalAveragePool", [x], "/head/GlobalAveragePool_output_0")
    g = n("Flatten", "/head/Flatten", [g], "/head/Flatten_output_0", axis=1)
    n("Gemm", "/head/fc/Gemm", [g, "head.fc.weight", "head.fc.bias"], "logits", transB=1)
    # tokens: [batch, C, H'*W'] via Shape -> Gather -> Mul -> Unsqueeze -> Concat -> Reshape
    shp = n("Shape", "/tokens/Shape", [x], "/tokens/Shape_output_0")
    dims = []
    for i in range(4):
        idx = cst(f"/tokens/Constant_{i}" if i else "/tokens/Constant", np.array(i, np.int64))
        dims.append(n("Gather", f"/tokens/Gather_{i}" if i else "/tokens/Gather", [shp, idx],
                      f"/tokens/Gather_{i}_output_0" if i else "/tokens/Gather_output_0", axis=0))
    hw = n("Mul", "/tokens/Mul", [dims[2], dims[3]], "/tokens/Mul_output_0")
    ax0 = cst("/tokens/Constant_4", np.array([0], np.int64))
    parts = [n("Unsqueeze", f"/tokens/Unsqueeze_{i}" if i else "/tokens/Unsqueeze", [d, ax0],
               f"/tokens/Unsqueeze_{i}_output_0" if i else "/tokens/Unsqueeze_output_0")
             for i, d in enumerate([dims[0], dims[1], hw])]
    new_shape = n("Concat", "/tokens/Concat", parts, "/tokens/Concat_output_0", axis=0)
    t = n("Reshape", "/tokens/Reshape", [x, new_shape], "/tokens/Reshape_output_0")
    t = n("Transpose", "/tokens/Transpose", [t], "/tokens/Transpose_output_0", perm=[0, 2, 1])
    n("MatMul", "/tokens/proj/MatMul", [t, "tokens.proj.weight"], "tokens")

    graph = helper.make_graph(
        nodes, "main_graph",
        [_vi("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [_vi("logits", TensorProto.FLOAT, ["batch", 10]),
         _vi("tokens", TensorProto.FLOAT, ["batch", "num_tokens", 4])],
        initializer=inits)
    return _model(graph, {"": OPSET},
                  "Conv net with symbolic batch/height/width. The 'tokens' output is reshaped with "
                  "Shape -> Gather -> Mul -> Unsqueeze -> Concat -> Reshape arithmetic, so its length "
                  "(height/2 * width/2) depends on the input shape.")


# ---------------------------------------------------------------------------
# 6. INT8 Q/DQ via onnxruntime.quantization
# ---------------------------------------------------------------------------

QDQ_INPUT = [1, 3, 128, 128]


def make_qdq_float() -> onnx.ModelProto:
    """Float model that the two int8 samples are quantized from (not written to disk)."""
    rng = np.random.default_rng(SEED + 6)
    inits = [_init("conv1.weight", _he(rng, (8, 3, 3, 3), 27)),
             _init("conv1.bias", (0.02 * rng.standard_normal(8)).astype(F32)),
             _init("conv2.weight", _he(rng, (16, 8, 3, 3), 72)),
             _init("conv2.bias", (0.02 * rng.standard_normal(16)).astype(F32)),
             _init("fc.weight", (rng.standard_normal((16, 10)) / 4.0).astype(F32)),
             _init("fc.bias", (0.02 * rng.standard_normal(10)).astype(F32))]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1_out"], name="conv1",
                         **_conv_attrs(3, 1)),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Conv", ["relu1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], name="conv2",
                         **_conv_attrs(3, 2)),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["relu2_out"], ["gap_out"], name="gap"),
        helper.make_node("Flatten", ["gap_out"], ["flat_out"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat_out", "fc.weight"], ["fc_mm_out"], name="fc_matmul"),
        helper.make_node("Add", ["fc_mm_out", "fc.bias"], ["logits"], name="fc_add"),
    ]
    graph = helper.make_graph(nodes, "small_cnn", [_vi("input", TensorProto.FLOAT, QDQ_INPUT)],
                              [_vi("logits", TensorProto.FLOAT, [1, 10])], initializer=inits)
    return _model(graph, {"": OPSET}, "float model quantized by make_int8_qdq()")


def _quantize_with_ort(symmetric: bool) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    fmodel = make_qdq_float()
    feeds = [sample_inputs(fmodel, seed=SEED + 100 + k) for k in range(4)]
    # Calibrate once ourselves and hand ORT ranges rounded to 2 significant digits, so the
    # result does not depend on the last bits of this CPU's convolution kernels.
    names = ["input"] + [o for nd in fmodel.graph.node for o in nd.output]
    vals = _intermediate_values(fmodel, names, feeds)
    overrides = {}
    for t in names:
        lo = min(float(v.min()) for v in vals[t])
        hi = max(float(v.max()) for v in vals[t])
        lo = -_round_up_2sig(-lo) if lo < 0 else 0.0
        hi = _round_up_2sig(hi) if hi > 0 else 0.0
        overrides[t] = [{"rmin": np.float32(lo), "rmax": np.float32(hi)}]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    extra = {"TensorQuantOverrides": overrides}
    if symmetric:
        # QuantizeBias=False keeps Conv biases float: an int32 bias DequantizeLinear is not among
        # the types TensorRT's DequantizeLinear takes (INT8, FP8, FP4, INT4)
        extra.update({"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False})
        kwargs = dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                      weight_type=QuantType.QInt8, per_channel=True)
    else:
        # the classic onnxruntime default: asymmetric uint8 activations, int8 weights, per tensor
        # (onnxruntime >= 1.2x defaults to asymmetric *int8* activations; uint8 is spelled out here)
        kwargs = dict(quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                      weight_type=QuantType.QInt8, per_channel=False)
    with tempfile.TemporaryDirectory() as td:
        src, dst = os.path.join(td, "float.onnx"), os.path.join(td, "qdq.onnx")
        onnx.save_model(fmodel, src)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # "consider pre-processing" warnings
        try:
            quantize_static(src, dst, Reader(), extra_options=extra, **kwargs)
        finally:
            root.setLevel(level)
        model = onnx.load_model(dst)
    import onnxruntime

    model.ir_version = IR_VERSION
    # the quantizer's output depends on its version: record it (tests compare against it)
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props},
                                   "quantized_with": f"onnxruntime {onnxruntime.__version__}"})
    if symmetric:
        model.doc_string = ("Small CNN quantized by onnxruntime.quantization.quantize_static (QDQ format, "
                            "int8 activations and weights, symmetric: every zero point is 0, weights per "
                            "channel, float biases). The Q/DQ layout TensorRT accepts.")
    else:
        model.doc_string = ("Same CNN quantized with the classic onnxruntime.quantization defaults: QDQ "
                            "format, asymmetric uint8 activations (non-zero zero points), int8 weights. TensorRT "
                            "rejects it: QuantizeLinear/DequantizeLinear zero points must be 0 (and uint8 "
                            "is only an I/O type).")
    return model


def make_int8_qdq() -> onnx.ModelProto:
    return _quantize_with_ort(symmetric=True)


def make_int8_qdq_asymmetric_uint8() -> onnx.ModelProto:
    return _quantize_with_ort(symmetric=False)


# ---------------------------------------------------------------------------
# 7. Hostile names (rendering must treat them as text)
# ---------------------------------------------------------------------------

HOSTILE_STRINGS = [
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    "\"quotes\" & ampersands 'single' &amp; &lt;b&gt;",
    "ünïcödé — 名前 ✓ 🚀 عربى",
    "</textarea></pre><svg onload=alert(2)>",
    "{{7*7}} ${7*7} <%= 7*7 %> `backticks`",
    "javascript:alert(3)",
]


#: image-sized, so that every node does measurable work (a build's per-node times are microseconds, not
#: the profiler's own overhead)
HOSTILE_SHAPE = [1, 4, 128, 128]


def make_hostile_names() -> onnx.ModelProto:
    s = HOSTILE_STRINGS
    inp = s[1]                       # graph input named like an <img> tag
    nodes = [
        helper.make_node("Relu", [inp], ["<b>relu</b> out"], name=s[0], doc_string=s[4]),
        helper.make_node("Add", ["<b>relu</b> out", s[2]], [s[3]], name=s[2],
                         doc_string='<a href="javascript:alert(4)">click</a>'),
        helper.make_node("Sigmoid", [s[3]], ["</textarea>&lt;"], name=s[3]),
        helper.make_node("Neg", ["</textarea>&lt;"], ["unnamed_1_out"]),            # unnamed node
        helper.make_node("Abs", ["unnamed_1_out"], ["unnamed_2_out"], name=""),      # unnamed node
        helper.make_node("Mul", ["unnamed_2_out", s[2]], ["dup_a_out"], name="duplicate"),
        helper.make_node("Add", ["dup_a_out", inp], [s[5]], name="duplicate"),   # same name again
        helper.make_node("Identity", [s[5]], [s[4]], name=s[6]),
    ]
    init = _init(s[2], np.array([0.5, -1.0, 2.0, 0.0], F32).reshape(HOSTILE_SHAPE[:2] + [1, 1]))
    graph = helper.make_graph(
        nodes, '<script>alert("graph")</script>',
        [_vi(inp, TensorProto.FLOAT, HOSTILE_SHAPE)],
        [_vi(s[4], TensorProto.FLOAT, HOSTILE_SHAPE)],
        initializer=[init],
        doc_string="graph doc: <iframe src=javascript:alert(5)></iframe>")
    model = _model(graph, {"": OPSET},
                   '<script>alert("doc")</script> <img src=x onerror=alert(1)> "quotes" & ampersands, '
                   "ünïcödé 🚀. Names in this model must be rendered as text, never as HTML.")
    model.graph.input[0].doc_string = "<b>input doc</b>"
    helper.set_model_props(model, {"<script>k</script>": "<img src=x onerror=alert('meta')>",
                                   "author": "Ada & \"Bob\" <bob@example.com>"})
    return model


# ---------------------------------------------------------------------------
# 8. Control flow + model-local function
# ---------------------------------------------------------------------------


#: the input of control_flow.onnx: big enough that its nodes do measurable work
CONTROL_FLOW_SHAPE = [1, 8, 32, 32]


def make_control_flow() -> onnx.ModelProto:
    FLOAT = TensorProto.FLOAT
    shape = CONTROL_FLOW_SHAPE
    # If: then = Relu -> Mul 2, else = Neg -> Sigmoid (both read the outer-scope `x`)
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["then_relu"], name="then/relu"),
         helper.make_node("Constant", [], ["then_two"], name="then/two",
                          value=numpy_helper.from_array(np.array(2.0, F32))),
         helper.make_node("Mul", ["then_relu", "then_two"], ["then_out"], name="then/mul")],
        "then_branch", [], [_vi("then_out", FLOAT, shape)])
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["else_neg"], name="else/neg"),
         helper.make_node("Sigmoid", ["else_neg"], ["else_out"], name="else/sigmoid")],
        "else_branch", [], [_vi("else_out", FLOAT, shape)])
    # Loop body: carried acc (the input shape); Unique (unsupported by TensorRT) inside the body
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body/cond"),
         helper.make_node("Unique", ["acc_in"], ["body_unique"], name="body/unique", sorted=1),
         helper.make_node("ReduceSum", ["body_unique"], ["body_sum"], name="body/reduce_sum", keepdims=1),
         helper.make_node("Constant", [], ["body_scale"], name="body/scale",
                          value=numpy_helper.from_array(np.array(0.1, F32))),
         helper.make_node("Mul", ["body_sum", "body_scale"], ["body_scaled"], name="body/mul"),
         helper.make_node("Add", ["acc_in", "body_scaled"], ["acc_out"], name="body/add"),
         helper.make_node("Identity", ["body_sum"], ["scan_sum"], name="body/scan")],
        "loop_body",
        [_vi("iter", TensorProto.INT64, []), _vi("cond_in", TensorProto.BOOL, []), _vi("acc_in", FLOAT, shape)],
        [_vi("cond_out", TensorProto.BOOL, []), _vi("acc_out", FLOAT, shape), _vi("scan_sum", FLOAT, [1])])
    # model-local function local.fn::ScaledTanh(X) = Tanh(X) * 0.5 + X
    fn = helper.make_function(
        "local.fn", "ScaledTanh", ["X"], ["Y"],
        [helper.make_node("Tanh", ["X"], ["t"], name="fn/tanh"),
         helper.make_node("Constant", [], ["half"], name="fn/half",
                          value=numpy_helper.from_array(np.array(0.5, F32))),
         helper.make_node("Mul", ["t", "half"], ["th"], name="fn/mul"),
         helper.make_node("Add", ["th", "X"], ["Y"], name="fn/add")],
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="model-local function: Tanh(X) * 0.5 + X")
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["x_sum"], name="cond/reduce_sum", keepdims=0),
        helper.make_node("Greater", ["x_sum", "zero"], ["is_positive"], name="cond/greater"),
        helper.make_node("If", ["is_positive"], ["if_out"], name="branch/if", then_branch=then_g,
                         else_branch=else_g),
        helper.make_node("Loop", ["trip_count", "loop_cond", "if_out"], ["loop_out", "loop_sums"],
                         name="repeat/loop", body=body),
        helper.make_node("ScaledTanh", ["loop_out"], ["y"], name="head/scaled_tanh", domain="local.fn"),
    ]
    inits = [_init("zero", np.array(0.0, F32)), _init("trip_count", np.array(3, np.int64)),
             _init("loop_cond", np.array(True))]
    graph = helper.make_graph(
        nodes, "control_flow", [_vi("x", FLOAT, shape)],
        [_vi("y", FLOAT, shape), _vi("loop_sums", FLOAT, [3, 1])], initializer=inits)
    return _model(graph, {"": OPSET, "local.fn": 1},
                  "If (two small supported branches reading outer-scope x), Loop whose body holds a Unique "
                  "(unsupported by TensorRT), and a model-local function local.fn::ScaledTanh.",
                  functions=[fn])


# ---------------------------------------------------------------------------
# registry, checks, main
# ---------------------------------------------------------------------------

# file name -> (builder, symbolic dim values for the onnxruntime run, description)
SAMPLES: Dict[str, tuple] = {
    "resnet18.onnx": (make_resnet18, None,
                      "ResNet-18 fp32, legacy-exporter names matching the A100 fp32 TensorRT fixture"),
    "resnet18_qat.onnx": (make_resnet18_qat, None,
                          "ResNet-18 QAT (pytorch-quantization Q/DQ), names matching the A100 QAT fixture"),
    "transformer_encoder.onnx": (make_transformer_encoder, None,
                                 "2-layer transformer encoder: attention, decomposed and fused LayerNorm, Erf GELU"),
    "unsupported_ops.onnx": (make_unsupported_ops, None,
                             "supported / unsupported partitions per the TensorRT 10.15 support matrix"),
    "dynamic_shapes.onnx": (make_dynamic_shapes, {"batch": 2, "height": 64, "width": 48},
                            "symbolic batch/height/width, Shape->Gather->Concat->Reshape arithmetic"),
    "int8_qdq.onnx": (make_int8_qdq, None,
                      "onnxruntime QDQ, symmetric int8 (zero points 0): TensorRT-friendly"),
    "int8_qdq_asymmetric_uint8.onnx": (make_int8_qdq_asymmetric_uint8, None,
                                       "onnxruntime QDQ, classic defaults: asymmetric uint8 activations: TensorRT rejects"),
    "hostile_names.onnx": (make_hostile_names, None,
                           "HTML/script/unicode names, unnamed and duplicate node names"),
    "control_flow.onnx": (make_control_flow, None,
                          "If + Loop subgraphs (Unique inside the body) and a model-local function"),
}


def ort_runnable_variant(file_name: str, model: onnx.ModelProto) -> Optional[onnx.ModelProto]:
    """The model onnxruntime should run for ``file_name`` (None: it cannot run it at all).

    - unsupported_ops: onnxruntime has no com.example::MyPlugin kernel -> Identity stand-in.
    - hostile_names: onnxruntime refuses duplicate node names (the ONNX checker allows them)
      -> run a copy whose second "duplicate" node is renamed.
    """
    if file_name == "unsupported_ops.onnx":
        return make_unsupported_ops(custom_op=False)
    if file_name == "hostile_names.onnx":
        m = onnx.ModelProto()
        m.CopyFrom(model)
        seen = set()
        for i, node in enumerate(m.graph.node):
            if node.name and node.name in seen:
                node.name = f"{node.name} ({i})"
            seen.add(node.name)
        return m
    return model


def check_sample(file_name: str, model: onnx.ModelProto) -> None:
    """Checker (full, with shape inference) and one onnxruntime run with finite outputs."""
    onnx.checker.check_model(model, full_check=True)
    dims = SAMPLES[file_name][1]
    runnable = ort_runnable_variant(file_name, model)
    if runnable is not None:
        outs = run_ort(runnable, dims)
        for name, val in outs.items():
            if np.issubdtype(val.dtype, np.floating):
                assert np.isfinite(val).all(), f"{file_name}: non-finite values in {name}"


def build_all(out_dir: os.PathLike = HERE, check: bool = True, write_readme: bool = True,
              log: Callable[[str], None] = print) -> Dict[str, int]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes: Dict[str, int] = {}
    for file_name, (builder, _dims, _desc) in SAMPLES.items():
        model = builder()
        if check:
            check_sample(file_name, model)
        data = model.SerializeToString()
        (out_dir / file_name).write_bytes(data)
        sizes[file_name] = len(data)
        log(f"{file_name:34s} {len(data):>10,d} bytes  {len(model.graph.node):4d} nodes")
    total = sum(sizes.values())
    log(f"{'total':34s} {total:>10,d} bytes")
    assert total < 15 * 1024 * 1024, "sample models exceed 15 MB"
    if write_readme:
        (out_dir / "README.md").write_text(_readme(sizes), encoding="utf-8")
    return sizes


def _readme(sizes: Dict[str, int]) -> str:
    rows = "\n".join(f"| `{name}` | {SAMPLES[name][2]} | {sizes[name] / 1024:,.0f} KiB |" for name in sizes)
    total = sum(sizes.values()) / 1024 / 1024
    return f"""# Sample ONNX models

Small, synthetic ONNX models for trying out and testing the explorer without downloading anything.
All weights are random (fixed seed); the models are about structure, names and operators, not accuracy.
Written by `make_samples.py` (this file's table included), with `onnx.helper` and `onnxruntime.quantization`
only (no torch).

| File | What it demonstrates | Size |
|---|---|---|
{rows}

Total: {total:.1f} MiB.

## Details

- **resnet18.onnx**: the torchvision ResNet-18 topology (stem conv 7x7/2 + maxpool, 4 stages of 2 BasicBlocks
  with 1x1 downsample convs, GlobalAveragePool, Flatten, Gemm) as the *legacy* `torch.onnx` exporter writes it
  with BatchNorm folded into Conv: nodes `Conv_0`, `Relu_1`, `MaxPool_2`, ..., `Gemm_48`; input `input.1`,
  output `191`, folded weights `onnx::Conv_193`, ... . Every ONNX node name and tensor name in
  `/work/shared/fixtures/trt/a100_resnet_fp32.graph.json` (real trtexec layer info) exists here with the same
  op type and connectivity, so the fp32 fixture can be mapped back onto this model. Widths are 16/32/64/128
  instead of 64/128/256/512, 10 classes instead of 1000, batch 1 instead of 32.
- **resnet18_qat.onnx**: the same network as pytorch-quantization + the legacy exporter (opset 13) produce it:
  each `TensorQuantizer` becomes `Constant` scale + `Constant` zero point + `QuantizeLinear` + `DequantizeLinear`
  (activations, per tensor) or `Constant` + `Constant` + `Cast` + `QuantizeLinear` + `DequantizeLinear`
  (weights, per channel on axis 0, from initializers `conv1.weight`, `layer1.0.conv1.weight`, ...);
  BatchNormalization stays unfolded. All nodes are numbered in that order, which reproduces every name in
  `a100_resnet_qat.graph.json` (`QuantizeLinear_2`, `conv1.weight + QuantizeLinear_7 + Conv_9`, ...,
  `Gemm_257`). Scales are > 0 (activation ranges calibrated on random input), zero points are int8 zeros.
- **transformer_encoder.onnx**: 2 post-norm encoder layers (hidden 64, 4 heads, sequence 128, FFN 256),
  input `embeddings` [1,16,64]. Node names are scoped like the torch exporter
  (`/encoder/layers.0/self_attn/MatMul`, `/encoder/layers.0/norm1/ReduceMean`, ...). Layer 0 spells
  LayerNorm out (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul, Add), layer 1 uses
  `LayerNormalization`; GELU is Div(sqrt 2), Erf, Add 1, Mul, Mul 0.5.
- **unsupported_ops.onnx** (opset 18): supported Conv/Relu/Conv head, then alternating unsupported and
  supported nodes: MaxPool with its `Indices` output used, `Sigmoid`, `com.example::MyPlugin` (custom domain,
  needs a plugin), Conv, `TopK` with `sorted=0`, Relu, `Resize` with `antialias=1`, then a supported tail
  (Conv, Relu, GlobalAveragePool, Flatten, Gemm). Side branches: `Unique` on the TopK indices and `BitShift`
  on a uint8 input. Valid ONNX (the custom domain is declared) but onnxruntime cannot run `MyPlugin`.
- **dynamic_shapes.onnx**: input `images` ["batch", 3, "height", "width"]; outputs `logits` ["batch", 10] and
  `tokens` ["batch", "num_tokens", 4], whose length comes from Shape -> Gather -> Mul -> Unsqueeze -> Concat
  -> Reshape arithmetic (what constant folding with fixed shapes simplifies).
- **int8_qdq.onnx** (input 1x3x128x128): `onnxruntime.quantization.quantize_static` (MinMax calibration) in QDQ format with int8
  activations and weights, `ActivationSymmetric`/`WeightSymmetric`, per-channel weights and
  `QuantizeBias: False` (float Conv biases; an int32 bias DequantizeLinear is not a type TensorRT's
  DequantizeLinear takes): all zero points are 0, as TensorRT requires.
- **int8_qdq_asymmetric_uint8.onnx**: the same float model with ORT's classic defaults: asymmetric uint8
  activations (non-zero zero points), int8 weights per tensor, int32 bias DequantizeLinear. The teaching
  example of Q/DQ TensorRT rejects. (onnxruntime 1.2x+ defaults to asymmetric *int8* activations, so uint8
  is requested explicitly.)
- For both, calibration ranges are measured with onnxruntime, rounded to 2 significant digits and passed as
  `TensorQuantOverrides`, so the files do not depend on the CPU they were made on.
- **hostile_names.onnx** (input 1x4x128x128): node names, tensor names, graph name, doc strings and metadata containing
  `<script>`, `<img onerror>`, quotes, ampersands, template syntax and unicode; two unnamed nodes and two nodes
  both named `duplicate`. Anything that renders it must escape it. The ONNX checker accepts it, but
  onnxruntime refuses duplicate node names, so the tests run it with the second `duplicate` renamed.
- **control_flow.onnx** (input 1x8x32x32): an `If` (then: Relu, Mul; else: Neg, Sigmoid; both read outer-scope `x`), a `Loop`
  whose body contains `Unique` (unsupported by TensorRT) and a node calling the model-local function
  `local.fn::ScaledTanh` (`FunctionProto`). TensorRT's parser never uses that function: it picks an importer by
  op type whatever the domain, so it takes its builtin `ScaledTanh` importer, which needs `alpha` and `beta`, and
  rejects the node (the explorer's prediction and the real parser agree).

onnxruntime runs every model except `unsupported_ops.onnx` (no kernel for `com.example::MyPlugin`; the
script and the tests run a copy with the plugin replaced by Identity instead).

## Regenerate

```
.venv/bin/python sample_models/make_samples.py            # in place (also rewrites this README)
.venv/bin/python sample_models/make_samples.py /tmp/out   # elsewhere
```

The script is deterministic (fixed seed, fixed names): regenerating gives byte-identical files, which
`tests/test_sample_models.py` checks, together with `onnx.checker` (full check), an onnxruntime run of every
model onnxruntime can execute, the TensorRT fixture name coverage of the two ResNets and the 15 MB size budget.
The int8 files depend on the `onnxruntime.quantization` version that wrote them (here {_ort_version()}).
"""


def _ort_version() -> str:
    try:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"
    except Exception:  # pragma: no cover
        return "onnxruntime"


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", nargs="?", default=str(HERE))
    ap.add_argument("--no-check", action="store_true", help="skip onnx.checker and onnxruntime runs")
    args = ap.parse_args(argv)
    build_all(args.out_dir, check=not args.no_check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
