"""Silent fallback from ONNX Runtime itself, the partitions as .onnx files, and the build as command lines.

Everything here runs for real: ONNX Runtime sessions (``session.record_ep_graph_assignment_info``), the
sample models and onnx's own light models, onnx.checker, Polygraphy's own argument parser (built from the
installed polygraphy's tool registry, as ``polygraphy`` itself builds it). Expected values come from the
artifacts (a session made here, the model's own outputs), never from literals.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import explorer
from explorer.backends.commands import command_lines, polygraphy_command, trtexec_command
from explorer.backends.settings import BuildSettings
from explorer.dtypes import PRECISIONS
from explorer.html.fragments import grouped_unsupported_table
from explorer.support.assignment import RECORD_KEY, TENSORRT_PROVIDERS
from explorer.support.subgraphs import export_subgraphs

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_models"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _ort_listing(path: Path, providers: list[str]) -> list[tuple[str, str]]:
    """(provider, node name) as ONNX Runtime lists them for the model with its nodes named by explorer id."""
    from explorer.model.transforms import name_nodes_by_id

    model = explorer.load_model(path)
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    name_nodes_by_id(proto, model)
    so = ort.SessionOptions()
    so.add_session_config_entry(RECORD_KEY, "1")
    session = ort.InferenceSession(proto.SerializeToString(), so, providers=providers)
    return [(g.ep_name, n.name) for g in session.get_provider_graph_assignment_info() for n in g.get_nodes()]


def _label() -> str:
    return f"ONNX Runtime {'.'.join(ort.__version__.split('.')[:2])} assignment"


def test_onnxruntime_assignment_names_its_source_and_puts_every_resnet18_node_on_the_cpu_provider():
    """With only the CPU provider every node goes to it: a real answer, each node's reason naming it."""
    report = explorer.analyze(SAMPLES / "resnet18.onnx", source="onnxruntime", providers=["CPUExecutionProvider"])
    listing = _ort_listing(SAMPLES / "resnet18.onnx", ["CPUExecutionProvider"])
    assert report.source == _label()
    assert len(report.verdicts) == len(listing)  # ResNet-18: nothing folded, every ONNX node listed by name
    by_name = dict((name, ep) for ep, name in listing)
    for v in report.verdicts:
        assert by_name[v.node] == "CPUExecutionProvider"
        assert not v.supported and v.reason == f"assigned to CPUExecutionProvider ({_label()})"
    assert report.coverage == 0.0 and report.engines == 0
    assert report.assignment.provider_counts() == {"CPUExecutionProvider": len(listing)}
    # the grouped table: one row per operator, counts adding up to the node count
    frame = report.unsupported_frame()
    assert frame["count"].sum() == report.nodes_total
    ops: dict[str, int] = {}
    for v in report.verdicts:
        ops[v.op] = ops.get(v.op, 0) + 1
    assert dict(zip(frame["operator"], frame["count"])) == ops


def test_fused_nodes_map_back_to_their_onnx_nodes_and_folded_ones_say_removed_by_optimization():
    """transformer_encoder: ONNX Runtime fuses MatMul+Add into ``<MatMul>/MatMulAddFusion`` (a Gemm) and turns
    Constant nodes into weights before it assigns providers; both show, from its own listing."""
    path = SAMPLES / "transformer_encoder.onnx"
    report = explorer.analyze(path, source="onnxruntime", providers=["CPUExecutionProvider"])
    listing = {name for _, name in _ort_listing(path, ["CPUExecutionProvider"])}
    model = explorer.load_model(path)
    ids = {n.id for n in model.nodes}
    a = report.assignment
    fused = [n for n in a.nodes if n.providers and n.ort_nodes != (n.node,)]
    assert fused, "ONNX Runtime fuses nodes of this model"
    for n in fused:
        assert set(n.ort_nodes) <= listing
    # the Add of each MatMul+Add lands in the same assigned node as its MatMul
    fusion_names = {name for name in listing if name.endswith("/MatMulAddFusion")}
    assert fusion_names
    for name in fusion_names:
        members = [n for n in a.nodes if name in n.ort_nodes]
        assert sorted(model.node(m.node).op_type for m in members) == ["Add", "MatMul"], (name, members)
    removed = [n for n in a.nodes if not n.providers]
    assert removed and all(n.removed.startswith("removed by optimization") for n in removed)
    assert {model.node(n.node).op_type for n in removed} >= {"Constant"}
    for n in removed:
        assert report.verdict(n.node).reason.startswith("removed by optimization")
    # every name ONNX Runtime listed stands for ONNX nodes, or is one ONNX Runtime made (inserted)
    covered = {name for n in a.nodes for name in n.ort_nodes}
    assert listing == covered | set(a.inserted)
    assert not (set(a.inserted) & ids)


def test_assignment_with_every_provider_this_onnxruntime_has():
    """Every provider available here, in ONNX Runtime's order; the answer says which ones took nodes."""
    providers = ort.get_available_providers()
    report = explorer.analyze(SAMPLES / "resnet18.onnx", source="onnxruntime", providers=providers)
    listing = _ort_listing(SAMPLES / "resnet18.onnx", providers)
    assert report.assignment.providers == providers
    counts: dict[str, int] = {}
    for ep, _ in listing:
        counts[ep] = counts.get(ep, 0) + 1
    assert report.assignment.provider_counts() == counts
    in_trt = sum(c for ep, c in counts.items() if ep in TENSORRT_PROVIDERS)
    assert report.nodes_supported == in_trt


def test_light_model_assignment_covers_every_node():
    path = LIGHT / "light_squeezenet.onnx"
    report = explorer.analyze(path, source="onnxruntime", providers=["CPUExecutionProvider"])
    assert report.nodes_total == len(explorer.load_model(path).nodes)
    assert all(v.reason.endswith(f"({_label()})") for v in report.verdicts)


def test_a_provider_onnxruntime_does_not_have_is_a_clear_error():
    with pytest.raises(explorer.ExplorerError, match="has no TensorrtExecutionProvider"):
        explorer.analyze(SAMPLES / "resnet18.onnx", source="onnxruntime", providers=["TensorrtExecutionProvider"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)


def test_cli_analyze_source_onnxruntime_matches_the_library():
    out = _cli("analyze", str(SAMPLES / "resnet18.onnx"), "--source", "onnxruntime", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    report = explorer.analyze(SAMPLES / "resnet18.onnx", source="onnxruntime")
    assert data["source"] == report.source == _label()
    assert data["assignment"]["subgraphs"] == json.loads(report.assignment.to_json())["subgraphs"]


# ------------------------------------------------------------------------------- subgraphs as .onnx files

def _random_feeds(session, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


@pytest.mark.parametrize("path, source", [(SAMPLES / "int8_qdq_asymmetric_uint8.onnx", "matrix"),
                                          (SAMPLES / "resnet18.onnx", "onnxruntime"),
                                          (LIGHT / "light_squeezenet.onnx", "matrix")])
def test_exported_subgraphs_pass_the_checker_run_and_chain_to_the_full_models_outputs(tmp_path, path, source):
    model = explorer.load_model(path)
    report = explorer.analyze(model, source=source)
    written = export_subgraphs(model, report, str(tmp_path))
    assert [s.partition for s in written] == [p.index for p in report.partitions]
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{'supported' if p.supported else 'unsupported'}_subgraph-{p.index}.onnx" for p in report.partitions)
    whole = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = _random_feeds(whole)
    expected = dict(zip([o.name for o in whole.get_outputs()], whole.run(None, feeds)))
    values = dict(feeds)
    for s in written:
        onnx.checker.check_model(s.path, full_check=True)
        assert len(onnx.load(s.path).graph.node) == s.nodes
        part = ort.InferenceSession(s.path, providers=["CPUExecutionProvider"])
        assert [i.name for i in part.get_inputs()] == list(s.inputs)
        values.update(zip(s.outputs, part.run(None, {k: values[k] for k in s.inputs})))
    for name, value in expected.items():
        np.testing.assert_array_equal(values[name], value)
    if source == "matrix":
        assert len(written) == len(report.partitions) and (len(written) > 1 or path.name.startswith("light"))


def test_cli_export_subgraphs(tmp_path):
    out = _cli("analyze", str(SAMPLES / "int8_qdq_asymmetric_uint8.onnx"), "--source", "matrix",
               "--export-subgraphs", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [Path(s["path"]).name for s in data["subgraphs"]] == [
        f"{'supported' if p['supported'] else 'unsupported'}_subgraph-{p['index']}.onnx" for p in data["partitions"]]
    for s in data["subgraphs"]:
        onnx.checker.check_model(s["path"])


# ------------------------------------------------------------------------------------- command lines

SETTINGS = dict(precision="fp16", shapes={"in put": ((1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8)),
                                          "ids:0": ((1, 16), (1, 64), (1, 128)), "scale": ((), (), ())},
                workspace=1 << 30, tactic_shared_memory=48 << 10, timing_cache="/tmp/my cache.bin", runs=30,
                opt_level=4)
MODEL_PATH = "/tmp/a model's dir/m.onnx"


def _trtexec_options(argv: list[str]) -> dict[str, str]:
    assert argv[0] == "trtexec"
    out = {}
    for arg in argv[1:]:
        assert arg.startswith("--"), arg
        key, _, value = arg[2:].partition("=")
        out[key] = value
    return out


def _trtexec_shapes(value: str) -> dict[str, tuple[int, ...]]:
    """A --minShapes value read the way trtexec reads it, after its public source (TensorRT's
    samples/common/sampleOptions.cpp: ``getShapesBuild`` splits at ',', ``splitNameAndValue`` takes a
    single-quoted name or splits at the last ':', ``removeSingleQuotationMarks``, dims split at 'x' or
    ``scalar``). Written here because trtexec itself cannot run on this machine."""
    out = {}
    for item in value.split(","):
        quoted = item.split("'")
        if len(quoted) != 1:
            assert len(quoted) == 3, f"trtexec refuses {item!r}: quotes must pair"
            name, dims = quoted[0] + quoted[1], quoted[2][1:]
        else:
            name, _, dims = item.rpartition(":")
        out[name.replace("'", "")] = () if dims == "scalar" else tuple(int(d) for d in dims.split("x"))
    return out


@pytest.mark.parametrize("version", ["10", "11"])
def test_trtexec_lines_parse_with_shlex_and_carry_the_settings(version):
    settings = BuildSettings.make(**SETTINGS)
    command = trtexec_command(settings, MODEL_PATH, version=version)
    argv = shlex.split(command.text)
    assert argv == list(command.argv)
    opts = _trtexec_options(argv)
    assert opts["onnx"] == MODEL_PATH
    for key, index in (("minShapes", 0), ("optShapes", 1), ("maxShapes", 2)):
        assert _trtexec_shapes(opts[key]) == {name: triple[index] for name, triple in settings.shapes.items()}
    assert opts["memPoolSize"] == "workspace:1G,tacticSharedMem:48K"
    assert opts["builderOptimizationLevel"] == str(settings.opt_level)
    assert opts["timingCacheFile"] == settings.timing_cache
    assert opts["iterations"] == str(settings.runs)
    if version == "10":
        assert "fp16" in opts
    else:  # strongly typed: no precision flags at all, and a note saying why
        assert not {"fp16", "bf16", "int8", "fp8", "best"} & set(opts)
        assert any("strongly typed" in n for n in command.notes)


def _polygraphy_parse(argv: list[str]):
    """Polygraphy's own parser: the installed tool registry's subtools, as ``polygraphy`` sets them up."""
    from polygraphy.tools.registry import TOOL_REGISTRY

    parser = argparse.ArgumentParser(prog="polygraphy")
    sub = parser.add_subparsers(title="Tools", dest="tools")
    for tool in TOOL_REGISTRY:
        tool.setup_parser(sub)
    args, unknown = parser.parse_known_args(argv[1:])
    assert unknown == [], unknown
    args.subcommand.parse(args)  # the tool's own argument groups read their values (shapes, pools, ...)
    return args


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("mode", ["run", "convert"])
def test_polygraphy_lines_are_accepted_by_polygraphys_own_parser(mode, precision):
    from polygraphy.tools.args import ModelArgs, TrtConfigArgs

    settings = BuildSettings.make(**{**SETTINGS, "precision": precision})
    command = polygraphy_command(settings, MODEL_PATH, mode=mode)
    argv = shlex.split(command.text)
    assert argv[:2] == ["polygraphy", mode]
    args = _polygraphy_parse(argv)
    tool = args.subcommand
    assert tool.arg_groups[ModelArgs].path == MODEL_PATH
    config = tool.arg_groups[TrtConfigArgs]
    for flag in ("fp16", "bf16", "int8", "fp8"):
        assert bool(getattr(config, flag)) is (flag == precision), flag  # unset flags are None or False
    assert config.builder_optimization_level == settings.opt_level
    (profile,) = config.profile_dicts
    assert {name: tuple(tuple(s) for s in triple) for name, triple in profile.items()} == settings.shapes
    assert sorted(config.memory_pool_limits.values()) == sorted([settings.workspace, settings.tactic_shared_memory])


def test_a_name_trtexec_cannot_carry_gets_a_note_not_a_wrong_line():
    settings = BuildSettings.make(shapes={"a,b": "1x4"})
    command = trtexec_command(settings, "m.onnx")
    assert any("'a,b'" in n and "cannot take the shapes" in n for n in command.notes)
    polygraphy = polygraphy_command(settings, "m.onnx", mode="convert")
    from polygraphy.tools.args import TrtConfigArgs

    config = _polygraphy_parse(shlex.split(polygraphy.text)).subcommand.arg_groups[TrtConfigArgs]
    assert config.profile_dicts[0]["a,b"] == ([1, 4], [1, 4], [1, 4])  # Polygraphy can


def test_cli_print_commands_is_the_librarys(tmp_path):
    out = _cli("build", str(SAMPLES / "resnet18.onnx"), "--precision", "fp16", "--workspace", "512M",
               "--print-commands", "--json")
    assert out.returncode == 0, out.stderr
    settings = BuildSettings.make(precision="fp16", workspace=512 << 20)
    assert json.loads(out.stdout)["commands"] == [c.to_dict() for c in
                                                  command_lines(settings, str(SAMPLES / "resnet18.onnx"))]


# ------------------------------------------------------------------------------------- the grouped table

def test_grouped_table_escapes_names_and_shows_the_librarys_counts():
    report = explorer.analyze(SAMPLES / "hostile_names.onnx", source="onnxruntime")
    html = grouped_unsupported_table(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    for row in report.unsupported_frame().itertuples():
        assert f"<td>{row.count}</td>" in html


def test_background_assignment_gives_the_same_answer_and_can_be_cancelled():
    from explorer.support import AnalysisCancelled, start_analysis

    model = explorer.load_model(SAMPLES / "resnet18.onnx")
    job = start_analysis(model, source="onnxruntime")
    report = job.result(300)
    assert job.progress.startswith(f"done: {_label()}")
    direct = explorer.analyze(model, source="onnxruntime")
    assert [v.reason for v in report.verdicts] == [v.reason for v in direct.verdicts]
    job = start_analysis(model, source="onnxruntime")
    job.cancel()  # at once: the child is still starting
    with pytest.raises(AnalysisCancelled):
        job.result(300)


def test_a_model_onnxruntime_cannot_load_is_a_model_error_naming_the_file():
    """unsupported_ops.onnx holds a custom op (com.example:MyPlugin) this ONNX Runtime has no kernel for."""
    path = SAMPLES / "unsupported_ops.onnx"
    with pytest.raises(explorer.ModelError, match="not a registered function/op") as info:
        explorer.analyze(path, source="onnxruntime")
    assert str(path) in str(info.value)


def test_build_tab_command_lines_are_escaped_and_are_the_librarys():
    import html as html_lib
    import re

    from explorer.widgets.tabs.build import commands_html

    opts = {"backend": "auto", "precision": "int8", "runs": 7, "warmup": 0,
            "shapes": {"<img src=x onerror=alert(1)>": ((1, 4), (2, 4), (3, 4))}}
    page = commands_html(opts, "/tmp/<b>model</b>.onnx")
    assert "<img" not in page and "<b>model" not in page
    shown = [html_lib.unescape(m) for m in re.findall(r"<pre class='command-line'[^>]*>(.*?)</pre>", page, re.S)]
    settings = BuildSettings.make(precision="int8", runs=7, warmup=0, shapes=opts["shapes"])
    assert shown == [c.text for c in command_lines(settings, "/tmp/<b>model</b>.onnx")]


def test_if_loop_body_nodes_carry_onnxruntimes_assignment_too():
    """control_flow.onnx: ONNX Runtime lists the nodes inside the If's branches and the Loop's body by their
    names there; each body node's verdict carries it, and the body Constants are "removed by optimization"."""
    path = SAMPLES / "control_flow.onnx"
    report = explorer.analyze(path, source="onnxruntime", providers=["CPUExecutionProvider"])
    listing = {name for _, name in _ort_listing(path, ["CPUExecutionProvider"])}
    a = report.assignment
    assert a.bodies and set(a.bodies) <= listing
    children = [c for v in report.verdicts for c in v.children]
    assert report.body_nodes == len(children) > 0
    model = explorer.load_model(path)
    for c in children:
        node = next(n for v in model.nodes for body in v.subgraphs.values() for n in body.walk() if n.id == c.node)
        local = c.node[len(node.parent) + 1:]
        if local in a.bodies:
            assert c.reason == f"assigned to CPUExecutionProvider ({_label()})"
        else:
            assert node.op_type == "Constant" and c.reason.startswith("removed by optimization")
    covered = {name for n in a.nodes for name in n.ort_nodes}
    assert listing == covered | set(a.bodies) | set(a.inserted)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_trtexec_precision_flags_per_version(precision):
    settings = BuildSettings.make(precision=precision)
    ten = _trtexec_options(shlex.split(trtexec_command(settings, "m.onnx", version="10").text))
    eleven = _trtexec_options(shlex.split(trtexec_command(settings, "m.onnx", version="11.4").text))
    flags = {"fp16", "bf16", "int8", "fp8"}
    assert flags & set(ten) == ({precision} - {"fp32"})
    assert not flags & set(eleven)
    with pytest.raises(explorer.ExplorerError, match="TensorRT 10.x and 11.x"):
        trtexec_command(settings, "m.onnx", version="9.3")


def test_stand_in_tensorrt_provider_answer_makes_supported_nodes_and_engines():
    """Stand-in: ONNX Runtime's TensorRT provider cannot run here (no GPU, no onnxruntime-gpu), so this takes
    the real CPU answer for ResNet-18 and relabels the subgraphs of the first 20 nodes and of the last 10 as
    TensorrtExecutionProvider's - the shape a TensorRT-provider session's answer has (same dataclass, same
    names) - to check what the explorer makes of such an answer: those nodes supported, two engines."""
    import dataclasses

    from explorer.support.analysis import _partitions
    from explorer.support.analysis import verdicts_from_assignment
    from explorer.support.assignment import AssignedSubgraph, EpAssignment

    model = explorer.load_model(SAMPLES / "resnet18.onnx")
    real = explorer.analyze(model, source="onnxruntime", providers=["CPUExecutionProvider"]).assignment
    ids = [n.id for n in model.nodes]
    on_trt = set(ids[:20]) | set(ids[-10:])
    trt = "TensorrtExecutionProvider"
    relabelled = EpAssignment(
        ort_version=real.ort_version, providers=[trt, "CPUExecutionProvider"],
        optimization_level=real.optimization_level,
        subgraphs=[AssignedSubgraph(trt if set(s.nodes) <= on_trt else s.provider, s.nodes, s.ops)
                   for s in real.subgraphs],
        nodes=[dataclasses.replace(n, providers=(trt,)) if n.node in on_trt else n for n in real.nodes])
    verdicts = verdicts_from_assignment(model, EpAssignment.from_json(relabelled.to_json()))
    assert [v.node for v in verdicts if v.supported] == [i for i in ids if i in on_trt]
    assert all(v.reason.startswith("assigned to CPUExecutionProvider") for v in verdicts if not v.supported)
    partitions = _partitions(model, verdicts, 1, False)
    assert [p.supported for p in partitions] == [True, False, True]
    assert any("gave TensorRT 30 subgraphs" in n for n in relabelled.notes())
