"""What ships for a demo without a GPU: the Tactics tab from the bundled verbose-log format sample."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, REPO

pytestmark = pytest.mark.filterwarnings("ignore::explorer.ExplorerWarning")

SAMPLE = "trt8_tactics_format_sample"


def test_the_build_tab_offers_the_tactics_sample_and_the_tactics_tab_draws_it():
    from explorer.widgets import Explorer

    if not (FIXTURES / f"{SAMPLE}.log").is_file():
        pytest.skip(f"{SAMPLE}.log not in {FIXTURES}")
    app = Explorer(str(REPO / "sample_models" / "resnet18.onnx"), fixtures_dir=str(FIXTURES))
    try:
        app.show("Build")
        tab = app.tabs["Build"]
        assert SAMPLE in [value for _, value in tab.fixture.options]
        tab.fixture.value = SAMPLE
        tab.fixture_button.click()
        build = app.state.current_build
        assert build is not None and build.name == SAMPLE
        chosen = [t for t in build.report.tactics if t.chosen]
        assert len(build.report.tactics) == 13 and chosen  # every tactic the excerpt times, the chosen ones
        assert all(t.source == f"TensorRT build log {SAMPLE}.log" for t in build.report.tactics)
        app.show("Tactics")
        kinds = [f.figure_dict()["layout"].get("meta", {}).get("kind") for f in app.tabs["Tactics"].figures]
        assert "tactics" in kinds, kinds
    finally:
        app.close()

    readme = (FIXTURES / "README.md").read_text()
    assert f"`{SAMPLE}.log`" in readme and "not a measurement" in readme  # its provenance is stated
    assert "NOT a measurement" in (FIXTURES / f"{SAMPLE}.log").read_text().splitlines()[0]
