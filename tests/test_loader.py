"""Loading ONNX models: every source type, shape inference, subgraphs, functions, and every load error."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import numpy_helper

import explorer
from explorer import ExplorerWarning, ModelError
from conftest import REPO, TensorProto, chain, helper, tiny_model


def relu_model():
    return chain(["Relu", "Sigmoid"], shape=("batch", 8))


def test_loads_from_path_bytes_and_proto(tmp_path):
    proto = relu_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    for source in (str(path), path, proto.SerializeToString(), proto):
        model = explorer.load_model(source)
        assert [n.id for n in model.nodes] == ["Relu_0", "Sigmoid_1"]
        assert model.opset == 17
    assert explorer.load_model(path).path == str(path)
    assert explorer.load_model(path).name == "m.onnx"


def test_shape_inference_keeps_symbolic_dims():
    model = explorer.load_model(relu_model())
    info = model.graph.tensor("t0")
    assert info.dtype == "FLOAT"
    assert info.shape == ("batch", 8)
    assert not info.is_static
    assert model.graph.dtype("t0") == "FLOAT"


def test_unnamed_and_duplicate_names_get_unique_stable_ids():
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Relu", ["a"], ["b"], name="dup"),
             helper.make_node("Relu", ["b"], ["c"], name="dup"),
             helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.ones(1, np.float32))),
             helper.make_node("Add", ["c", "k"], ["y"])]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    first = explorer.load_model(proto)
    ids = [n.id for n in first.nodes]
    assert len(set(ids)) == len(ids)
    assert ids[1] == "dup" and ids[2].startswith("dup_")
    assert first.nodes[2].name == "dup" and first.nodes[2].is_renamed
    assert [n.name for n in first.nodes][0] == ""
    assert ids == [n.id for n in explorer.load_model(proto).nodes]  # stable across loads


def test_nodes_out_of_file_order_are_sorted_topologically():
    nodes = [helper.make_node("Sigmoid", ["a"], ["y"], name="second"),
             helper.make_node("Relu", ["x"], ["a"], name="first")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    model = explorer.load_model(proto)
    assert [n.id for n in model.nodes] == ["first", "second"]
    assert [n.file_index for n in model.nodes] == [1, 0]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\x00\xff\xfe garbage \x13\x37" * 20, "not a valid ONNX protobuf"),
    (b'{"Layers": []}', "JSON"),
    (b"PK\x03\x04rest-of-zip", "ZIP"),
    (b"\x80\x02}q\x00.", "pickle"),
])
def test_not_onnx_is_a_model_error_naming_the_problem(tmp_path, data, words):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(ModelError) as err:
        explorer.load_model(path)
    assert words in str(err.value)
    assert str(path) in str(err.value)
    assert isinstance(err.value, explorer.ExplorerError)


def test_truncated_file_is_a_model_error(tmp_path):
    data = relu_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated|not an ONNX|no graph"):
        explorer.load_model(path)


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="file not found"):
        explorer.load_model(tmp_path / "nope.onnx")


def test_cycle_is_a_model_error_naming_nodes():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="A"),
             helper.make_node("Relu", ["a"], ["b"], name="B"),
             helper.make_node("Relu", ["a"], ["y"], name="C")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ModelError, match="cycle") as err:
        explorer.load_model(proto)
    assert "'A'" in str(err.value) and "'B'" in str(err.value)


def test_self_loop_is_a_cycle():
    nodes = [helper.make_node("Add", ["x", "y"], ["y"], name="selfie")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ModelError, match="cycle"):
        explorer.load_model(proto)


def test_dangling_input_is_a_model_error():
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ModelError, match="dangling") as err:
        explorer.load_model(proto)
    assert "'ghost'" in str(err.value) and "'adder'" in str(err.value)


def test_missing_opset_import_is_a_model_error():
    proto = relu_model()
    del proto.opset_import[:]
    with pytest.raises(ModelError, match="opset"):
        explorer.load_model(proto.SerializeToString())


def test_missing_external_data_warns_and_keeps_structure(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    from graphs import model_with_external_weights

    path = model_with_external_weights(str(tmp_path / "ext.onnx"), 4 * 1024 * 1024, tensors=4)
    os.remove(str(path) + ".data")
    with pytest.warns(ExplorerWarning, match="missing"):
        model = explorer.load_model(path)
    assert len(model.nodes) == 8
    assert any("missing" in w for w in model.warnings)
    w0 = model.graph.initializers["w0"]
    assert w0.external is not None and not w0.external.present
    assert model.parameter_bytes == 4 * 1024 * 1024


def test_external_weights_are_never_read(tmp_path):
    """1 GB of external weights (a sparse file): a child process loads it with a small peak RSS."""
    sys.path.insert(0, str(REPO / "bench"))
    from graphs import model_with_external_weights

    path = model_with_external_weights(str(tmp_path / "big.onnx"), 1024**3)
    # VmHWM, not ru_maxrss: after fork+exec, ru_maxrss starts at the forking parent's RSS (pytest's).
    code = ("import explorer; m = explorer.load_model(%r); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]; "
            "print(m.parameter_bytes, hwm)" % str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    parameter_bytes, peak_kib = map(int, out.stdout.split())
    assert parameter_bytes >= 1024**3 - 64 * 1024
    assert peak_kib < 300 * 1024, f"peak RSS {peak_kib} KiB: were the external weights read?"


def test_subgraphs_and_local_functions_are_loaded():
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"], name="then_relu")], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"], name="else_neg")], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1])])
    fn = helper.make_function("local.fn", "Double", ["a"], ["b"],
                              [helper.make_node("Add", ["a", "a"], ["b"])], [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
             helper.make_node("Double", ["y"], ["z"], name="twice", domain="local.fn")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1]), ("c", TensorProto.BOOL, [])],
                       [("z", TensorProto.FLOAT, [1])], functions=[fn], extra_opsets=[("local.fn", 1)])
    model = explorer.load_model(proto)
    branch = model.node("branch")
    assert set(branch.subgraphs) == {"then_branch", "else_branch"}
    assert branch.subgraphs["then_branch"].nodes[0].id == "branch/then_relu"
    assert "x" in branch.subgraphs["then_branch"].outer_scope
    assert sorted(n.id for n in model.graph.walk()) == ["branch", "branch/else_neg", "branch/then_relu", "twice"]
    assert ("local.fn", "Double") in model.functions
    assert model.functions[("local.fn", "Double")].op_types == (("", "Add"),)
    assert model.opsets["local.fn"] == 1


def test_summary_reports_inputs_outputs_and_op_counts():
    summary = explorer.load_model(relu_model()).summary()
    assert summary["nodes"] == 2
    assert summary["inputs"][0] == {"name": "x", "dtype": "FLOAT", "shape": ["batch", 8]}
    assert summary["op_counts"] == {"Relu": 1, "Sigmoid": 1}


def test_shape_inference_child_runs_onnx_cpp_without_the_onnx_package(tmp_path):
    """The isolation child loads onnx's C++ extension alone (the package's import is most of a second) and
    reads the file itself when given its path and the stamp the parent saw; a changed file is refused."""
    path = tmp_path / "m.onnx"
    path.write_bytes(relu_model().SerializeToString())
    code = (
        "import sys\n"
        "from explorer.model import shapes\n"
        "stamp = shapes.file_stamp(sys.argv[1])\n"
        "raw = shapes.infer_shapes_task(b'', sys.argv[1], stamp)\n"
        "print('onnx' in sys.modules, len(raw))\n"
        "try:\n"
        "    shapes.infer_shapes_task(b'', sys.argv[1], stamp + 'x')\n"
        "except shapes.FileChanged as exc:\n"
        "    print('refused', exc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=REPO,
                         check=True)
    imported, size = out.stdout.splitlines()[0].split()
    assert imported == "False"  # onnx's Python package was never imported
    import onnx
    from explorer.model import shapes

    inferred = onnx.ModelProto()
    inferred.ParseFromString(shapes.infer_shapes_task(path.read_bytes()))
    assert int(size) == inferred.ByteSize() and {vi.name for vi in inferred.graph.value_info} == {"t0"}
    assert out.stdout.splitlines()[1].startswith("refused") and str(path) in out.stdout


def test_a_prefetched_shape_inference_of_a_file_changed_since_is_not_used(tmp_path):
    """``prefetch`` (the CLI starts shape inference before importing onnx) names the file by path, size,
    mtime and inode: loading a file rewritten meanwhile infers the new file, not the old one."""
    from explorer.model import shapes

    path = tmp_path / "m.onnx"
    path.write_bytes(relu_model().SerializeToString())
    shapes.prefetch(str(path))
    replacement = tmp_path / "new.onnx"
    replacement.write_bytes(chain(["Relu", "Sigmoid", "Relu"], shape=("batch", 8)).SerializeToString())
    os.replace(replacement, path)  # a new inode at the same path
    model = explorer.load_model(path)
    assert [n.op_type for n in model.nodes] == ["Relu", "Sigmoid", "Relu"]
    assert model.graph.dtype("t1") == "FLOAT" and model.graph.tensor("t1").shape == ("batch", 8)
    # and an unchanged file takes the prefetched answer (the worker is free afterwards: a second load works)
    shapes.prefetch(str(path))
    assert explorer.load_model(path).graph.tensor("t0").shape == ("batch", 8)
    assert explorer.load_model(path).graph.tensor("t0").shape == ("batch", 8)
