"""Artifacts users already have, loaded in the app (issue 14 item 1), in real JupyterLab + Chromium.

In the Build tab's import form, "Folder / file" takes a trtexec log with its --dumpProfile table
(tests/data/logs/trtexec_dumpprofile_a100_fp32.log: the real A100 fp32 exportProfile numbers in trtexec's
printed layout) and then a TREx-layout folder (tests/fixtures/trt: three real A100 engines, one build each).
The Layers tab shows the same per-inference total the library computes from the same files. Generous waits
on states that persist, no timed assertion.
"""

from __future__ import annotations

import pytest

from browser_util import REPO, NotebookPage, chromium_available, lab_and_page, lab_env, open_tab, prepare_root

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

FIXTURES = REPO / "tests" / "fixtures" / "trt"
DUMP_LOG = REPO / "tests" / "data" / "logs" / "trtexec_dumpprofile_a100_fp32.log"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    root = prepare_root(tmp_path_factory.mktemp("lab"))
    env = lab_env()
    env["EXPLORER_FIXTURES"] = str(FIXTURES)
    with lab_and_page(root, env=env, width=1400) as (lab, page):
        yield NotebookPage(page, lab, "notebooks/explorer.ipynb").open(), page.explorer_errors


def _import_path(page, path) -> None:
    open_tab(page, "Build")
    app = page.locator(".trex-app")
    app.locator(".widget-text:has(label:text-is('Folder / file')) input").fill(str(path))
    app.locator("button:text-is('Import')").click()


def _wait_total(page, total_ms: float) -> None:
    """The Layers tab's head shows this total (it names the build last, after its plots and table)."""
    open_tab(page, "Layers")
    page.wait_for_function("""(want) => [...document.querySelectorAll('.trex-app .trex-layers-total')]
                                 .some(el => el.offsetParent !== null && el.dataset.totalMs === want)""",
                           arg=f"{total_ms:.6f}", timeout=120_000)


def test_dump_profile_log_and_trex_folder_in_the_layers_tab(page):
    from explorer.engine import list_engines, load_report

    nb, errors = page
    p = nb.page
    nb.run_all()
    p.locator(".trex-app").wait_for(state="visible", timeout=90_000)
    where = nb.add_and_run("import explorer; print(explorer.__file__)")
    assert str(REPO / "explorer") in where, where  # this tree's explorer

    # a trtexec log alone: per-layer latency and the total from its --dumpProfile table
    from_log = load_report(artifact=DUMP_LOG)
    _import_path(p, DUMP_LOG)
    _wait_total(p, from_log.latency_ms_total)
    head = p.locator(".trex-app .trex-layers-total:visible").first.text_content()
    assert f"{from_log.latency_ms_total:.4f} ms" in head
    sources = p.locator(".trex-app .trex-source:visible").all_text_contents()
    assert any("trtexec --dumpProfile log trtexec_dumpprofile_a100_fp32.log" in s for s in sources), sources
    assert any("the source's Total row" in s for s in sources), sources

    # a TREx-layout folder: one build per engine, the last one current; its total and its build metadata
    engines = list_engines(FIXTURES)
    _import_path(p, FIXTURES)
    last = load_report(FIXTURES, engine=engines[-1])
    _wait_total(p, last.latency_ms_total)
    sources = p.locator(".trex-app .trex-source:visible").all_text_contents()
    assert any(f"TREx build metadata {engines[-1]}.build.metadata.json" in s for s in sources), sources
    open_tab(p, "Build")
    current = p.locator(".trex-app .widget-dropdown:has(label:text-is('Current')) select option").all_text_contents()
    assert all(name in current for name in engines), current
    nb.screenshot("browser_artifacts_trex_folder")
    assert not errors, errors
