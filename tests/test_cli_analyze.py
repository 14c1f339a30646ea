"""`python -m explorer analyze` as a user runs it: human report, --json for pipelines, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import explorer
from conftest import REPO, SAMPLES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_json_output_has_the_promised_keys():
    out = run("analyze", str(SAMPLES / "unsupported_ops.onnx"), "--trt-version", "10.15", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["schema"] == 2
    assert data["source"] == "support-matrix 10.15 (prediction)"
    assert data["nodes_total"] == 17 == len(data["nodes"])
    assert data["nodes_supported"] == sum(1 for n in data["nodes"] if n["supported"])
    assert all(set(p) >= {"supported", "members", "size"} for p in data["partitions"])
    members = sorted(i for p in data["partitions"] for i in p["members"])
    assert members == list(range(data["nodes_total"]))  # every node in exactly one partition
    for p in data["partitions"]:
        assert {data["nodes"][i]["partition"] for i in p["members"]} == {p["index"]}
    assert all(set(u) >= {"op", "reason", "members"} and u["reason"] for u in data["unsupported"])
    assert {u["op"] for u in data["unsupported"]} >= {"MyPlugin", "Unique"}  # TopK sorted=0: the parser takes it
    unsupported = [n for n in data["nodes"] if not n["supported"]]
    assert sorted(i for u in data["unsupported"] for i in u["members"]) == [
        i for i, n in enumerate(data["nodes"]) if not n["supported"]]
    # every reason is a text of the table, and it is the text the library's report gives
    report = explorer.analyze(SAMPLES / "unsupported_ops.onnx", trt_version="10.15")
    by_id = {v.node: v for v in report.verdicts}
    for n in unsupported:
        assert "; ".join(data["strings"][i] for i in n["reasons"]) == by_id[n["node"]].reason
    assert [n.get("name", n["node"]) for n in data["nodes"]] == [v.name for v in report.verdicts]


def test_json_is_the_library_report_and_compact():
    """The command writes (streamed, compact) exactly what ``SupportReport.to_dict`` holds."""
    path = SAMPLES / "control_flow.onnx"
    out = run("analyze", str(path), "--trt-version", "10.15", "--json")
    assert out.returncode == 0, out.stderr
    report = explorer.analyze(path, trt_version="10.15")
    assert json.loads(out.stdout) == json.loads(json.dumps(report.to_dict()))
    assert json.loads(report.to_json()) == json.loads(json.dumps(report.to_dict()))
    assert out.stdout.count("\n") == 1  # one line: no indentation
    children = [c for n in json.loads(out.stdout)["nodes"] for c in n.get("children", ())]
    assert len(children) == report.body_nodes > 0


def test_min_block_size_and_folding_flags_reach_the_analysis():
    out = run("analyze", str(SAMPLES / "unsupported_ops.onnx"), "--trt-version", "10.15",
              "--min-block-size", "5", "--json")
    data = json.loads(out.stdout)
    assert data["min_block_size"] == 5
    assert all(len(p["members"]) == p["size"] >= 5 for p in data["partitions"] if p["supported"])
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
