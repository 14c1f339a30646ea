"""The Netron tab: the model in Netron, served locally, in an iframe."""

from __future__ import annotations

import os

from ...html.fragments import STYLE, e, message_box
from ..state import describe_error
from .base import Tab, html_widget


class NetronTab(Tab):
    title = "Netron"

    def build(self) -> None:
        import ipywidgets as W

        from ..netron_view import NetronServer

        self.server = NetronServer()
        self.frame = html_widget()
        self.message = html_widget()
        self.stop_button = W.Button(description="Stop Netron", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.start_button = W.Button(description="Start Netron", icon="play")
        self.start_button.on_click(lambda _: self.invalidate())
        self.widget.children = [W.HBox([self.start_button, self.stop_button]), self.message, self.frame]

    def render(self) -> None:
        path = self.state.model_path
        if self.state.model is None or not path:
            self.message.value = STYLE + message_box("Load a model (from a file or an upload) to view it in Netron.",
                                                     "info")
            self.frame.value = ""
            return
        try:
            url = self.server.start(path)
        except Exception as exc:  # noqa: BLE001
            self.message.value = STYLE + message_box(f"Netron could not start: {describe_error(exc)}")
            self.frame.value = ""
            return
        self.message.value = (STYLE + f"<div class='trex-source'>Netron {e(os.path.basename(path))} at "
                              f"<a href='{e(url)}' target='_blank'>{e(url)}</a> (stops when the app closes)</div>")
        self.frame.value = self.server.iframe_html()

    def stop(self) -> None:
        self.server.stop()
        self.frame.value = ""
        self.message.value = STYLE + message_box("Netron stopped.", "info")
