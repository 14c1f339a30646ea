"""TensorRT-RTX builds in the app, in a real JupyterLab driven in headless Chromium.

One session: open ``explorer.ipynb``, run all cells, build ResNet-18 with TensorRT-RTX (ahead of time for
SM86, on this CPU), open Fusions / Memory / Layers / Tactics on that build, then load DenseNet-121 (the onnx
wheel's light model zoo: a build of several seconds), start a TensorRT-RTX build and cancel it, and check
the kernel is alive. Screenshots go to ``tests/artifacts/`` (``browser_rtx_*.png``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_util import REPO, NotebookPage, chromium_available, prepare_root, lab_and_page, open_tab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ARTIFACTS = REPO / "tests" / "artifacts"
RTX_OPTION = "TensorRT-RTX engine (built ahead of time, no GPU needed)"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    from explorer.trt import TENSORRT_RTX, available

    if not available(require_gpu=False, library=TENSORRT_RTX)[0]:
        pytest.skip("TensorRT-RTX is not installed")

    import onnx

    root = prepare_root(tmp_path_factory.mktemp("lab"))
    densenet = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_densenet121.onnx"
    (root / "sample_models" / "densenet121.onnx").write_bytes(densenet.read_bytes())
    for old in ARTIFACTS.glob("browser_rtx_*.png") if ARTIFACTS.exists() else ():
        old.unlink()
    with lab_and_page(root) as (lab, page):
        yield {"root": root, "lab": lab, "page": page, "dialogs": page.explorer_dialogs}


def _app(page):
    return page.locator(".trex-app")



def _button(app, label: str):
    return app.locator(f"button:text-is('{label}')").first


def _shot(nb: NotebookPage, name: str) -> None:
    nb.page.evaluate("() => document.querySelector('.trex-app') && document.querySelector('.trex-app').scrollIntoView()")
    nb.screenshot(f"browser_rtx_{name}", ARTIFACTS)


def test_tensorrt_rtx_builds_in_jupyterlab(session):
    page, lab, root = session["page"], session["lab"], session["root"]
    nb = NotebookPage(page, lab, "notebooks/explorer.ipynb").open()
    nb.run_all()
    app = _app(page)
    app.wait_for(state="visible", timeout=90_000)

    # ---------------------------------------------------------------- a TensorRT-RTX build, ahead of time
    open_tab(page, "Build")
    backend = app.locator(".widget-dropdown:has(label:text-is('Backend')) select")
    backend.select_option(label=RTX_OPTION)
    cc = app.locator(".widget-dropdown:has(label:text-is('Compute cap.')) select")
    page.wait_for_function("(s) => !s.disabled", arg=cc.element_handle())
    cc.select_option("SM86")
    _button(app, "Build").click()
    app.locator(".trex-phase[data-state='done']").wait_for(timeout=120_000)
    assert "tensorrt-rtx" in app.locator(".trex-phase").inner_text()
    _shot(nb, "build_done")

    open_tab(page, "Fusions")
    page.wait_for_function("() => document.querySelector('.trex-app').innerText.includes('Fused layers in the engine')",
                           timeout=60_000)
    text = app.inner_text()
    assert "Conv_5_myl0_4" in text and "TensorRT-RTX 1.7.1 AOT (SM86)" in text
    assert "fused as predicted" in text
    _shot(nb, "fusions")
    open_tab(page, "Memory")
    page.wait_for_function("() => document.querySelector('.trex-app').innerText.includes('TensorRT-RTX 1.7.1 AOT')",
                           timeout=60_000)
    _shot(nb, "memory")
    open_tab(page, "Layers")
    page.wait_for_function("() => document.querySelector('.trex-app').innerText.includes('myl0')", timeout=60_000)
    _shot(nb, "layers")
    open_tab(page, "Tactics")
    app.locator(".trex-msg-info:visible", has_text="times no tactics").first.wait_for()

    # ---------------------------------------------------------------- a longer build, cancelled
    open_tab(page, "Model")
    path = app.locator(".widget-text:has(label:text-is('Path')) input")
    path.fill(str(root / "sample_models" / "densenet121.onnx"))
    _button(app, "Load").click()
    page.wait_for_function(
        "() => document.querySelector('.trex-app .trex-model').textContent.includes('densenet121.onnx')",
        timeout=120_000)
    open_tab(page, "Build")
    backend.select_option(label=RTX_OPTION)
    _button(app, "Build").click()
    app.locator(".trex-phase[data-state='running']").wait_for(timeout=60_000)
    cancel = _button(app, "Cancel")
    page.wait_for_function("(b) => !b.disabled", arg=cancel.element_handle())
    cancel.click()
    app.locator(".trex-phase[data-state='cancelled']").wait_for(timeout=60_000)
    app.locator(".trex-msg-warning", has_text="cancelled").wait_for()
    _shot(nb, "build_cancelled")

    # ---------------------------------------------------------------- the kernel is alive
    out = nb.add_and_run("1+1")
    assert out.strip().endswith("2"), out
    assert not session["dialogs"], session["dialogs"]
    nb.add_and_run("app.close()", expect_output=False)
