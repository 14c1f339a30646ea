"""The HTML report of a whole session: only the model on screen, compact, static plots, true numbers.

One session through the app's state (two models, fixtures imported for each, a real ONNX Runtime build),
exported once; the tests read the written file back.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import math
import re
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO
from explorer.trt import TENSORRT_RTX, available

SAMPLES = REPO / "sample_models"
pytestmark = [pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning"),
              pytest.mark.skipif(not (FIXTURES / "a100_resnet_fp32.graph.json").is_file(),
                                 reason=f"TensorRT fixtures not found at {FIXTURES}")]

#: the most a typical session's report may weigh (plotly.js inline included)
MAX_BYTES = 3 * 2**20


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """transformer + the QAT fixture, then resnet18 + fp32 and fp16 fixtures + an ONNX Runtime build."""
    from explorer.widgets.state import ExplorerState
    from explorer.widgets.tabs.export import write_session_report

    st = ExplorerState(fixtures_dir=FIXTURES)
    assert st.load(str(SAMPLES / "transformer_encoder.onnx"))
    assert st.import_fixture("a100_resnet_qat") is not None
    assert st.load(str(SAMPLES / "resnet18.onnx"))
    assert st.import_fixture("a100_resnet_fp32") is not None
    assert st.import_fixture("a100_resnet_fp16") is not None
    assert st.start_build(backend="onnxruntime", precision="fp32", runs=20, name="ort fp32")
    status = st.wait_build(600)
    assert status.state == "done", status.message
    path = write_session_report(st, str(tmp_path_factory.mktemp("report") / "session.html"),
                                chosen=("a100_resnet_fp16", "ort fp32"))
    text = Path(path).read_text(encoding="utf-8")
    yield st, path, text
    st.close()


def _payload(text: str) -> dict:
    block = re.search(r"<script type='application/json' id='trex-figures'>(.*?)</script>", text, re.S).group(1)
    return json.loads(block)


def _figures(text: str, kind: str) -> list[dict]:
    return [f for f in _payload(text)["figures"] if f.get("layout", {}).get("meta", {}).get("kind") == kind]


def test_the_report_holds_the_current_model_and_its_builds_only(session):
    st, _, text = session
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings == ["Model", "Partitions", "Fusions", "Build: a100_resnet_fp32", "Build: a100_resnet_fp16",
                        "Build: ort fp32", "Compare"]
    assert "a100_resnet_qat" in text  # named once, in the note that says it is left out...
    assert "Build: a100_resnet_qat" not in text and text.count("a100_resnet_qat") == 1  # ...and nowhere else
    assert "1 build(s) of other models" in text
    # the comparison chosen in the Compare tab, and no other
    assert re.findall(r"<h3>([^<]*) vs ([^<]*)</h3>", text) == [("a100_resnet_fp16", "ort fp32")]
    assert text.count("transformer_encoder") == 0


def test_the_report_is_small_static_and_self_contained(session):
    _, path, text = session
    assert Path(path).stat().st_size <= MAX_BYTES
    assert re.search(r"<script[^>]*\ssrc=", text) is None  # nothing fetched when it opens
    assert "cdn.plot.ly" not in text
    payload = _payload(text)
    types = {t.get("type") for f in payload["figures"] for t in f.get("data", [])}
    assert "scattergl" not in types and not any("gl" in (t or "") for t in types)  # SVG only: no WebGL context
    assert all("customdata" not in t for f in payload["figures"] for t in f.get("data", []))
    assert len(payload["templates"]) <= 2 < len(payload["figures"])  # each template once, not per figure
    assert "click to expand" not in text and "click a box" not in text
    config = payload["config"]
    assert config["displaylogo"] is False and config["showSendToCloud"] is False
    assert config["showEditInChartStudio"] is False
    # plotly.js is in the file once, compressed
    packed = re.search(r"id='trex-plotlyjs'>([A-Za-z0-9+/=]+)</script>", text).group(1)
    from plotly.offline import get_plotlyjs

    assert gzip.decompress(base64.b64decode(packed)).decode("utf-8") == get_plotlyjs()
    assert text.count("id='trex-plotlyjs'") == 1


def test_the_reports_numbers_are_the_librarys(session):
    from explorer.plots.memory import memory_categories, network_mismatch

    st, _, text = session
    builds = {b.name: b for b in st.builds.values()}
    bars = _figures(text, "latency_bar")
    assert len(bars) == 3
    for fig, name in zip(bars, ["a100_resnet_fp32", "a100_resnet_fp16", "ort fp32"]):
        report = builds[name].report
        drawn = sorted(y for trace in fig["data"] for y in trace["y"])
        library = sorted(layer.latency_ms or 0.0 for layer in report.layers)
        assert len(drawn) == len(library)
        assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9) for a, b in zip(drawn, library))
    totals = _figures(text, "memory_totals")
    for fig, name in zip(totals, ["a100_resnet_fp32", "a100_resnet_fp16", "ort fp32"]):
        rows = memory_categories(builds[name].report)
        assert list(fig["data"][0]["x"]) == [r["category"] for r in rows]
        for y, row in zip(fig["data"][0]["y"], rows):
            expected = row["bytes"] / 2**20 if row["bytes"] is not None else 0.0
            assert math.isclose(y, expected, rel_tol=1e-5, abs_tol=1e-12)
    ort = builds["ort fp32"].report
    e2e = ort.end_to_end
    assert f"mean {e2e.latency.mean:.4f} ms, p99 {e2e.latency.p99:.4f} ms over {e2e.count} inferences" in text
    # the ONNX Runtime build's measured arena peak is drawn (it was only cited before)
    ort_rows = memory_categories(ort)
    peak = [r for r in ort_rows if r["category"] == "peak CPU memory in use"]
    assert peak and peak[0]["bytes"] == ort.memory.engine_totals["peak_cpu_bytes"]
    assert "CPU arena" in peak[0]["source"]
    assert "peak CPU memory in use" in totals[2]["data"][0]["x"]
    # the activations' source is the trace's shapes, not the timing calibration
    acts = [r for r in ort_rows if r["category"].startswith("activations (all")][0]
    assert "profiler trace" in acts["source"] and "overhead" not in acts["source"]
    # the A100 fixtures are another (wider) ResNet than the sample: said in the report; the real build is not
    assert network_mismatch(st.model, builds["a100_resnet_fp32"].report)
    assert network_mismatch(st.model, ort) is None
    assert text.count("This engine is not the loaded model&#x27;s network") == 2


def test_default_report_path_is_ignored_by_git(tmp_path, monkeypatch):
    import subprocess

    from explorer.widgets.state import ExplorerState
    from explorer.widgets.tabs.export import default_report_path

    st = ExplorerState()
    assert st.load(str(SAMPLES / "unsupported_ops.onnx"))
    path = default_report_path(st)
    assert path == str(Path("explorer-reports") / "unsupported_ops.report.html")
    for where in ("notebooks", "."):
        r = subprocess.run(["git", "check-ignore", "-q", str(Path(where) / path)], cwd=REPO)
        assert r.returncode == 0, f"{where}/{path} is not ignored by git"
    st.close()


def test_file_link_only_inside_the_lab_root(tmp_path, monkeypatch):
    from explorer.widgets.tabs.export import LAB_ROOT_ENV, file_link

    monkeypatch.delenv(LAB_ROOT_ENV, raising=False)
    assert file_link(str(tmp_path / "a.html")) is None
    monkeypatch.setenv(LAB_ROOT_ENV, str(tmp_path))
    assert file_link(str(tmp_path / "notebooks" / "explorer-reports" / "my model.report.html")) == \
        "/files/notebooks/explorer-reports/my%20model.report.html"
    assert file_link("/elsewhere/a.html") is None


def test_engines_with_only_the_chosen_tactics_show_the_choice_not_an_empty_timing_plot(session):
    from explorer.plots.tactics import chosen_only_message, chosen_tactics

    st, _, text = session
    builds = {b.name: b for b in st.builds.values()}
    chosen = _figures(text, "chosen_tactics")
    assert len(chosen) == 2  # the two A100 fixtures: layer information without a verbose log
    for fig, name in zip(chosen, ["a100_resnet_fp32", "a100_resnet_fp16"]):
        report = builds[name].report
        assert f"Tactic TensorRT chose per layer: {name}: " in fig["layout"]["title"]["text"]
        rows = chosen_tactics(report)
        library = sorted(r.median_ms if r.median_ms is not None else r.average_ms for r in rows
                         if r.median_ms is not None or r.average_ms is not None)[-80:]
        drawn = sorted(x for trace in fig["data"] for x in trace["x"])
        assert len(drawn) == len(library) > 0
        assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9) for a, b in zip(drawn, library))
        assert html.escape(chosen_only_message(report), quote=True) in text
    assert "No tactic timings exist for this source: tactic timings come from a verbose" not in text
    empty = [f["layout"]["meta"]["message"] for f in _figures(text, "empty")]
    assert any(m.startswith("No tactic timings exist for this source: ONNX Runtime") for m in empty)


@pytest.mark.skipif(not available(require_gpu=False, library=TENSORRT_RTX)[0], reason="TensorRT-RTX is not installed")
def test_a_tensorrt_rtx_build_still_says_it_times_no_tactics():
    import explorer
    from explorer.html import report_html

    model = explorer.load_model(SAMPLES / "resnet18.onnx")
    report = explorer.build(str(SAMPLES / "resnet18.onnx"), backend="tensorrt-rtx", runs=1, warmup=0)
    text = report_html(model, engine_reports=[("rtx", report)], include_plotlyjs=False)
    assert not _figures(text, "chosen_tactics")
    empty = [f["layout"]["meta"]["message"] for f in _figures(text, "empty")]
    assert any("No tactic timings exist for this source: TensorRT-RTX 1.7.1 AOT (SM86) times no tactics" in m
               for m in empty), empty
