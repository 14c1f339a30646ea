"""Dynamic input dimensions never silently become 1: real ONNX Runtime builds of models with the failure
modes of YOLOv8n (two branches concatenated: H/W must match), PP-OCR det (H/W multiples of 32) and PP-OCR rec
(a dynamic width that "runs" at 1 pixel), and a silero-vad-like control input given a value."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from explorer.backends.build import build
from explorer.backends.settings import BuildSettings
from explorer.backends.inputs import IMAGE_SIZE, SEQUENCE_LENGTH, choose_dims
from explorer.backends.onnxruntime.inputs import plan_inputs
from explorer.errors import BuildError

FAST = dict(backend="onnxruntime", runs=2, warmup=1, opt_level=1)


def _w(name, shape, seed=0):
    return nh.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.1, name)


def yolo_like(path, metadata=None):
    """images [batch,3,height,width] -> stride-2 Conv+SiLU -> Resize x2, concatenated with a stride-1 branch:
    the branches agree in H/W only for even sizes (1 gives 1 against 2, as YOLOv8n's Concat does)."""
    x = h.make_tensor_value_info("images", T.FLOAT, ["batch", 3, "height", "width"])
    y = h.make_tensor_value_info("out", T.FLOAT, None)
    nodes = [h.make_node("Conv", ["images", "w1"], ["a"], name="/model.0/conv/Conv", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
             h.make_node("Sigmoid", ["a"], ["as"], name="/model.0/act/Sigmoid"),
             h.make_node("Mul", ["a", "as"], ["a2"], name="/model.0/act/Mul"),
             h.make_node("Resize", ["a2", "", "scales"], ["up"], name="/model.1/Resize", mode="nearest"),
             h.make_node("Conv", ["images", "w2"], ["b"], name="/model.2/conv/Conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
             h.make_node("Concat", ["up", "b"], ["out"], name="/model.3/Concat", axis=1)]
    g = h.make_graph(nodes, "yolo_like", [x], [y], [_w("w1", (8, 3, 3, 3)), _w("w2", (8, 3, 3, 3), 1),
                                                   nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    for k, v in (metadata or {}).items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, path)
    return path


def det_like(path):
    """x with paddle2onnx's dimension names: five stride-2 Convs, five Resize x2, concatenated with a
    full-size branch: H and W must be multiples of 32 (PP-OCR det)."""
    x = h.make_tensor_value_info("x", T.FLOAT, ["p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1",
                                                "p2o.DynamicDimension.2"])
    y = h.make_tensor_value_info("sigmoid_0.tmp_0", T.FLOAT, None)
    nodes, inits, prev = [], [nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales")], "x"
    for i in range(5):
        inits.append(_w(f"wd{i}", (4, 3 if i == 0 else 4, 3, 3), i))
        nodes.append(h.make_node("Conv", [prev, f"wd{i}"], [f"d{i}"], name=f"conv_down_{i}", kernel_shape=[3, 3],
                                 strides=[2, 2], pads=[1, 1, 1, 1]))
        prev = f"d{i}"
    for i in range(5):
        nodes.append(h.make_node("Resize", [prev, "", "scales"], [f"u{i}"], name=f"resize_up_{i}", mode="nearest"))
        prev = f"u{i}"
    inits.append(_w("wf", (4, 3, 3, 3), 9))
    nodes += [h.make_node("Conv", ["x", "wf"], ["full"], name="conv_full", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
              h.make_node("Concat", [prev, "full"], ["cat"], name="concat_fpn", axis=1),
              h.make_node("Sigmoid", ["cat"], ["sigmoid_0.tmp_0"], name="sigmoid_out")]
    onnx.save(h.make_model(h.make_graph(nodes, "det_like", [x], [y], inits),
                           opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def rec_like(path):
    """x [?, 3, 48, ?]: text recognition with a dynamic width; it runs at any width, even 1 pixel."""
    x = h.make_tensor_value_info("x", T.FLOAT, ["p2o.DynamicDimension.0", 3, 48, "p2o.DynamicDimension.1"])
    y = h.make_tensor_value_info("softmax_0.tmp_0", T.FLOAT, None)
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], name="conv_rec", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             h.make_node("ReduceMean", ["c"], ["r"], name="pool_h", axes=[2], keepdims=0),
             h.make_node("Transpose", ["r"], ["t"], name="to_seq", perm=[0, 2, 1]),
             h.make_node("Softmax", ["t"], ["softmax_0.tmp_0"], name="softmax", axis=-1)]
    onnx.save(h.make_model(h.make_graph(nodes, "rec_like", [x], [y], [_w("w", (8, 3, 3, 3))]),
                           opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def vad_like(path):
    """silero-vad's inputs: audio [batch, samples], state [2, batch, 64] and a 0-d int64 ``sr``; the output
    is the mean audio times sr / 16000, so the value fed shows in it."""
    inputs = [h.make_tensor_value_info("input", T.FLOAT, ["batch", "samples"]),
              h.make_tensor_value_info("state", T.FLOAT, [2, "batch", 64]),
              h.make_tensor_value_info("sr", T.INT64, [])]
    out = h.make_tensor_value_info("output", T.FLOAT, None)
    nodes = [h.make_node("Cast", ["sr"], ["srf"], to=T.FLOAT, name="cast_sr"),
             h.make_node("Div", ["srf", "k16000"], ["ratio"], name="ratio"),
             h.make_node("ReduceMean", ["input"], ["m"], name="mean", keepdims=0),
             h.make_node("Mul", ["m", "ratio"], ["output"], name="scale")]
    onnx.save(h.make_model(h.make_graph(nodes, "vad_like", inputs, [out],
                                        [nh.from_array(np.array(16000, np.float32), "k16000")]),
                           opset_imports=[h.make_opsetid("", 17)]), path)
    return path


def test_yolo_like_builds_at_640_and_says_which_sizes_it_chose(tmp_path):
    report = build(yolo_like(tmp_path / "yolo.onnx"), **FAST)
    assert report.settings["input_shapes"] == {"images": [1, 3, IMAGE_SIZE, IMAGE_SIZE]}
    note = next(n for n in report.notes if n.startswith("input 'images' has dynamic dimensions"))
    assert "'height' = 640 (image height, default 640)" in note and "'batch' = 1" in note
    assert "images:1x3x640x640" in note
    assert json.loads(json.dumps(report.to_dict()))["settings"]["input_shapes"]["images"] == [1, 3, 640, 640]


def test_yolo_like_takes_its_size_from_the_models_metadata(tmp_path):
    path = yolo_like(tmp_path / "yolo.onnx", metadata={"imgsz": "[320, 256]", "stride": "32"})
    plan = plan_inputs(onnx.load(path))
    assert plan.shapes == {"images": (1, 3, 320, 256)}
    assert "metadata imgsz=[320, 256]" in plan.notes()[0]


def test_a_failing_size_is_explained_in_the_explorers_words_not_onnx_runtimes(tmp_path):
    path = yolo_like(tmp_path / "yolo.onnx")
    with pytest.raises(BuildError) as info:
        build(path, shapes={"images": "1x3x1x1"}, **FAST)
    text = str(info.value)
    assert "ONNXRuntimeError" not in text and "concatbase" not in text
    assert "'/model.3/Concat' (Concat)" in text
    assert "input 'images' was given as 1x3x1x1 ('batch' = 1, 'height' = 1, 'width' = 1)" in text
    assert "images:1x3x640x640" in text  # the size to give instead
    with pytest.raises(BuildError) as odd:  # an odd size: suggest the next multiple of 32
        build(path, shapes={"images": "1x3x33x33"}, **FAST)
    assert "images:1x3x64x64" in str(odd.value)


def test_det_like_needs_multiples_of_32_and_the_default_is_one(tmp_path):
    path = det_like(tmp_path / "det.onnx")
    report = build(path, **FAST)
    assert report.settings["input_shapes"] == {"x": [1, 3, 640, 640]} and 640 % 32 == 0
    with pytest.raises(BuildError) as info:
        build(path, shapes={"x": "1x3x100x100"}, **FAST)
    assert "'concat_fpn' (Concat)" in str(info.value) and "x:1x3x128x128" in str(info.value)
    assert "ONNXRuntimeError" not in str(info.value)


def test_rec_like_never_runs_a_one_pixel_wide_image_unless_asked(tmp_path):
    path = rec_like(tmp_path / "rec.onnx")
    report = build(path, **FAST)
    assert report.settings["input_shapes"] == {"x": [1, 3, 48, IMAGE_SIZE]}
    assert any("'p2o.DynamicDimension.1' = 640 (image width, default 640)" in n for n in report.notes)
    asked = build(path, shapes={"x": "1x3x48x1"}, **FAST)  # the user asked for it: their choice, stated
    assert asked.settings["input_shapes"] == {"x": [1, 3, 48, 1]}
    assert not any("has dynamic dimensions" in n for n in asked.notes)


def test_a_chosen_image_size_of_one_is_refused():
    with pytest.raises(BuildError, match="image height, from metadata.*degenerate"):
        choose_dims("images", T.FLOAT, ["batch", 3, "height", "width"], {"imgsz": "[1, 1]"})
    seq = choose_dims("ids", T.INT64, ["batch", "sequence"])
    assert [(c.value, c.reason) for c in seq] == [(1, "batch of 1"),
                                                 (SEQUENCE_LENGTH, f"sequence length, default {SEQUENCE_LENGTH}")]


def test_a_control_input_takes_the_value_given_from_the_api_and_the_cli(tmp_path, capsys):
    path = vad_like(tmp_path / "vad.onnx")
    report = build(path, values={"sr": 8000}, **FAST)
    assert report.settings["input_shapes"]["sr"] == []
    assert report.settings["inputs"] == "random, seed 0; sr = 8000 (given)"
    assert "input 'sr' = 8000 (given), not random" in report.notes
    plan = plan_inputs(onnx.load(path), values={"sr": 16000})
    from explorer.backends.onnxruntime.inputs import random_inputs
    feeds = random_inputs(onnx.load(path), plan.shapes, 0, plan.values)
    assert feeds["sr"].dtype == np.int64 and feeds["sr"].shape == () and int(feeds["sr"]) == 16000
    with pytest.raises(BuildError, match="holds integers"):
        plan_inputs(onnx.load(path), values={"sr": 0.5})
    with pytest.raises(BuildError, match="no input named"):
        plan_inputs(onnx.load(path), values={"rate": 1})
    assert BuildSettings.make(values={"sr": "16000"}).values == {"sr": 16000}
    assert BuildSettings.from_dict(BuildSettings.make(values={"m": [1, 2]}).to_dict()).values == {"m": [1, 2]}

    from explorer.cli import main
    assert main(["build", str(path), "--backend", "onnxruntime", "--runs", "2", "--warmup", "1",
                 "--input-value", "sr=16000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["inputs"] == "random, seed 0; sr = 16000 (given)"
    assert out["settings"]["input_shapes"] == {"input": [1, 128], "state": [2, 1, 64], "sr": []}
    assert main(["build", str(path), "--input-value", "sr"]) == 2


def test_the_build_tab_prefills_the_sizes_a_build_would_choose(tmp_path):
    import explorer

    app = explorer.Explorer(str(rec_like(tmp_path / "rec.onnx")))
    tab = app.tabs["Build"]
    tab.ensure()  # built and rendered when first shown
    mn, opt, mx = tab.shape_fields["x"]
    assert opt.value == "1x3x48x640" and mn.value == mx.value == ""  # empty min/max: the opt shape
    assert tab.shapes() == {"x": ((1, 3, 48, 640),) * 3}
    assert "image width, default 640" in tab.shapes_box.children[1].children[-1].value


def test_a_long_shape_expression_stays_on_one_line_with_the_whole_text_on_hover(tmp_path):
    import re

    import explorer
    from explorer.html.fragments import model_summary

    expression = "floor((floor((height - 1) / 2) + 1 - 1) / 2) + 1"
    x = h.make_tensor_value_info("images", T.FLOAT, ["batch", 3, "height", "width"])
    y = h.make_tensor_value_info("out", T.FLOAT, ["batch", 8, expression, expression.replace("height", "width")])
    model = h.make_model(h.make_graph([h.make_node("Identity", ["images"], ["out"], name="id")], "g", [x], [y]),
                         opset_imports=[h.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "m.onnx")
    html = model_summary(explorer.load_model(tmp_path / "m.onnx", infer_shapes=False))
    cell = re.search(r"<td class='trex-shape' title='([^']*)' style='([^']*)'>([^<]*)</td></tr></tbody>", html)
    assert cell and expression in cell.group(1) and expression in cell.group(3)
    assert "white-space:nowrap" in cell.group(2) and "text-overflow:ellipsis" in cell.group(2)


def test_the_build_tab_takes_a_control_inputs_value(tmp_path):
    import explorer

    app = explorer.Explorer(str(vad_like(tmp_path / "vad.onnx")))
    try:
        tab = app.tabs["Build"]
        tab.ensure()
        assert set(tab.value_fields) == {"sr"}  # the 0-d int64 input; the audio and state get shape fields
        assert set(tab.shape_fields) == {"input", "state"}
        tab.value_fields["sr"].value = "16000"
        options = tab.options()
        assert options["values"] == {"sr": "16000"}
        options.pop("backend")
        options.update(runs=2, warmup=1)
        assert app.build(backend="onnxruntime", wait=True, timeout=300, **options)
        report = list(app.state.builds.values())[-1].report
        assert report.settings["inputs"] == "random, seed 0; sr = 16000 (given)"
    finally:
        app.close()
