"""``python -m explorer inspect`` and ``fusions`` as a user runs them (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SAMPLES

LOGS = Path(__file__).parent / "data" / "logs"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample model {name} not generated yet")
    return path


def test_inspect_json(fixtures_dir):
    f = fixtures_dir
    proc = _run("inspect", "--graph", f / "a100_resnet_fp32.graph.json", "--profile", f / "a100_resnet_fp32.profile.json",
                "--times", f / "a100_resnet_fp32.timing.json", "--log", LOGS / "trt10.log",
                "--model", _sample("resnet18.onnx"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    profile = json.loads((f / "a100_resnet_fp32.profile.json").read_text())
    assert len(data["layers"]) == 32
    assert data["latency_ms_total"] == pytest.approx(sum(r["averageMs"] for r in profile if "name" in r))
    first = data["layers"][0]
    assert (first["name"], first["type"], first["precision"]) == ("Conv_0 + Relu_1", "CaskConvolution", "FP32")
    assert first["onnx_nodes"] == ["Conv_0", "Relu_1"] and first["latency_ms"] == 0.52224
    assert first["tactic"] == "ampere_scudnn_128x64_relu_xregs_large_nn_v1"
    assert all({"layer", "tactic", "time_ms", "chosen"} <= set(t) for t in data["tactics"])
    assert sum(t["chosen"] for t in data["tactics"]) == 2
    memory = data["memory"]
    assert memory["weights_bytes"] == 46738848
    assert memory["total_activation_bytes"] == 2478873600  # the log's engine figure
    assert memory["layers"][0] == {"layer": "/features/features.0/Conv + /features/features.1/Relu",
                                   "host_persistent": 2400, "device_persistent": 0, "scratch": 0}
    assert memory["provenance"]["total_activation_bytes"] == "TensorRT build log trt10.log"
    assert data["sources"][0] == "trtexec --exportLayerInfo a100_resnet_fp32.graph.json"
    assert data["mapping"]["vanished"] == ["Flatten_47"]


def test_inspect_table(fixtures_dir):
    f = fixtures_dir
    proc = _run("inspect", "--graph", f / "a100_resnet_fp16.graph.json", "--profile", f / "a100_resnet_fp16.profile.json",
                "--log", LOGS / "trt8.log")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Engine: 36 layers (trtexec --exportLayerInfo a100_resnet_fp16.graph.json)" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("#"))
    for column in ("Layer", "Type", "Precision", "Latency ms", "%", "Tactic"):
        assert column in header
    assert "Total latency   1.0168 ms per inference" in out
    assert "Memory" in out and "weights" in out and "device persistent" in out
    assert "Tactics" in out and "sources:" in out


def test_inspect_log_only_shows_tactics_per_layer():
    proc = _run("inspect", "--log", LOGS / "trt7.log")
    assert proc.returncode == 0, proc.stderr
    assert "Tactics per layer (TensorRT build log trt7.log)" in proc.stdout
    assert "maxwell_scudnn_128x64_relu_large_nn_v1" in proc.stdout


@pytest.mark.parametrize("case", ["missing", "truncated", "wrong-tool", "not-a-log", "nothing", "bad-model"])
def test_inspect_bad_input_is_one_error_line(case, fixtures_dir, tmp_path):
    graph = fixtures_dir / "a100_resnet_fp32.graph.json"
    if case == "missing":
        args, expected = ["--graph", tmp_path / "none.json"], "file not found"
    elif case == "truncated":
        cut = tmp_path / "cut.json"
        cut.write_text(graph.read_text()[:5000])
        args, expected = ["--graph", cut], "truncated JSON"
    elif case == "wrong-tool":
        args, expected = ["--profile", graph], "--exportLayerInfo"
    elif case == "not-a-log":
        text = tmp_path / "readme.txt"
        text.write_text("hello\nworld\n")
        args, expected = ["--log", text], "not a TensorRT log"
    elif case == "nothing":
        args, expected = [], "nothing to read"
    else:
        bad = tmp_path / "model.onnx"
        bad.write_bytes(b"\x00garbage")
        args, expected = ["--graph", graph, "--model", bad], "model.onnx"
    proc = _run("inspect", *args, "--json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert proc.stdout == ""


def test_fusions_json():
    proc = _run("fusions", _sample("resnet18.onnx"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["source"] == "fusion-rules (prediction)"
    assert all({"kind", "rule", "nodes"} <= set(g) for g in data["fusions"])
    assert {"kind": "convolution", "rule": "Conv + Relu", "nodes": ["Conv_0", "Relu_1"], "weights": [
        "onnx::Conv_193", "onnx::Conv_194"]} == data["fusions"][0]
    assert sum(len(g["nodes"]) for g in data["fusions"]) == 49


def test_fusions_table_with_engine_comparison(fixtures_dir):
    proc = _run("fusions", _sample("resnet18_qat.onnx"), "--graph", fixtures_dir / "a100_resnet_qat.graph.json")
    assert proc.returncode == 0, proc.stderr
    assert "predicted groups (fusion-rules (prediction))" in proc.stdout
    graph = fixtures_dir / "a100_resnet_qat.graph.json"
    assert (f"Against the engine: prediction (TensorRT's documented fusion patterns) vs engine ({graph}): 21 of 21 "
            "predicted fusions (groups of 2+ nodes) are engine layers") in proc.stdout
    assert "recall 100%; not scored: 121 single-node predictions, 12 single-node engine layers" in proc.stdout


def test_fusions_bad_model(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_text('{"not": "onnx"}')
    proc = _run("fusions", bad)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "x.onnx" in lines[0]


def test_report_with_an_onnxruntime_build(fixtures_dir, tmp_path):
    """``report --build onnxruntime[:precision]``: the build made here is a section of the report."""
    import re

    out = tmp_path / "r.report.html"
    proc = subprocess.run([sys.executable, "-m", "explorer", "report", str(_sample("resnet18.onnx")), "-o", str(out), "--graph", str(fixtures_dir / "a100_resnet_fp32.graph.json"),
                           "--label", "trt fp32", "--build", "onnxruntime", "--runs", "5", "--warmup", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "2 engine(s)" in proc.stdout
    text = out.read_text(encoding="utf-8")
    assert re.findall(r"<h2>Build: ([^<]*)</h2>", text) == ["trt fp32", "onnxruntime fp32"]
    assert "ONNX Runtime" in text and re.findall(r"<h3>([^<]*) vs ([^<]*)</h3>", text) == [
        ("trt fp32", "onnxruntime fp32")]


@pytest.mark.parametrize("value, word", [("cuda", "backend"), ("onnxruntime:fp99", "precision")])
def test_report_bad_build_is_one_error_line(value, word, tmp_path):
    proc = _run("report", _sample("resnet18.onnx"), "-o", tmp_path / "x.html", "--build", value)
    assert proc.returncode != 0 and not (tmp_path / "x.html").exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and word in lines[0] and value in lines[0]
