"""Checks for the sample ONNX models in sample_models/ (written by sample_models/make_samples.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections import deque
from pathlib import Path

import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "sample_models"
ONNX_FILES = sorted(p.name for p in SAMPLES_DIR.glob("*.onnx"))
MAX_TOTAL_BYTES = 15 * 1024 * 1024


def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES_DIR / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_samples", mod)
    spec.loader.exec_module(mod)
    return mod


ms = _load_make_samples()


def _fixture_dir():
    # same convention as tests/conftest.py (EXPLORER_FIXTURES, else ../shared/fixtures/trt)
    candidates = [os.environ.get("EXPLORER_FIXTURES"), ROOT.parent / "shared" / "fixtures" / "trt",
                  ROOT / "tests" / "fixtures" / "trt", "/work/shared/fixtures/trt"]
    for c in candidates:
        if c and (Path(c) / "a100_resnet_fp32.graph.json").is_file():
            return Path(c)
    return None


FIXTURES = _fixture_dir()
needs_fixtures = pytest.mark.skipif(FIXTURES is None,
                                    reason="TensorRT graph.json fixtures not found (set EXPLORER_FIXTURES)")


def _load(name: str) -> onnx.ModelProto:
    return onnx.load(str(SAMPLES_DIR / name))


# ---------------------------------------------------------------------------
# basic validity
# ---------------------------------------------------------------------------


def test_expected_files_present():
    assert set(ms.SAMPLES) <= set(ONNX_FILES)
    assert (SAMPLES_DIR / "README.md").is_file()


@pytest.mark.parametrize("name", ONNX_FILES)
def test_checker_full(name):
    model = _load(name)
    onnx.checker.check_model(model, full_check=True)
    assert 9 <= model.ir_version <= 10


def test_total_size_under_budget():
    total = sum((SAMPLES_DIR / n).stat().st_size for n in ONNX_FILES)
    assert total < MAX_TOTAL_BYTES, total


@pytest.mark.parametrize("name", ONNX_FILES)
def test_runs_in_onnxruntime(name):
    pytest.importorskip("onnxruntime")
    model = _load(name)
    runnable = ms.ort_runnable_variant(name, model)
    if runnable is None:
        pytest.skip("onnxruntime cannot run this model")
    dims = ms.SAMPLES[name][1] if name in ms.SAMPLES else None
    outs = ms.run_ort(runnable, dims)
    assert outs
    for out_name, val in outs.items():
        if np.issubdtype(val.dtype, np.floating):
            assert np.isfinite(val).all(), out_name


def test_unsupported_ops_custom_op_not_runnable_in_ort():
    ort = pytest.importorskip("onnxruntime")
    model = _load("unsupported_ops.onnx")
    with pytest.raises(Exception):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_regeneration_is_byte_identical(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    sizes = ms.build_all(tmp_path, check=False, write_readme=False, log=lambda _msg: None)
    assert set(sizes) == set(ms.SAMPLES)
    for name in sizes:
        committed = (SAMPLES_DIR / name).read_bytes()
        fresh = (tmp_path / name).read_bytes()
        if committed != fresh:
            props = {p.key: p.value for p in onnx.load_from_string(committed).metadata_props}
            made_with = props.get("quantized_with")
            if made_with and made_with != f"onnxruntime {onnxruntime.__version__}":
                continue  # quantizer output depends on the onnxruntime version
        assert committed == fresh, f"{name} differs after regeneration: run sample_models/make_samples.py"


# ---------------------------------------------------------------------------
# the two ResNets against the real TensorRT layer info
# ---------------------------------------------------------------------------

_NODE_NAME = re.compile(r"^([A-Za-z]+)_(\d+)$")
_TRT_INTERNAL = re.compile(r"^(\(Unnamed Layer\*|reshape_after_|reshape_before_|unsqueeze_node_after_|"
                           r"copied_squeeze_after_|copied_squeeze_before_)")
_TRT_TENSOR = re.compile(r"^Reformatted |_out_region$|_out_tensor$|\(Unnamed Layer\*")
_PASS_THROUGH = {"DequantizeLinear", "BatchNormalization"}  # nodes TensorRT fuses without naming them


def fixture_layers(file_name):
    data = json.loads((FIXTURES / file_name).read_text())
    return data["Layers"], data.get("Bindings", [])


def split_layer_name(name):
    """ONNX names in a fused TensorRT layer name (TensorRT-internal parts and reformat layers dropped)."""
    if name.startswith("Reformatting CopyNode"):
        return []
    return [p for p in name.split(" + ") if not _TRT_INTERNAL.match(p)]


class GraphIndex:
    def __init__(self, model):
        g = model.graph
        self.nodes = {}
        self.duplicates = set()
        for n in g.node:
            if n.name in self.nodes:
                self.duplicates.add(n.name)
            self.nodes[n.name] = n
        self.initializers = {i.name for i in g.initializer}
        self.consumers = {}
        for n in g.node:
            for t in n.input:
                self.consumers.setdefault(t, []).append(n)
        self.tensors = ({i.name for i in g.input} | self.initializers
                        | {o for n in g.node for o in n.output})
        self.io = {i.name for i in g.input} | {o.name for o in g.output}

    def reaches(self, src: str, dst: str, max_hops: int = 3) -> bool:
        """Does item ``src`` (node or initializer) feed node/initializer ``dst``,
        directly or through at most ``max_hops`` pass-through (DQ / BN) nodes?"""
        start = [src] if src in self.initializers else list(self.nodes[src].output)
        queue = deque((t, 0) for t in start)
        while queue:
            tensor, hops = queue.popleft()
            for c in self.consumers.get(tensor, []):
                if c.name == dst:
                    return True
                if c.op_type in _PASS_THROUGH and hops < max_hops:
                    queue.extend((o, hops + 1) for o in c.output)
        return False


def coverage(model, layers):
    """(matched names, unmatched [(name, why)], TensorRT-internal names skipped)."""
    idx = GraphIndex(model)
    matched, unmatched, internal = set(), [], set()
    for layer in layers:
        if layer["Name"].startswith("Reformatting CopyNode"):
            continue
        for part in layer["Name"].split(" + "):
            if _TRT_INTERNAL.match(part):
                internal.add(part)
                continue
            m = _NODE_NAME.match(part)
            if m:
                node = idx.nodes.get(part)
                if node is None:
                    unmatched.append((part, "no node with this name"))
                elif node.op_type != m.group(1):
                    unmatched.append((part, f"op type {node.op_type}"))
                else:
                    matched.add(part)
            elif part in idx.initializers:
                matched.add(part)
            else:
                unmatched.append((part, "neither a node nor an initializer"))
    return matched, unmatched, internal


def check_against_fixture(model, fixture_file):
    layers, bindings = fixture_layers(fixture_file)
    idx = GraphIndex(model)
    assert not idx.duplicates
    matched, unmatched, _internal = coverage(model, layers)
    assert not unmatched, unmatched
    assert matched

    for layer in layers:
        if layer["Name"].startswith("Reformatting CopyNode"):
            continue
        parts = split_layer_name(layer["Name"])
        # consecutive parts of a fused layer are connected (either direction: "Gemm_257 + fc.bias")
        for a, b in zip(parts, parts[1:]):
            assert idx.reaches(a, b) or idx.reaches(b, a), f"{layer['Name']}: {a} -/-> {b}"
        # tensor names TensorRT kept from the ONNX model exist in it
        for t in layer.get("Inputs", []) + layer.get("Outputs", []):
            if not _TRT_TENSOR.search(t["Name"]):
                assert t["Name"] in idx.tensors, f"{layer['Name']}: tensor {t['Name']!r} missing"
        # convolution / pooling geometry
        convs = [idx.nodes[p] for p in parts if p in idx.nodes and idx.nodes[p].op_type in ("Conv", "MaxPool")]
        if layer.get("ParameterType") in ("Convolution", "Pooling") and convs:
            node = convs[0]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            kernel = layer.get("Kernel") or layer.get("WindowSize")
            assert list(attrs["kernel_shape"]) == kernel, layer["Name"]
            assert list(attrs["strides"]) == layer["Stride"], layer["Name"]
            assert list(attrs["pads"]) == layer["PrePadding"] + layer["PostPadding"], layer["Name"]
    for b in bindings:
        assert b in idx.io, f"binding {b!r} is not a graph input/output"
    return idx, layers


@needs_fixtures
def test_resnet18_matches_fp32_fixture():
    model = _load("resnet18.onnx")
    idx, layers = check_against_fixture(model, "a100_resnet_fp32.graph.json")
    # every Conv_a + Relu_b (+ Add) pair: the Relu reads the Conv (or the Add that reads the Conv) directly
    pairs = 0
    for layer in layers:
        parts = split_layer_name(layer["Name"])
        for a, b in zip(parts, parts[1:]):
            na, nb = idx.nodes[a], idx.nodes[b]
            if na.op_type == "Conv" and nb.op_type in ("Relu", "Add"):
                assert na.output[0] in nb.input, (a, b)
                pairs += 1
            if na.op_type == "Add" and nb.op_type == "Relu":
                assert list(nb.input) == [na.output[0]], (a, b)
    assert pairs >= 17
    assert [i.name for i in model.graph.input] == ["input.1"]
    assert [n.name for n in model.graph.node][:3] == ["Conv_0", "Relu_1", "MaxPool_2"]
    assert model.graph.node[-1].name == "Gemm_48"
    # legacy numbering: node k is named <OpType>_k
    for k, node in enumerate(model.graph.node):
        assert node.name == f"{node.op_type}_{k}"
    # BN folded: every Conv has a bias, no BatchNormalization
    assert all(len(n.input) == 3 for n in model.graph.node if n.op_type == "Conv")
    assert not [n for n in model.graph.node if n.op_type == "BatchNormalization"]


@needs_fixtures
def test_resnet18_qat_matches_qat_fixture():
    model = _load("resnet18_qat.onnx")
    idx, layers = check_against_fixture(model, "a100_resnet_qat.graph.json")
    for k, node in enumerate(model.graph.node):
        assert node.name == f"{node.op_type}_{k}"
    # weight initializers feed QuantizeLinear -> DequantizeLinear -> Conv/Gemm (per channel, axis 0)
    weight_names = {p for layer in layers for p in split_layer_name(layer["Name"]) if p.endswith(".weight")}
    assert "conv1.weight" in weight_names and "fc.weight" in weight_names
    for w in weight_names:
        (q,) = idx.consumers[w]
        assert q.op_type == "QuantizeLinear"
        assert {a.name: a.i for a in q.attribute}.get("axis") == 0
        (dq,) = idx.consumers[q.output[0]]
        assert dq.op_type == "DequantizeLinear"
        (op,) = idx.consumers[dq.output[0]]
        assert op.op_type in ("Conv", "Gemm") and op.input[1] == dq.output[0]
    # activation Q/DQ pairs: QuantizeLinear_k -> DequantizeLinear_(k+1)
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear":
            k = int(node.name.rsplit("_", 1)[1])
            assert idx.nodes[f"DequantizeLinear_{k + 1}"].input[0] == node.output[0]
    _check_qdq_params(model)


def _const_values(model):
    from onnx import numpy_helper

    vals = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            vals[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        elif n.op_type == "Cast" and n.input[0] in vals:
            vals[n.output[0]] = vals[n.input[0]].astype(np.int8)
    return vals


def _check_qdq_params(model, zero_points_must_be_zero=True):
    vals = _const_values(model)
    zps = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            scale = vals[n.input[1]]
            assert scale.dtype == np.float32 and (scale > 0).all(), n.name
            if len(n.input) > 2 and n.input[2]:
                zps.append(vals[n.input[2]])
    assert zps
    if zero_points_must_be_zero:
        assert all(z.dtype == np.int8 and not z.any() for z in zps)
    return zps


# ---------------------------------------------------------------------------
# the other samples show what they claim to
# ---------------------------------------------------------------------------


def test_int8_qdq_symmetric_and_asymmetric():
    _check_qdq_params(_load("int8_qdq.onnx"))
    zps = _check_qdq_params(_load("int8_qdq_asymmetric_uint8.onnx"), zero_points_must_be_zero=False)
    assert any(z.dtype == np.uint8 and z.any() for z in zps)


def test_transformer_encoder_patterns():
    model = _load("transformer_encoder.onnx")
    names = [n.name for n in model.graph.node]
    ops0 = [n.op_type for n in model.graph.node if n.name.startswith("/encoder/layers.0/")]
    ops1 = [n.op_type for n in model.graph.node if n.name.startswith("/encoder/layers.1/")]
    assert "/encoder/layers.0/self_attn/MatMul" in names
    assert "/encoder/layers.0/norm1/ReduceMean" in names
    assert "LayerNormalization" not in ops0 and ops1.count("LayerNormalization") == 2
    for op in ("Pow", "Sqrt", "Erf", "Softmax", "Transpose", "Reshape"):
        assert op in ops0, op
    assert "Erf" in ops1


def test_unsupported_ops_features():
    model = _load("unsupported_ops.onnx")
    by_op = {}
    for n in model.graph.node:
        by_op.setdefault((n.domain, n.op_type), []).append(n)
    assert ("com.example", "MyPlugin") in by_op
    assert {(o.domain, o.version) for o in model.opset_import} >= {("com.example", 1)}
    assert len(by_op[("", "MaxPool")][0].output) == 2
    attrs = lambda n: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}  # noqa: E731
    assert attrs(by_op[("", "TopK")][0])["sorted"] == 0
    assert attrs(by_op[("", "Resize")][0])["antialias"] == 1
    assert ("", "Unique") in by_op and ("", "BitShift") in by_op
    assert [n.op_type for n in model.graph.node[-7:-2]] == ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]


def test_dynamic_shapes_symbolic():
    model = _load("dynamic_shapes.onnx")
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    ops = [n.op_type for n in model.graph.node]
    for op in ("Shape", "Gather", "Concat", "Reshape"):
        assert op in ops
    assert len(model.graph.output) == 2


def test_hostile_names_content():
    model = _load("hostile_names.onnx")
    names = [n.name for n in model.graph.node]
    assert names.count("") == 2
    assert names.count("duplicate") == 2
    assert any("<script>" in n for n in names)
    assert any("<img" in i.name for i in model.graph.input)
    assert "<script>" in model.doc_string


def test_control_flow_content():
    model = _load("control_flow.onnx")
    ops = {n.op_type for n in model.graph.node}
    assert {"If", "Loop"} <= ops
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    body_ops = {n.op_type for n in loop.attribute[0].g.node}
    assert "Unique" in body_ops
    assert [(f.domain, f.name) for f in model.functions] == [("local.fn", "ScaledTanh")]
    assert any(n.domain == "local.fn" for n in model.graph.node)
