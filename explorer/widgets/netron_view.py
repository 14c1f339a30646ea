"""Netron inside the notebook: one local server per app, stopped when the app closes or the kernel exits.

``netron.serve(path, address=("127.0.0.1", port), browse=False)`` on a free port, shown in an IFrame.
Behind JupyterHub the browser cannot reach the kernel's 127.0.0.1, so when ``jupyter-server-proxy`` is
installed the IFrame goes through ``<prefix>proxy/<port>/``. ``EXPLORER_NETRON_URL`` (a template with
``{port}``) overrides the URL for other setups.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import os
import socket
import threading

_RUNNING: set[tuple[str, int]] = set()
_LOCK = threading.Lock()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iframe_url(port: int) -> str:
    template = os.environ.get("EXPLORER_NETRON_URL")
    if template:
        return template.format(port=port)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and importlib.util.find_spec("jupyter_server_proxy") is not None:
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://127.0.0.1:{port}/"


class NetronServer:
    """Serve one model file with Netron; ``start`` again with another file restarts on a new port."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self.path: str | None = None

    @property
    def running(self) -> bool:
        return self.address is not None

    @property
    def url(self) -> str | None:
        return iframe_url(self.address[1]) if self.address else None

    def start(self, path: str) -> str:
        import netron

        if self.address is not None and self.path == path:
            return self.url  # type: ignore[return-value]
        self.stop()
        port = free_port()
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            address = netron.serve(path, address=("127.0.0.1", port), browse=False)
        if isinstance(address, tuple) and len(address) == 2:
            self.address = (str(address[0]), int(address[1]))
        else:
            self.address = ("127.0.0.1", port)
        self.path = path
        with _LOCK:
            _RUNNING.add(self.address)
        return self.url  # type: ignore[return-value]

    def stop(self) -> None:
        if self.address is None:
            return
        address, self.address, self.path = self.address, None, None
        _stop(address)

    def iframe_html(self, height: int = 720) -> str:
        if not self.url:
            return ""
        from html import escape

        return (f"<iframe src='{escape(self.url, quote=True)}' style='width:100%;height:{int(height)}px;"
                f"border:1px solid #ddd' title='Netron'></iframe>")


def _stop(address: tuple[str, int]) -> None:
    try:
        import netron

        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            netron.stop(address)
    except Exception:  # noqa: BLE001 - already stopped, or netron gone at interpreter exit
        pass
    with _LOCK:
        _RUNNING.discard(address)


@atexit.register
def _stop_all() -> None:
    for address in list(_RUNNING):
        _stop(address)
