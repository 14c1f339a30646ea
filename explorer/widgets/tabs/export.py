"""The Export tab: write the standalone HTML report."""

from __future__ import annotations

import os

from ...html.fragments import STYLE, message_box
from ..state import describe_error
from .base import Tab, html_widget


class ExportTab(Tab):
    title = "Export"

    def build(self) -> None:
        import ipywidgets as W

        self.path = W.Text(value="explorer_report.html", description="File", layout=W.Layout(width="420px"))
        self.button = W.Button(description="Write HTML report", icon="file", button_style="primary")
        self.button.on_click(lambda _: self.export())
        self.message = html_widget()
        self.widget.children = [W.HTML("<h4>One standalone HTML file (works offline): the analysis, the "
                                       "fusions and every build</h4>"), W.HBox([self.path, self.button]), self.message]

    def export(self) -> None:
        try:
            path = self.app.export(self.path.value.strip() or "explorer_report.html")
        except Exception as exc:  # noqa: BLE001
            self.message.value = STYLE + message_box(f"export failed: {describe_error(exc)}")
            return
        size = os.path.getsize(path)
        self.message.value = STYLE + message_box(f"wrote {path} ({size / 1024:.0f} KiB)", "info")
