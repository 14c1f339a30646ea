"""``python -m explorer lab [NOTEBOOK]``: JupyterLab on a notebook whose first cells have already run.

``make run`` uses it so that the explorer notebook opens with the app showing and a sample model loaded,
without a click. JupyterLab itself never runs cells when a notebook opens, so this command does what a user
would do, before the browser comes:

1. starts ``jupyter lab`` (no browser yet) and waits for it;
2. starts the notebook's kernel through the server's sessions API, so that JupyterLab, when it opens the
   notebook, connects to that very kernel;
3. runs the code cells tagged ``autorun`` (all code cells when none is) in that kernel, and saves their
   outputs into the notebook through the server (marked trusted: JupyterLab then renders the live widgets,
   whose state it fetches from the kernel);
4. opens the browser (or prints the address with ``--no-browser``) and waits for the server to end
   (Ctrl-C); then puts the notebook back byte for byte as it was (the outputs only mean something while
   the kernel lives) -- unless it was saved again meanwhile (the user's own changes): then only the outputs
   of those cells and the metadata the run added come out.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any

from ..errors import ExplorerError

#: the tag of the cells to run before the browser opens
AUTORUN_TAG = "autorun"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="open JupyterLab on a notebook with its first cells already run",
                       description="Start JupyterLab, run the notebook's cells tagged 'autorun' (all code cells "
                                   "if none is) in its kernel, then open the browser on it: the app is there, "
                                   "live, without a click.")
    p.add_argument("notebook", nargs="?", default=os.path.join("notebooks", "explorer.ipynb"),
                   help="the notebook (default: notebooks/explorer.ipynb)")
    p.add_argument("--root", default=".", help="JupyterLab's root folder (default: here); the notebook must "
                                                "be inside it")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8888, help="port (default 8888; the next free one if taken)")
    p.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds the cells may take (default 180)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        raise ExplorerError("no such notebook", file=str(notebook), hint="give the path of an .ipynb file")
    try:
        relative = notebook.relative_to(root).as_posix()
    except ValueError:
        raise ExplorerError("the notebook is not inside JupyterLab's root folder", file=str(notebook),
                            hint=f"run from a folder that contains it, or pass --root (now {root})") from None
    lab = _Lab(root, args.ip, _free_port(args.ip, args.port))
    original = notebook.read_bytes()  # what `git status` must see again afterwards

    def stop_on_terminate(signum, frame):  # a `kill`: tidy up as for Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_terminate)
    lab.start()
    ran: list[int] = []
    try:
        try:
            ran = lab.run_cells(relative, timeout=args.timeout)
        except Exception as exc:  # noqa: BLE001 - JupyterLab still opens; the user can run the cell
            print(f"warning: could not run the notebook's first cells ({exc}); run them in JupyterLab",
                  file=sys.stderr)
        url = lab.url(relative)
        print(f"JupyterLab is ready: {url}", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)
        lab.wait()
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        _restore(notebook, original, lab.saved, ran)
    return 0


def _restore(notebook: Path, original: bytes, saved: bytes | None, ran: list[int]) -> None:
    """Put the notebook back as it was before the run: the original bytes when the file is still what this
    command saved (or untouched); else (the user saved changes since) take out what the run put in."""
    try:
        now = notebook.read_bytes()
    except OSError:
        return
    if now == original:
        return
    if saved is None or now == saved:
        notebook.write_bytes(original)
        return
    _clear_outputs(notebook, ran, original)


def _free_port(ip: str, wanted: int) -> int:
    for port in range(wanted, wanted + 50):
        with socket.socket() as s:
            try:
                s.bind((ip, port))
            except OSError:
                continue
            return port
    raise ExplorerError(f"no free port from {wanted} to {wanted + 49}", hint="pass --port")


class _Lab:
    """A ``jupyter lab`` subprocess and the few REST calls this command needs."""

    def __init__(self, root: Path, ip: str, port: int) -> None:
        self.root, self.ip, self.port = root, ip, port
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self.saved: bytes | None = None  # the notebook's bytes right after this command saved its outputs

    @property
    def base(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}"

    def url(self, relative: str) -> str:
        return f"{self.base}/lab/tree/{urllib.parse.quote(relative)}?token={self.token}"

    def start(self, timeout: float = 90.0) -> None:
        jupyter = Path(sys.executable).with_name("jupyter")
        cmd = [str(jupyter) if jupyter.exists() else "jupyter", "lab", "--no-browser",
               f"--ServerApp.ip={self.ip}", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               # nothing fetched from the internet at run time (news feed, update check)
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # containers and CI run as root
        try:
            # the app offers a checkout's real TensorRT fixtures when told where they are (EXPLORER_FIXTURES)
            fixtures = self.root / "tests" / "fixtures" / "trt"
            env = {**({"EXPLORER_FIXTURES": str(fixtures)} if fixtures.is_dir() else {}), **os.environ,
                   # the Export tab links a written report through JupyterLab's /files/ when it is under here
                   "EXPLORER_LAB_ROOT": str(self.root)}
            self.proc = subprocess.Popen(cmd, cwd=self.root, start_new_session=True, env=env)
        except OSError as exc:
            raise ExplorerError(f"could not start JupyterLab: {exc}", hint="pip install jupyterlab") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ExplorerError(f"JupyterLab exited at start (exit code {self.proc.returncode})",
                                    hint="see its messages above")
            try:
                self._call("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.3)
        raise ExplorerError(f"JupyterLab did not answer within {timeout:.0f} s")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def run_cells(self, relative: str, timeout: float) -> list[int]:
        """Run the notebook's autorun cells in the kernel JupyterLab will attach to; save their outputs."""
        import nbformat
        from jupyter_client import BlockingKernelClient
        from jupyter_core.paths import jupyter_runtime_dir

        quoted = urllib.parse.quote(relative)
        model = self._call("GET", f"/api/contents/{quoted}?type=notebook&content=1")
        nb = nbformat.from_dict(model["content"])
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        chosen = [i for i in code if AUTORUN_TAG in nb.cells[i].get("metadata", {}).get("tags", [])] or code
        if not chosen:
            return []
        kernel_name = nb.metadata.get("kernelspec", {}).get("name") or "python3"
        session = self._call("POST", "/api/sessions", {"path": relative, "type": "notebook",
                                                        "name": Path(relative).name,
                                                        "kernel": {"name": kernel_name}})
        kernel_id = session["kernel"]["id"]
        connection = Path(jupyter_runtime_dir(), f"kernel-{kernel_id}.json")
        deadline = time.monotonic() + 30
        while not connection.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels()
        def kernel_dead() -> bool:
            try:
                state = self._call("GET", f"/api/kernels/{kernel_id}").get("execution_state")
                return state in ("dead", "restarting", "autorestarting")
            except (OSError, ValueError):
                return True

        try:
            client.wait_for_ready(timeout=60)
            for index in chosen:
                _execute(client, nb.cells[index], timeout, kernel_dead)
        finally:
            client.stop_channels()
        for index in chosen:  # outputs made here, by this user: trusted, so the widgets render
            nb.cells[index].metadata["trusted"] = True
        self._call("PUT", f"/api/contents/{quoted}", {"type": "notebook", "format": "json", "content": nb})
        try:
            self.saved = (self.root / relative).read_bytes()
        except OSError:
            self.saved = None
        return chosen

    def wait(self) -> None:
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:  # the server shuts its kernels down itself
            self._call("POST", "/api/shutdown")
            self.proc.wait(15)
        except Exception:  # noqa: BLE001
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)


def _execute(client, cell, timeout: float, kernel_dead=lambda: False) -> None:
    """Run one cell; its outputs and execution count as JupyterLab would have stored them."""
    import queue

    import nbformat

    msg_id = client.execute(cell.source, store_history=True, allow_stdin=False)
    outputs: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the cell took longer than {timeout:.0f} s")
        try:
            message = client.get_iopub_msg(timeout=min(remaining, 2.0))
        except queue.Empty:
            if kernel_dead():  # it crashed (the server restarts it): no answer is coming
                raise RuntimeError("the kernel died while running the cell") from None
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if kind == "status" and message["content"].get("execution_state") == "idle":
            break
        if kind == "execute_input":
            cell.execution_count = message["content"].get("execution_count")
        elif kind == "clear_output":
            outputs.clear()
        elif kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append(nbformat.v4.output_from_msg(message))
    cell.outputs = outputs


def _clear_outputs(notebook: Path, cells: list[int], original: bytes | None = None) -> None:
    """Take the outputs of the cells this command ran out of the notebook again; the notebook's metadata
    back as in ``original`` (the kernel's ``language_info`` and the widget state are not the user's)."""
    try:
        import nbformat

        nb = nbformat.read(str(notebook), as_version=4)
        if original is not None:  # the kernel's language_info, the widget state: not the user's
            nb.metadata = nbformat.reads(original.decode("utf-8"), as_version=4).metadata
        for index in cells:
            if index < len(nb.cells) and nb.cells[index].cell_type == "code":
                nb.cells[index].outputs = []
                nb.cells[index].execution_count = None
                nb.cells[index].metadata.pop("trusted", None)
                nb.cells[index].metadata.pop("execution", None)
        nbformat.write(nb, str(notebook))
    except Exception as exc:  # noqa: BLE001 - the notebook keeps its outputs; say so
        print(f"warning: could not clear the outputs of {notebook}: {exc}", file=sys.stderr)
