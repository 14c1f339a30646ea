"""Per-node verdicts from NVIDIA's real ONNX parser (TensorRT-RTX from PyPI, runs with no GPU).

All models of this file are judged in ONE child process (module fixture): the parser is C++ and stays out of
the pytest process, and one process for the batch keeps the file quick.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from explorer.trt.verdicts import (NOT_IMPORTED, SUPPORTED, UNKNOWN, UNSUPPORTED, ModelVerdicts, NodeVerdict,
                                   ParserError, judge_in_subprocess)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorrt_rtx_bindings") is None,
                                reason="TensorRT-RTX is not installed (make setup installs it)")

F = TensorProto.FLOAT


def _vi(name, dtype=F, shape=(1, 8)):
    return helper.make_tensor_value_info(name, dtype, list(shape) if shape is not None else None)


def _model(nodes, inputs, outputs, inits=(), opset=17, functions=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(f.domain, 1) for f in functions]
    model = helper.make_model(graph, opset_imports=imports, functions=list(functions))
    model.ir_version = 8
    return model


def one_bad_among_many():
    """30 supported nodes and a Resize with antialias=1 (checkResize rejects it) in the middle."""
    nodes, prev = [], "x"
    for i in range(30):
        op = ("Relu", "Sigmoid", "Tanh")[i % 3]
        nodes.append(helper.make_node(op, [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
        if i == 14:
            nodes.append(helper.make_node("Resize", [prev, "", "scales"], ["r"], name="bad/resize",
                                          mode="linear", antialias=1))
            prev = "r"
    scales = numpy_helper.from_array(np.array([1, 1, 1, 1], np.float32), "scales")
    return _model(nodes, [_vi("x", shape=(1, 2, 4, 4))], [_vi(prev, shape=(1, 2, 4, 4))], [scales], opset=18)


def several_bad():
    """Bad nodes at the start, in the middle and at the end, two in a row; the INT32 Relu is rejected only
    when its subgraph is re-checked (the first answer calls that subgraph "not supported", naming no node)."""
    ops = ["Unique", "Identity", "Relu", "BitShift", "Unique", "Identity", "Identity", "Identity", "Unique"]
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        ins = [prev, prev] if op == "BitShift" else [prev]
        kw = {"direction": "LEFT"} if op == "BitShift" else {}
        nodes.append(helper.make_node(op, ins, [f"t{i}"], name=f"n{i}/{op}", **kw))
        prev = f"t{i}"
    return _model(nodes, [_vi("x", TensorProto.INT32, (8,))], [_vi(prev, TensorProto.INT32, None)])


def if_with_bad_branch(constant_condition: bool):
    then = helper.make_graph([helper.make_node("Relu", ["x"], ["t0"], name="then/relu"),
                              helper.make_node("Unique", ["t0"], ["t1"], name="then/unique")],
                             "then", [], [_vi("t1", shape=None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e1"], name="else/neg")], "else", [],
                              [_vi("e1", shape=(4,))])
    nodes = [helper.make_node("Abs", ["x"], ["ax"], name="abs"),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="if"),
             helper.make_node("Relu", ["y"], ["z"], name="after")]
    inputs = [_vi("x", shape=(4,))]
    inits = []
    if constant_condition:
        inits = [numpy_helper.from_array(np.array(False), "c")]
    else:
        inputs.append(_vi("c", TensorProto.BOOL, ()))
    return _model(nodes, inputs, [_vi("z", shape=(4,)), _vi("ax", shape=(4,))], inits)


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verdicts")
    built = {"one_bad": one_bad_among_many(), "several_bad": several_bad(),
             "if_runtime": if_with_bad_branch(False), "if_constant": if_with_bad_branch(True)}
    paths = {}
    for name, model in built.items():
        paths[name] = folder / f"{name}.onnx"
        onnx.save(model, paths[name])
    for sample in ("unsupported_ops", "resnet18", "control_flow", "int8_qdq_asymmetric_uint8"):
        paths[sample] = SAMPLES / f"{sample}.onnx"
    names = list(paths)
    results = judge_in_subprocess([paths[n] for n in names])
    return dict(zip(names, results))


def _main(result: ModelVerdicts) -> dict[str, NodeVerdict]:
    return {v.name: v for v in result.main}


def test_every_node_of_the_main_graph_has_a_verdict(judged):
    for name, result in judged.items():
        assert not result.failure, (name, result.failure)
        model = onnx.load(SAMPLES / f"{name}.onnx") if (SAMPLES / f"{name}.onnx").exists() else None
        if model is not None:
            assert [v.name for v in result.main] == [n.name for n in model.graph.node]
        assert all(v.status in (SUPPORTED, UNSUPPORTED) for v in result.main), name


def test_unsupported_ops_sample_gives_the_parsers_own_messages(judged):
    result = judged["unsupported_ops"]
    assert result.parser.startswith("TensorRT-RTX 1.7")
    bad = {v.name: v.message for v in result.unsupported}
    assert bad == {
        "pool/maxpool_with_indices": "emptyOutputChecker: This version of TensorRT doesn't support mode than 1 "
                                     "outputs for MaxPool nodes!",
        "plugin/my_plugin": "checkFallbackPluginImporter: Plugin not found, are the plugin name, version, and "
                            "namespace correct?",
        "resize/antialias": "checkResize: Antialiasing is not supported currently.",
        "side/unique": "checkUnique: false",
        "side/bitshift": "checkBitShift: false",
    }
    resize = _main(result)["resize/antialias"].error
    assert (resize.file, resize.code) == ("onnxOpCheckers.cpp", "UNSUPPORTED_NODE_ATTR")
    # the other 12 nodes were in subgraphs the parser calls "not supported" (= unknown): re-checked, accepted
    assert sum(v.status == SUPPORTED for v in result.main) == 12
    assert result.parses > 1


def test_supported_model_is_judged_in_one_parse(judged):
    result = judged["resnet18"]
    assert result.model_supported and result.parses == 1
    assert {v.status for v in result.nodes} == {SUPPORTED}
    assert {v.how for v in result.nodes} == {"the whole model parses"}


def test_one_bad_node_among_many(judged):
    result = judged["one_bad"]
    assert [v.name for v in result.unsupported] == ["bad/resize"]
    assert result.unsupported[0].message == "checkResize: Antialiasing is not supported currently."
    assert sum(v.status == SUPPORTED for v in result.main) == 30


def test_several_bad_nodes(judged):
    result = judged["several_bad"]
    status = {v.name: v.status for v in result.main}
    assert [n for n, s in status.items() if s == UNSUPPORTED] == ["n0/Unique", "n2/Relu", "n3/BitShift",
                                                                   "n4/Unique", "n8/Unique"]
    assert [n for n, s in status.items() if s == SUPPORTED] == ["n1/Identity", "n5/Identity", "n6/Identity",
                                                                 "n7/Identity"]
    relu = _main(result)["n2/Relu"]
    assert relu.message == "checkNotInvalidType: status.is_success(): Found unsupported input type of INT32"
    assert relu.how.startswith("reported by the parser when re-checked")


def test_if_body_nodes_are_judged(judged):
    result = judged["if_runtime"]
    main = _main(result)
    assert main["if"].status == UNSUPPORTED and main["if"].error.node_name == "then/unique"
    assert main["abs"].status == SUPPORTED and main["after"].status == SUPPORTED
    body = {v.name: v for v in result.nodes if v.path}
    assert body["then/unique"].status == UNSUPPORTED
    assert body["then/unique"].message == "checkUnique: false"
    assert body["then/unique"].path == ((1, "then_branch"),)
    assert body["then/relu"].status == SUPPORTED
    assert body["else/neg"].status == SUPPORTED


def test_if_with_a_constant_condition_imports_only_the_taken_branch(judged):
    result = judged["if_constant"]
    assert result.model_supported  # the bad branch is never imported
    body = {v.name: v.status for v in result.nodes if v.path}
    assert body == {"then/relu": NOT_IMPORTED, "then/unique": NOT_IMPORTED, "else/neg": SUPPORTED}


def test_loop_body_and_local_function_nodes_are_judged(judged):
    result = judged["control_flow"]
    main = _main(result)
    assert main["repeat/loop"].status == UNSUPPORTED
    assert main["repeat/loop"].error.node_name == "body/unique"
    body = {v.name: v for v in result.nodes if v.path and v.path[0][1] == "body"}
    assert body["body/unique"].status == UNSUPPORTED
    assert all(v.status == SUPPORTED for n, v in body.items() if n != "body/unique")
    function = [v for v in result.nodes if v.path and v.path[0][1].startswith("function:")]
    assert [v.name for v in function] == ["fn/tanh", "fn/half", "fn/mul", "fn/add"]
    assert all(v.status in (SUPPORTED, UNSUPPORTED, UNKNOWN) for v in function)


def test_builder_detail_lines_join_the_message_without_cuda_noise(judged):
    bias = _main(judged["int8_qdq_asymmetric_uint8"])["conv1.bias_DequantizeLinear"]
    assert bias.status == UNSUPPORTED
    assert "input has type Int32" in bias.message and "cudaError" not in bias.message


def test_verdicts_round_trip_through_json(judged):
    result = judged["control_flow"]
    assert ModelVerdicts.from_dict(result.to_dict()) == result


def test_a_file_that_is_not_onnx_fails_alone(tmp_path):
    bad = tmp_path / "not_a_model.onnx"
    bad.write_bytes(b"\x00garbage")
    good = SAMPLES / "resnet18.onnx"
    first, second = judge_in_subprocess([bad, good])
    assert first.failure and not first.nodes
    assert second.model_supported


def test_condition_text():
    e = ParserError(0, "n", "Resize", "checkResize", "UNSUPPORTED_NODE_ATTR",
                    '(antialias == 0) && "Antialiasing is not supported currently."')
    assert e.message == "checkResize: Antialiasing is not supported currently."
    e = ParserError(0, "n", "Relu", "checkNotInvalidType", "UNSUPPORTED_NODE",
                    "Assertion failed: status.is_success(): Found unsupported input type of INT32")
    assert e.message == "checkNotInvalidType: status.is_success(): Found unsupported input type of INT32"


def test_edge_cases_from_the_parser_source_agree_with_the_real_parser(tmp_path):
    """The prediction (support matrix 10.15 + the rules read from the onnx-tensorrt source) against the real
    TensorRT-RTX parser on every edge case of bench/fidelity_cases.py, node by node. Two differences are known
    and asserted as such: NonZero (TensorRT-RTX lacks TensorRT's NonZero plugin: the prediction is TensorRT's
    and says so) and Relu on an INT8 tensor outside Q/DQ (the parser takes it; the matrix says quantized types
    only through Q/DQ, which TensorRT's builder enforces, so the prediction keeps the matrix's answer)."""
    import sys

    import onnx

    from explorer.model import load_model
    from explorer.support.matrix import load_matrix
    from explorer.support.rules import judge_graph

    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    from fidelity_cases import build_cases

    cases = build_cases()
    paths = []
    for case in cases:
        paths.append(tmp_path / f"{case.name}.onnx")
        onnx.save(case.model, paths[-1])
    results = judge_in_subprocess(paths, timeout=600)
    matrix = load_matrix("10.15")
    differ, compared = [], 0
    for case, path, result in zip(cases, paths, results):
        if result.failure or result.model_errors:
            continue  # a model-level error: no node verdicts to compare
        model = load_model(path)
        predicted = judge_graph(model, matrix)
        for node, verdict in zip(model.graph.nodes, result.main):
            compared += 1
            if predicted[node.id].supported != (verdict.status == "supported"):
                differ.append(case.name)
    assert compared >= len(cases)
    assert sorted(differ) == ["nonzero", "relu_int8"], differ


def test_running_out_of_memory_while_loading_tensorrt_rtx_is_not_reported_as_not_installed():
    """A child with too little address space cannot map libtensorrt_rtx.so (234 MB); the loader wheel swallows
    that error and the bindings then say "No such file". The explorer must say what happened: installed, but
    out of memory -- never "missing" or "not installed". Real library, real limit (RLIMIT_AS) in a real child;
    several limits, since how much the interpreter itself maps varies."""
    import subprocess
    import sys

    script = ("import resource, sys; lim = int(sys.argv[1]) * 2**20; resource.setrlimit(resource.RLIMIT_AS, "
              "(lim, lim))\nfrom explorer.trt.library import available, TENSORRT_RTX\n"
              "print(available(require_gpu=False, library=TENSORRT_RTX)[1])")
    said = []
    for mb in (120, 160, 200):
        run = subprocess.run([sys.executable, "-c", script, str(mb)], capture_output=True, text=True, timeout=120,
                             cwd=ROOT)
        if run.returncode == 0:
            said.append(run.stdout.strip())
    assert said, "no child got as far as loading the library"
    assert any("ran out of memory" in s and "installed" in s for s in said), said
    assert not any("is missing" in s or "not installed" in s for s in said), said
