"""Broken and hostile inputs, one family at a time: each ends in a result or the right ExplorerError, whose
message names the problem and the file; nothing crashes, hangs, fills memory or runs the file's contents.

Families: not-ONNX files, ONNX that breaks ONNX's rules, absurd shapes and nesting, hostile strings,
external data, trtexec JSON, build logs, resource limits, crash isolation, the CLI, and the package's own
source (no unpickling, no eval).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

import explorer
from explorer import ArtifactError, ExplorerError, ExplorerWarning, ModelError
from explorer.engine import load_report, map_layers, read_build_log, read_layer_info, read_profile, read_times
from conftest import FIXTURES, REPO, SAMPLES, chain, tiny_model

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing.mutators import nested_model  # noqa: E402

LOGS = Path(__file__).parent / "data" / "logs"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def model_error(source, *words, file=None):
    """Load ``source``; it must raise ModelError naming every word (and the file)."""
    with pytest.raises(ModelError) as info:
        quiet(explorer.load_model, source)
    message = str(info.value)
    for word in words:
        assert re.search(word, message), f"{word!r} not in {message!r}"
    if file is not None:
        assert str(file) in message
        assert info.value.file == str(file)
    assert len(message) < 2000
    return info.value


def artifact_error(reader, source, *words, file=None):
    with pytest.raises(ArtifactError) as info:
        reader(source)
    message = str(info.value)
    for word in words:
        assert re.search(word, message), f"{word!r} not in {message!r}"
    if file is not None:
        assert str(file) in message
    return info.value


def write(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def relu():
    return chain(["Relu", "Sigmoid"], shape=("batch", 8))


# --------------------------------------------------------------------------------- not ONNX at all

@pytest.mark.parametrize("data, words", [
    (b"", ["empty"]),
    (b"   \n\t", ["whitespace"]),
    (bytes(range(256)) * 40, ["not a valid ONNX protobuf|not an ONNX"]),
    (b"ftrt\x00\x00\x00\x2b" + b"\x00" * 512, ["TensorRT engine", "never deserialized"]),
    (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, ["HDF5"]),
    (gzip.compress(b"x" * 100), ["gzip"]),
    (b'{"Layers": []}', ["JSON"]),
    (b"\xef\xbb\xbf{}", ["text file"]),
    (b"<html><script>alert(1)</script></html>", ["HTML"]),
    (b"\x1c\x00\x00\x00TFL3" + b"\x00" * 32, ["TensorFlow Lite"]),
])
def test_files_that_are_not_onnx(tmp_path, data, words):
    path = write(tmp_path, "model.onnx", data)
    model_error(path, *words, file=path)
    with pytest.raises(ModelError):
        quiet(explorer.load_model, data)  # the same bytes given directly


def test_truncated_and_bit_flipped_models(tmp_path):
    data = (SAMPLES / "resnet18.onnx").read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 1):
        path = write(tmp_path, f"cut{cut}.onnx", data[:cut])
        model_error(path, "truncated|not an ONNX|no graph|not produced|dangling|opset", file=path)
    flipped = bytearray(data[:4096])
    flipped[10] ^= 0xFF
    path = write(tmp_path, "flipped.onnx", bytes(flipped))
    model_error(path, file=path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pytorch_checkpoints_and_pickles_are_never_unpickled(tmp_path, protocol):
    marker = tmp_path / "pwned"
    # a pickle that creates `marker` when unpickled: the explorer must only say what the file is
    payload = (b"cbuiltins\nopen\n(S'" + str(marker).encode() + b"'\nS'w'\ntR.")
    pickled = bytes([0x80, protocol]) + payload
    path = write(tmp_path, "model.pt", pickled)
    model_error(path, "pickle", "never loaded", file=path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
    checkpoint = write(tmp_path, "checkpoint.pth", buf.getvalue())
    model_error(checkpoint, "ZIP", "PyTorch", file=checkpoint)
    assert not marker.exists()


def test_not_a_regular_file_is_refused_without_reading(tmp_path):
    model_error("/dev/zero", "not a regular file", file="/dev/zero")  # would never end if read
    model_error(tmp_path, "directory", file=tmp_path)
    model_error(tmp_path / "missing.onnx", "file not found", file=tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="cannot load a model from int"):
        explorer.load_model(5)


# ------------------------------------------------------------------------ ONNX that breaks the rules

def test_cycles_dangling_inputs_and_duplicate_outputs(tmp_path):
    cycle = tiny_model([helper.make_node("Add", ["x", "b"], ["a"], name="A"),
                        helper.make_node("Relu", ["a"], ["b"], name="B"),
                        helper.make_node("Relu", ["a"], ["y"], name="C")],
                       [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    path = write(tmp_path, "cycle.onnx", cycle.SerializeToString())
    model_error(path, "cycle", "'A'", "'B'", file=path)

    dangling = tiny_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")],
                          [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    path = write(tmp_path, "dangling.onnx", dangling.SerializeToString())
    model_error(path, "dangling", "'ghost'", "'adder'", file=path)

    twice = tiny_model([helper.make_node("Relu", ["x"], ["y"], name="one"),
                        helper.make_node("Neg", ["x"], ["y"], name="two")],
                       [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    path = write(tmp_path, "twice.onnx", twice.SerializeToString())
    model_error(path, "written twice", "'y'", "SSA", file=path)


def test_missing_opset_import_and_unknown_domains(tmp_path):
    proto = relu()
    del proto.opset_import[:]
    path = write(tmp_path, "no_opset.onnx", proto.SerializeToString())
    model_error(path, "opset_import", file=path)

    custom = tiny_model([helper.make_node("Mystery", ["x"], ["y"], name="mystery", domain="com.unknown.vendor")],
                        [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])])  # domain not imported
    report = quiet(explorer.analyze, custom, use_parser=False, trt_version="10.15")
    verdict = report.verdict("mystery")
    assert not verdict.supported and "com.unknown.vendor" in verdict.reason
    assert [g.nodes for g in explorer.predict_fusions(quiet(explorer.load_model, custom))] == [["mystery"]]


def test_operators_with_impossible_arity_are_judged_not_crashed():
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Softmax", [], ["s"], name="softmax_without_input"),
             helper.make_node("ReduceMean", ["r"] * 40, [], name="mean_without_output"),
             helper.make_node("Conv", [], [], name="empty_conv")]
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1, 4])], [("r", TensorProto.FLOAT, [1, 4])])
    model = quiet(explorer.load_model, proto)
    report = quiet(explorer.analyze, model, use_parser=False)
    assert report.nodes_total == 4
    groups = explorer.predict_fusions(model)
    assert sorted(n for g in groups for n in g.nodes) == sorted(n.id for n in model.nodes)


def test_attributes_of_the_wrong_type_do_not_crash_the_rules():
    node = helper.make_node("Transpose", ["x"], ["y"], name="t")
    node.attribute.append(helper.make_attribute("perm", "not a list"))
    cast = helper.make_node("Cast", ["y"], ["z"], name="cast")
    cast.attribute.append(AttributeProto(name="to", type=AttributeProto.INTS, f=3.5))  # type says INTS
    proto = tiny_model([node, cast], [("x", TensorProto.FLOAT, [2, 3])], [("z", TensorProto.FLOAT, None)])
    report = quiet(explorer.analyze, proto, use_parser=False)
    assert report.nodes_total == 2


def test_graph_with_zero_nodes():
    empty = tiny_model([], [("x", TensorProto.FLOAT, [1])], [])
    report = quiet(explorer.analyze, empty, use_parser=False)
    assert report.nodes_total == 0 and report.partitions == [] and report.coverage == 0.0
    assert explorer.predict_fusions(quiet(explorer.load_model, empty)) == []
    assert "0 total" in report.summary()
    outputs_without_nodes = tiny_model([], [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    model_error(outputs_without_nodes, "graph output 'y' is not produced")


def test_body_reading_a_value_computed_later_is_ordered_after_it():
    proto = onnx.load(SAMPLES / "hostile_names.onnx")
    late = proto.graph.node[-1].output[0]
    then_g = helper.make_graph([helper.make_node("Identity", [late], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Identity", [late], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    proto.graph.node.insert(0, helper.make_node("If", ["cond"], ["if_out"], name="early_if",
                                                then_branch=then_g, else_branch=else_g))
    proto.graph.input.append(helper.make_tensor_value_info("cond", TensorProto.BOOL, []))
    proto.graph.output.append(helper.make_tensor_value_info("if_out", TensorProto.FLOAT, None))
    model = quiet(explorer.load_model, proto)
    order = [n.id for n in model.nodes]
    assert order.index("early_if") > order.index(model.graph.producer[late].id)
    assert [n.index for n in model.nodes] == list(range(len(model.nodes)))
    quiet(explorer.analyze, model, use_parser=False)


# ------------------------------------------------------------------------- absurd shapes and nesting

def test_control_flow_nested_fifty_levels(tmp_path):
    deep = nested_model(None, 50, "If")
    path = write(tmp_path, "deep.onnx", deep.SerializeToString())
    # protobuf's parser stops at 100 message levels (~33 If levels): ONNX tools cannot read the file either
    model_error(path, "nests messages deeper than protobuf", file=path)
    # handed over as a ModelProto, 50 levels are read (and judged), 100 are refused
    model = quiet(explorer.load_model, deep)
    assert sum(1 for _ in model.graph.walk()) == 101  # 50 Ifs, 50 else-branch Negs, the innermost Relu
    report = quiet(explorer.analyze, model, use_parser=False)
    assert report.nodes_total == 1
    assert explorer.predict_fusions(model)[0].nodes == ["if_50"]
    model_error(nested_model(None, 100, "Loop"), "nested more than 64 levels")


def test_a_million_element_shape_and_negative_dims():
    proto = relu()
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    del dims[:]
    for _ in range(1_000_000):
        dims.add().dim_value = 1
    weights = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-3, 2])
    proto.graph.initializer.append(weights)
    model = quiet(explorer.load_model, proto)
    assert model.graph.inputs[0].shape is None and model.graph.inputs[0].dtype == "FLOAT"  # rank: unknown
    assert any("rank 1000000" in w and "shape inference is skipped" in w for w in model.warnings)
    assert any("negative dimensions" in w for w in model.warnings)
    assert model.graph.initializers["w"].nbytes == 0
    report = quiet(explorer.analyze, model, use_parser=False)
    assert report.nodes_total == 2


def test_huge_dims_and_wrong_dtypes():
    proto = relu()
    proto.graph.input[0].type.tensor_type.elem_type = 999  # no such type
    for d, value in zip(proto.graph.output[0].type.tensor_type.shape.dim, (2**62, -7)):
        d.dim_value = value
    proto.graph.initializer.append(TensorProto(name="big", data_type=TensorProto.FLOAT, dims=[2**31, 2**31]))
    report = quiet(explorer.analyze, proto, use_parser=False)
    assert report.nodes_total == 2


def test_a_long_elementwise_chain_is_grouped_whole():
    """20,000 pointwise nodes in a row: every node lands in exactly one group (the search was quadratic once:
    minutes; how long it takes now is bench/fusion_chain.py's, not asserted here)."""
    nodes, prev = [], "x"
    for i in range(20_000):
        nodes.append(helper.make_node(("Relu", "Neg", "Abs")[i % 3], [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    proto = tiny_model(nodes, [("x", TensorProto.FLOAT, [1, 8])], [(prev, TensorProto.FLOAT, None)])
    model = quiet(explorer.load_model, proto, infer_shapes=False)
    groups = explorer.predict_fusions(model)
    assert sum(len(g.nodes) for g in groups) == 20_000
    ids = [getattr(n, "id", n) for g in groups for n in g.nodes]
    assert len(set(ids)) == 20_000


# --------------------------------------------------------------------------------- hostile strings

HOSTILE = "\x1b[31mRED\x1b[0m\x07<script>alert('x')</script>\u202eevil\n"


def hostile_model() -> onnx.ModelProto:
    proto = relu()
    proto.graph.node[0].name = HOSTILE
    proto.graph.node[1].name = "N" * (1024 * 1024)  # a 1 MB name
    proto.graph.node[1].doc_string = "<img src=x onerror=alert(1)>" * 1000
    proto.graph.name = HOSTILE
    proto.doc_string = HOSTILE
    return proto


def test_hostile_names_load_as_data_and_print_escaped():
    model = quiet(explorer.load_model, hostile_model())
    assert model.nodes[0].name == HOSTILE  # the data is kept as it is...
    report = quiet(explorer.analyze, model, use_parser=False)
    text = report.summary()
    assert not CONTROL.search(text)  # ...and never reaches a terminal as control characters
    assert "\\x1b[31mRED" in text and "<script>" in text
    assert max(len(line) for line in text.splitlines()) < 5000  # the 1 MB name is shortened
    from explorer.cli.fusions import render

    table = render(explorer.predict_fusions(model), show_all=True, model_name=model.name)
    assert not CONTROL.search(table) and max(len(line) for line in table.splitlines()) < 5000


def test_hostile_names_in_error_messages_are_quoted_and_short():
    ghost = "\x1b]0;owned\x07" + "G" * 100_000
    proto = tiny_model([helper.make_node("Add", ["x", ghost], ["y"], name="adder")],
                       [("x", TensorProto.FLOAT, [1])], [("y", TensorProto.FLOAT, [1])])
    error = model_error(proto, "dangling", r"\\x1b\]0;owned\\x07")
    assert len(str(error)) < 1000


def test_non_utf8_names_are_shown_with_escapes(tmp_path):
    proto = relu()
    data = proto.SerializeToString().replace(b"Relu_0", b"R\xffl\xfe_0")
    path = write(tmp_path, "latin.onnx", data)
    model = quiet(explorer.load_model, path)
    assert model.nodes[0].name == "R\\xffl\\xfe_0"
    assert any("not valid UTF-8" in w for w in model.warnings)
    report = quiet(explorer.analyze, model, use_parser=False)
    json.dumps(report.to_dict())  # every string is text
    tensor = proto.SerializeToString().replace(b"t0", b"\xc3\x28")  # a tensor name, both ends renamed
    model = quiet(explorer.load_model, tensor)
    assert model.nodes[1].inputs == ("\\xc3(",)


# ----------------------------------------------------------------------------------- external data

def external_model(tmp_path, location, offset="0", length="64", file_bytes=None) -> Path:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[16])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    proto = tiny_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [("x", TensorProto.FLOAT, [16])],
                       [("y", TensorProto.FLOAT, [16])], initializers=[weight])
    path = write(tmp_path, "ext.onnx", proto.SerializeToString())
    if file_bytes is not None:
        write(tmp_path, "weights.bin", file_bytes)
    return path


@pytest.mark.parametrize("location, offset, length, file_bytes, words", [
    ("weights.bin", "0", "64", None, "is missing"),
    ("weights.bin", "0", "64", b"\x00" * 10, "is 10 bytes, needs 64"),
    ("weights.bin", "60", "64", b"\x00" * 64, "needs 124"),
    ("../../../etc/passwd", "0", "64", None, "outside the model's directory"),
    ("/etc/passwd", "0", "64", None, "outside the model's directory"),
    ("weights\x00.bin", "0", "64", None, "NUL"),
    ("", "0", "64", None, "has no location"),
    ("weights.bin", "zero", "64", b"\x00" * 64, "offset 'zero' is not a non-negative integer"),
    ("weights.bin", "0", "-4", b"\x00" * 64, "length '-4' is not a non-negative integer"),
    (".", "0", "64", None, "not a regular file"),
])
def test_missing_or_wrong_external_data_warns_and_keeps_structure(tmp_path, location, offset, length, file_bytes,
                                                                  words):
    path = external_model(tmp_path, location, offset, length, file_bytes)
    with pytest.warns(ExplorerWarning) as caught:
        model = explorer.load_model(path)
    assert any(words in str(w.message) and str(path) in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert not model.graph.initializers["w"].external.present
    assert quiet(explorer.analyze, model, use_parser=False).nodes_total == 1


def test_present_external_data_is_only_stat_ed(tmp_path):
    path = external_model(tmp_path, "weights.bin", file_bytes=b"\x00" * 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = explorer.load_model(path)
    assert model.graph.initializers["w"].external.present


# ------------------------------------------------------------------------------------- resource limits

def test_model_bigger_than_memory_is_refused_up_front_with_the_numbers(tmp_path, monkeypatch):
    import psutil

    path = tmp_path / "big.onnx"
    with open(path, "wb") as f:
        f.truncate(300 * 1024**2)  # sparse: no disk, no memory

    class Tight:
        available = 200 * 1024**2

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight())
    error = model_error(path, "needs about", "only 200 MiB is available", file=path)
    assert "MiB" in error.problem

    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as f:
        f.truncate(3 * 1024**3)
    model_error(huge, "3.0 GiB", "cannot exceed 2 GiB", file=huge)


def test_json_bigger_than_memory_is_refused_up_front(tmp_path, monkeypatch):
    import psutil

    path = tmp_path / "big.graph.json"
    with open(path, "wb") as f:
        f.truncate(100 * 1024**2)

    class Tight:
        available = 300 * 1024**2

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tight())
    artifact_error(read_layer_info, path, "needs about", "available", file=path)


def _fake_package(tmp_path, monkeypatch, name: str, code: str) -> None:
    """A package of that name, first on the children's path: the child meets it as it would a broken library."""
    folder = tmp_path / "fake"
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "__init__.py").write_text(code)
    monkeypatch.setenv("PYTHONPATH", str(folder))


def test_shape_inference_crash_and_hang_do_not_take_the_process(tmp_path, monkeypatch):
    from explorer import isolation
    from explorer.model.loader import infer_shapes_task

    isolation.close_kept()
    _fake_package(tmp_path, monkeypatch, "onnx", "import os\nos.abort()\n")  # ONNX's C++ aborting in the child
    model_error(relu(), "ONNX shape inference crashed \\(signal 6\\)")
    isolation.close_kept()
    _fake_package(tmp_path, monkeypatch, "onnx", "import time\ntime.sleep(600)\n")  # ... or hanging
    worker = isolation.TaskProcess(infer_shapes_task)
    try:
        worker.start()
        with pytest.raises(isolation.TaskCrashed, match="did not finish within 1 s"):
            worker.submit(relu().SerializeToString(), timeout=1).result()
        assert worker.pid is None  # killed and forgotten: the next request starts a new child
    finally:
        worker.close()
    monkeypatch.delenv("PYTHONPATH")
    assert quiet(explorer.load_model, relu()).nodes  # a fresh worker serves the next load


def test_model_rewrites_run_isolated(tmp_path, monkeypatch):
    from explorer import isolation
    from explorer.model.transforms import convert_opset, fold_constants

    model = quiet(explorer.load_model, SAMPLES / "dynamic_shapes.onnx")
    _fake_package(tmp_path, monkeypatch, "onnx_graphsurgeon", "import os\nos.abort()\n")
    with pytest.raises(ModelError, match=r"constant folding crashed \(signal 6\)") as info:
        fold_constants(model)
    assert info.value.file == str(SAMPLES / "dynamic_shapes.onnx")
    _fake_package(tmp_path, monkeypatch, "onnx", "import os\nos.abort()\n")
    with pytest.raises(ModelError, match="conversion to opset 13 crashed"):
        convert_opset(model, 13)
    monkeypatch.undo()
    with pytest.raises(ModelError, match="conversion to opset 1 failed"):
        convert_opset(model, 1)


def test_children_run_only_registered_explorer_tasks():
    """The allowlist: a child imports only explorer modules and runs only what @isolated_task registered."""
    from explorer import isolation

    with pytest.raises(ValueError, match="not an isolated task"):
        isolation.run_task(os.system, b"")  # a function without the mark: refused before any child starts
    with pytest.raises(ValueError, match="not an isolated task: os:system"):
        isolation.run_task(isolation.TaskSpec("os", "system"), b"")
    # a spec forged past the parent's check: the child refuses it (imports nothing, runs nothing)
    forged = isolation.TaskSpec("explorer.model.transforms", "_with_ids_as_names")
    with pytest.raises(ValueError, match="refused: explorer.model.transforms:_with_ids_as_names is not a registered"):
        isolation.run_task(forged, b"")
    with pytest.raises(ValueError, match="refused: 'explorer.x; import os' is not an explorer module"):
        isolation.run_task(isolation.TaskSpec("explorer.x; import os", "t"), b"")
    with pytest.raises(ValueError, match="only explorer modules"):
        isolation.isolated_task("mine")(lambda data: data)  # defined outside explorer: cannot register
    from explorer.model.transforms import convert_version_task

    with pytest.raises(isolation.TaskFailed) as info:  # the task's own error comes back typed
        isolation.run_task(convert_version_task, b"\xff not a model", "13")
    assert info.value.kind == "DecodeError" and "ModelProto" in info.value.message


def test_tensorrt_parser_runs_isolated(tmp_path, monkeypatch):
    """TensorRT's ONNX parser (analysis with TensorRT installed) reads the user's model in a child process."""
    from explorer.trt import TENSORRT, ModelVerdicts, judge_isolated

    path = str(SAMPLES / "unsupported_ops.onnx")
    fake = tmp_path / "fake"
    (fake / "tensorrt").mkdir(parents=True)
    (fake / "tensorrt" / "__init__.py").write_text("import os\nos.abort()\n")  # a parser that crashes
    monkeypatch.setenv("PYTHONPATH", str(fake))
    with pytest.raises(ModelError, match=r"TensorRT's ONNX parser crashed \(signal 6\)") as info:
        judge_isolated(path, TENSORRT)
    assert info.value.file == path
    (fake / "tensorrt" / "__init__.py").write_text("raise ImportError('libnvinfer.so.10: cannot open')\n")
    with pytest.raises(ExplorerError, match="TensorRT cannot be used: .*libnvinfer"):
        judge_isolated(path, TENSORRT)
    verdicts = ModelVerdicts("TensorRT 10.15.0 parser", False, (), parses=1, source=path)
    assert ModelVerdicts.from_dict(json.loads(json.dumps(verdicts.to_dict()))) == verdicts


# ----------------------------------------------------------------------------------------- trtexec JSON

def test_truncated_json_names_file_and_place(tmp_path):
    text = (FIXTURES / "a100_resnet_fp32.profile.json").read_text()
    path = write(tmp_path, "cut.profile.json", text[: len(text) // 3])
    error = artifact_error(read_profile, path, "truncated JSON", file=path)
    assert error.where.startswith("line ")


@pytest.mark.parametrize("reader, fixture, words", [
    (read_layer_info, "a100_resnet_fp32.profile.json", "--exportProfile"),
    (read_profile, "a100_resnet_fp32.timing.json", "--exportTimes"),
    (read_times, "a100_resnet_fp32.graph.json", "--exportLayerInfo"),
])
def test_json_from_the_wrong_tool(reader, fixture, words):
    artifact_error(reader, FIXTURES / fixture, words, file=FIXTURES / fixture)


def test_chrome_trace_is_named(tmp_path):
    path = write(tmp_path, "trace.json", json.dumps([{"ph": "X", "name": "Conv", "ts": 1, "dur": 2}]))
    artifact_error(read_profile, path, "Chrome trace", file=path)


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('[{"count": 1}, {"name": "a", "timeMs": ' + "9" * 5000 + "}]", "not valid JSON|too large"),
    ('[{"count": 1}, {"name": "a", "timeMs": 1' + "0" * 400 + "}]", "too large to be a time"),
    ('[{"count": 1}, {"name": "a", "timeMs": NaN}]', "NaN"),
    ('[{"count": 1}, {"name": "a", "timeMs": "fast"}]', "expected a number"),
    ('[{"count": 1}, {"name": "a"}]', "without 'name' and 'timeMs'"),
    ('{"not": "a profile"}', "not trtexec --exportProfile output"),
])
def test_malformed_profiles(tmp_path, text, words):
    path = write(tmp_path, "bad.profile.json", text)
    artifact_error(read_profile, path, words, file=path)


def test_layer_info_with_garbage_values_reads_what_it_can():
    layers = json.loads((FIXTURES / "a100_resnet_fp32.graph.json").read_text())
    layers["Layers"][0]["Outputs"][0]["Dimensions"] = [10**400, "x", None, -1]
    layers["Layers"][0]["Weights"] = {"Type": "Half", "Count": 10**400}
    layers["Layers"][1]["Name"] = HOSTILE
    layers["Layers"][2]["Metadata"] = 12345
    report = read_layer_info(layers)
    from explorer.cli.inspect import render

    text = render(report)
    assert not CONTROL.search(text)
    json.dumps(report.to_dict(), default=str)
    artifact_error(read_layer_info, {"Layers": [{"LayerType": "X"}]}, "without a 'Name'")


def test_utf16_and_bom_json_are_read(tmp_path):
    text = (FIXTURES / "a100_resnet_fp32.profile.json").read_text()
    for data in (text.encode("utf-16"), b"\xef\xbb\xbf" + text.encode()):
        path = write(tmp_path, "p.json", data)
        assert len(read_profile(path).layers) == len(read_profile(FIXTURES / "a100_resnet_fp32.profile.json").layers)


def test_big_times_export_is_streamed(tmp_path, monkeypatch):
    from explorer.engine.readers import profile as profile_reader

    record = {"startEnqMs": 1.0, "endEnqMs": 1.1, "startH2dMs": 1.0, "endH2dMs": 1.0, "startComputeMs": 1.0,
              "endComputeMs": 2.0, "startD2hMs": 2.0, "endD2hMs": 2.0, "h2dMs": 0, "computeMs": 1.0, "d2hMs": 0,
              "latencyMs": 1.0}
    count = 40_000
    path = tmp_path / "big.timing.json"
    with open(path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps({**record, "startH2dMs": i, "endD2hMs": i + 1.0}) for i in range(count))
                + "\n]\n")
    monkeypatch.setattr(profile_reader, "STREAM_JSON_BYTES", 1024)
    tracemalloc.start()
    report = read_times(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.end_to_end.count == count and report.end_to_end.latency.p50 == 1.0
    assert peak < path.stat().st_size / 2, f"peak {peak} bytes for a {path.stat().st_size}-byte file: not streamed"
    cut = write(tmp_path, "cut.timing.json", path.read_bytes()[: path.stat().st_size // 2])
    artifact_error(read_times, cut, "truncated", file=cut)


def test_readers_refuse_what_is_not_a_source():
    artifact_error(read_layer_info, 5, "cannot read a TensorRT artifact from int")
    artifact_error(read_layer_info, "/dev/zero", "not a regular file")
    artifact_error(read_build_log, None, "cannot read a build log from NoneType")
    artifact_error(lambda s: map_layers(s), None, "cannot map NoneType")
    artifact_error(lambda s: map_layers(s), [object()], "layer 0 is a object")
    with pytest.raises(ExplorerError, match="min_block_size must be an integer"):
        explorer.analyze(relu(), min_block_size="5", use_parser=False)


# ------------------------------------------------------------------------------------------ build logs

def test_truncated_log_keeps_what_was_read(tmp_path):
    text = (LOGS / "trt10.log").read_text()
    path = write(tmp_path, "cut.log", text[: len(text) // 2])
    report = read_build_log(path)
    assert report.tactics


def test_logs_from_the_wrong_tool(tmp_path):
    path = write(tmp_path, "graph.log", (FIXTURES / "a100_resnet_fp32.graph.json").read_text())
    artifact_error(read_build_log, path, "this is JSON", file=path)
    path = write(tmp_path, "other.log", "\n".join(f"Epoch {i}: loss 0.{i}" for i in range(300)))
    artifact_error(read_build_log, path, "not a TensorRT log", file=path)
    path = write(tmp_path, "engine.log", b"ftrt\x00\x00" * 100)
    artifact_error(read_build_log, path, "binary", file=path)


def test_unknown_and_garbage_lines_are_skipped(tmp_path):
    lines = (LOGS / "trt8.log").read_text().splitlines()
    garbage = ["Tactic: 0xZZZ Time: NaN", "Total Host Persistent Memory: 1e400 MiB", "Layer(): , Tactic: , ",
               "Layer: x Host Persistent: " + "9" * 5000 + " Device Persistent: 0 Scratch Memory: 0",
               "[MemUsageStats] Peak memory usage of TRT CPU/GPU memory allocators: CPU 1e999 MiB, GPU 1 MiB",
               "Layer(Foo): a, Tactic: 0x1, in (Float[" + "9" * 40 + ",²]) -> out (Half[a:b,,-1])",
               "Computing costs for " + " " * 200_000 + "x",
               "Timing Runner: " + "(" * 100_000,
               HOSTILE.replace("\n", " ") + " Tactic: 0x2 Time: 0.2"]
    mixed = [x for pair in zip(lines, garbage * (len(lines) // len(garbage) + 1)) for x in pair]
    path = write(tmp_path, "mixed.log", "\n".join(mixed) + "\n")
    report = read_build_log(path)
    assert report.tactics
    from explorer.cli.inspect import render

    assert not CONTROL.search(render(report))


def test_a_log_line_without_end_is_skipped_unread(tmp_path):
    text = (LOGS / "trt10.log").read_text()
    path = tmp_path / "long.log"
    with open(path, "w") as f:
        f.write(text)
        f.write("Tactic: 0x1 Time: 0.5 " * 300_000)  # 6.6 MB, no newline
        f.write("\n" + text)
    tracemalloc.start()
    report = read_build_log(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 1024**2
    assert any("longer than" in note for note in report.notes)
    assert report.tactics


def test_record_bound_is_noted(tmp_path, monkeypatch):
    from explorer.engine.readers import build_log

    monkeypatch.setattr(build_log, "MAX_RECORDS", 3)
    report = read_build_log(LOGS / "trt10.log")
    assert len({(t.layer, t.formats, t.runner, t.tactic) for t in report.tactics if not t.fastest}) <= 4
    assert any("were not kept" in note for note in report.notes)


def test_compressed_logs_truncated_fake_and_bombs(tmp_path, monkeypatch):
    from explorer.engine.readers import build_log

    data = gzip.compress((LOGS / "trt10.log").read_bytes())
    path = write(tmp_path, "cut.log.gz", data[: len(data) * 2 // 3])
    report = read_build_log(path)
    assert any("ends early" in note for note in report.notes)
    fake = write(tmp_path, "fake.log.gz", b"\x1f\x8b" + bytes(range(100)))
    artifact_error(read_build_log, fake, "cannot read", file=fake)
    bomb = write(tmp_path, "bomb.log.gz", gzip.compress(b"[V] [TRT] x\n" * 2_000_000))
    monkeypatch.setattr(build_log, "MIN_GZ_LIMIT", 1024)
    artifact_error(read_build_log, bomb, "decompression bomb", file=bomb)


def test_interleaved_logs_and_bytes_lines():
    a, b = (LOGS / "trt8.log").read_text().splitlines(), (LOGS / "trt10.log").read_text().splitlines()
    mixed = [x for pair in zip(a, b) for x in pair]
    assert read_build_log("\n".join(mixed)).tactics
    assert read_build_log([line.encode() for line in b]).tactics  # a logger handing over bytes


# ------------------------------------------------------------------------------------------------ the CLI

def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], capture_output=True, cwd=REPO,
                          timeout=120)


def one_error_line(proc, *words) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for word in words:
        assert re.search(word, lines[0]), lines[0]
    assert not CONTROL.search(lines[0])
    return lines[0]


def test_cli_bad_inputs_exit_2_with_one_escaped_line(tmp_path):
    cycle = tiny_model([helper.make_node("Relu", ["b"], ["a"], name="\x1b[31mA"),
                        helper.make_node("Relu", ["a"], ["b"], name="B")],
                       [("x", TensorProto.FLOAT, [1])], [("b", TensorProto.FLOAT, [1])])
    path = write(tmp_path, "cycle.onnx", cycle.SerializeToString())
    line = one_error_line(cli("analyze", path), "cycle", re.escape(str(path)))
    assert "\\x1b[31mA" in line
    plan = write(tmp_path, "model.engine", b"ftrt" + b"\x00" * 64)
    one_error_line(cli("fusions", plan), "TensorRT engine", re.escape(str(plan)))
    log = write(tmp_path, "b.log", "[" * 10 + "garbage")
    one_error_line(cli("inspect", "--log", log), "JSON|not a TensorRT log", re.escape(str(log)))
    profile = write(tmp_path, "p.json", "[" * 100_000)
    one_error_line(cli("inspect", "--profile", profile), "nested too deeply|truncated", re.escape(str(profile)))


def test_cli_prints_hostile_names_as_escapes(tmp_path):
    path = write(tmp_path, "hostile.onnx", hostile_model().SerializeToString())
    for command in ("analyze", "fusions"):
        proc = cli(command, path)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout.decode()
        assert not CONTROL.search(out), command
        assert "\\x1b[31mRED" in out
    proc = cli("analyze", path, "--json")  # JSON keeps the data exactly (json escapes control characters)
    first = json.loads(proc.stdout)["nodes"][0]
    assert first.get("name", first["node"]) == HOSTILE  # "name" is written only when it differs from "node"


# ---------------------------------------------------------------------------------- the package itself

UNSAFE = {
    r"\bpickle\.(loads?|Unpickler)\b": "unpickling",
    r"\b(cPickle|dill|cloudpickle|joblib|shelve|marshal)\.(loads?|open)\b": "unpickling",
    r"\bpd\.read_pickle|\bread_pickle\(": "unpickling",
    r"allow_pickle\s*=\s*True": "numpy unpickling",
    r"\btorch\.(load|jit\.load)\b": "torch.load (unpickles)",
    r"(?<![\w.])eval\(": "eval",
    r"(?<![\w.])exec\(": "exec",
    r"\byaml\.(load|unsafe_load|full_load)\((?![^)]*SafeLoader)": "yaml.load without SafeLoader",
    r"shell\s*=\s*True": "a shell",
    r"(?<![\w.])__import__\(": "dynamic import",
}


def package_sources():
    root = REPO / "explorer"
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_package_never_unpickles_or_evaluates_anything():
    found = []
    for path in package_sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in UNSAFE.items():
                if re.search(pattern, code):
                    found.append(f"{path.relative_to(REPO)}:{number}: {what}: {line.strip()}")
    assert not found, "\n".join(found)
    assert len(package_sources()) > 20


def test_engines_are_deserialized_only_right_after_building_them():
    """No API deserializes a TensorRT engine it did not build itself (plugins in an engine run code)."""
    calls = []
    for path in package_sources():
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"deserialize_cuda_engine\((\w+)\)", text):
            calls.append((path.name, match.group(1), text))
    assert calls
    for name, argument, text in calls:
        # explorer/backends/tensorrt/builder.py (the build) and debug_tensors.py (the precision comparison's own
        # debug engine): each deserializes only the bytes its builder has just returned
        assert name in ("builder.py", "debug_tensors.py"), name
        if name == "builder.py":
            assert re.search(rf"{argument} = bytes\(serialized\)", text) and "EngineBytesFromNetwork" in text
        else:
            assert re.search(rf"{argument} = builder\.build_serialized_network\(", text), argument
