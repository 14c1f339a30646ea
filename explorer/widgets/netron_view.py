"""Netron inside the notebook: one local server per app, stopped when the app closes or the kernel exits.

``netron.serve(path, address=("127.0.0.1", port), browse=False)``, shown in an IFrame at ``localhost``.
One port for the whole kernel: every model (and every app) is served on it in turn. Netron asks for cookie
consent until it has stored its cookie, and it cannot store one for ``127.0.0.1`` (it sets
``domain=.0.1``, which browsers refuse); at ``localhost`` the cookie sticks, and with one port the page's
storage does too, so the question comes once, not for every model.
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
import time

_RUNNING: set[tuple[str, int]] = set()
_LOCK = threading.Lock()
_OWNER: dict[tuple[str, int], "NetronServer"] = {}  # which server shows its model at an address now
_KERNEL_PORT: int | None = None  # the one port Netron uses in this kernel (chosen on first use)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_port() -> int:
    """The port Netron serves on in this kernel: free when first asked, the same ever after."""
    global _KERNEL_PORT
    with _LOCK:
        if _KERNEL_PORT is None:
            _KERNEL_PORT = free_port()
        return _KERNEL_PORT


def _new_kernel_port() -> int:
    global _KERNEL_PORT
    with _LOCK:
        _KERNEL_PORT = free_port()
        return _KERNEL_PORT


def iframe_url(port: int) -> str:
    template = os.environ.get("EXPLORER_NETRON_URL")
    if template:
        return template.format(port=port)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and importlib.util.find_spec("jupyter_server_proxy") is not None:
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://localhost:{port}/"


class NetronServer:
    """Serve one model file with Netron; ``start`` again with another file serves it instead, on the same
    port (:func:`kernel_port`; a second app of the kernel takes the port over)."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self.path: str | None = None

    @property
    def running(self) -> bool:
        return self.address is not None and self.address in _RUNNING and _OWNER.get(self.address) is self

    @property
    def url(self) -> str | None:
        return iframe_url(self.address[1]) if self.address else None

    def start(self, path: str) -> str:
        import netron

        if self.running and self.path == path:
            return self.url  # type: ignore[return-value]
        self.stop()
        port = kernel_port()
        for address in [a for a in list(_RUNNING) if a[1] == port]:
            _stop(address)  # another app of this kernel showed its model there: this one's takes over
        sink = io.StringIO()
        deadline = time.monotonic() + 3.0
        while True:
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    address = netron.serve(path, address=("127.0.0.1", port), browse=False)
                break
            except OSError:
                if time.monotonic() < deadline:  # the previous server lets go of the port within a moment
                    time.sleep(0.1)
                    continue
                port = _new_kernel_port()  # something else took it: move on, once
                deadline = float("inf")
        if isinstance(address, tuple) and len(address) == 2:
            self.address = (str(address[0]), int(address[1]))
        else:
            self.address = ("127.0.0.1", port)
        self.path = path
        with _LOCK:
            _RUNNING.add(self.address)
            _OWNER[self.address] = self
        return self.url  # type: ignore[return-value]

    def stop(self) -> None:
        if self.address is None:
            return
        address, self.address, self.path = self.address, None, None
        if _OWNER.get(address) is self:  # (another app may have taken the port over)
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
        _OWNER.pop(address, None)


@atexit.register
def _stop_all() -> None:
    for address in list(_RUNNING):
        _stop(address)
