"""``python -m explorer lab`` (what ``make run`` starts): the notebook opens with the app already there.

A real ``jupyter lab`` started by the command on a copy of ``notebooks/``, the notebook's autorun cell run
in its kernel before any browser comes, then headless Chromium opens the printed address and finds the
app showing the sample model without a click, live (a tab click renders through the kernel). Ctrl-C ends
the server and takes the cell's outputs out of the notebook again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser_util import REPO, chromium_available, free_port, lab_env, launch_chromium, prepare_root

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = REPO / "tests" / "artifacts"


def _start(root: Path, tmp: Path, notebook: str = "notebooks/explorer.ipynb") -> tuple[subprocess.Popen, str]:
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, **lab_env(), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "lab", notebook, "--no-browser",
                             "--port", str(free_port())], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=open(tmp / "lab.log", "w"), text=True, start_new_session=True)
    deadline = time.monotonic() + 150
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("JupyterLab is ready: "):
            return proc, line.split(": ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"`explorer lab` did not get ready:\n{(tmp / 'lab.log').read_text()[-3000:]}")


def test_make_run_opens_the_notebook_with_the_app_loaded_and_live(tmp_path):
    ok, why = chromium_available()
    if not ok:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    root = prepare_root(tmp_path / "root")
    notebook = root / "notebooks" / "explorer.ipynb"
    before = json.loads(notebook.read_text())
    before_bytes = notebook.read_bytes()
    proc, url = _start(root, tmp_path)
    try:
        saved = json.loads(notebook.read_text())  # the autorun cell's output is in the file JupyterLab opens
        cell = next(c for c in saved["cells"] if "autorun" in c.get("metadata", {}).get("tags", []))
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell["outputs"])
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            app = page.locator(".trex-app")
            app.wait_for(state="visible", timeout=90_000)  # nobody clicked Run
            assert "resnet18.onnx" in app.locator(".trex-model").inner_text()
            # live: the Partitions view is made by the kernel when the tab is first shown
            app.locator(".lm-TabBar-tab", has_text="Partitions").first.click()
            app.locator(".trex-plot[data-trex-ready='1']:visible").first.wait_for(timeout=60_000)
            assert "prediction" in app.inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser_make_run.png"))
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole group
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, (tmp_path / "lab.log").read_text()[-3000:]
    after = json.loads(notebook.read_text())
    assert [c.get("outputs") for c in after["cells"]] == [c.get("outputs") for c in before["cells"]]
    assert [c["source"] for c in after["cells"]] == [c["source"] for c in before["cells"]]
    assert notebook.read_bytes() == before_bytes  # `git status` clean after `make run` and Ctrl-C


def test_lab_command_refuses_a_missing_notebook(tmp_path, capsys):
    from explorer.cli import main

    assert main(["lab", str(tmp_path / "nope.ipynb"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such notebook" in err and err.count("\n") == 1


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_lab_command_opens_even_when_the_autorun_cell_fails(tmp_path):
    """A failing cell (or a crashing kernel) must not keep JupyterLab from opening: the error is the cell's
    output, as if the user had run it; the untagged cell is not run; Ctrl-C still tidies up."""
    import nbformat

    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('not tagged: never run here')"),
                nbformat.v4.new_code_cell("raise ValueError('<b>bad</b> model')", metadata={"tags": ["autorun"]})]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(root / "broken.ipynb"))
    before = (root / "broken.ipynb").read_bytes()
    proc, url = _start(root, tmp_path, "broken.ipynb")
    try:
        assert "/lab/tree/broken.ipynb?token=" in url
        saved = nbformat.read(str(root / "broken.ipynb"), as_version=4)
        assert saved.cells[0].outputs == []
        [error] = saved.cells[1].outputs
        assert error.output_type == "error" and error.ename == "ValueError"
    finally:
        _stop(proc)
    assert proc.returncode == 0
    after = nbformat.read(str(root / "broken.ipynb"), as_version=4)
    assert all(cell.outputs == [] for cell in after.cells)
    assert (root / "broken.ipynb").read_bytes() == before  # byte for byte as it was
