"""`python -m explorer analyze` as a user runs it: human report, --json for pipelines, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_json_output_has_the_promised_keys():
    out = run("analyze", str(SAMPLES / "unsupported_ops.onnx"), "--trt-version", "10.15", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["source"] == "support-matrix 10.15 (prediction)"
    assert data["nodes_total"] == 17
    assert data["nodes_supported"] == sum(1 for n in data["nodes"] if n["supported"])
    assert all(set(p) >= {"supported", "nodes"} for p in data["partitions"])
    assert sum(len(p["nodes"]) for p in data["partitions"]) == data["nodes_total"]
    assert all(set(u) >= {"node", "op", "reason"} and u["reason"] for u in data["unsupported"])
    assert {u["op"] for u in data["unsupported"]} >= {"MyPlugin", "Unique"}  # TopK sorted=0: the parser takes it


def test_min_block_size_and_folding_flags_reach_the_analysis():
    out = run("analyze", str(SAMPLES / "unsupported_ops.onnx"), "--trt-version", "10.15",
              "--min-block-size", "5", "--json")
    data = json.loads(out.stdout)
    assert data["min_block_size"] == 5
    assert all(len(p["nodes"]) >= 5 for p in data["partitions"] if p["supported"])
    out = run("analyze", str(SAMPLES / "dynamic_shapes.onnx"), "--fold-constants", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["folding"]["nodes_before"] == 23


def test_human_report_by_default():
    out = run("analyze", str(SAMPLES / "resnet18.onnx"), "--trt-version", "10.1")
    assert out.returncode == 0, out.stderr
    assert "support-matrix 10.1 (prediction)" in out.stdout
    assert "Partitions" in out.stdout


@pytest.mark.parametrize("content, words", [(b"", "empty"), (b"\x01\x02garbage" * 9, "ONNX"),
                                            (b"{}", "JSON")])
def test_bad_input_exits_2_with_one_error_line(tmp_path, content, words):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    out = run("analyze", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert str(bad) in lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_missing_file_and_bad_version_exit_2(tmp_path):
    out = run("analyze", str(tmp_path / "missing.onnx"))
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "not found" in out.stderr
    out = run("analyze", str(SAMPLES / "resnet18.onnx"), "--trt-version", "7.0")
    assert out.returncode == 2 and out.stderr.startswith("error: ")
