"""The Export tab: write the standalone HTML report of the model on screen.

The report holds what the app shows for the current model: its analysis, the builds and imports made for
it, and the comparison chosen in the Compare tab (or the one it would show). Builds of models loaded
earlier in the session stay in the app but not in the file: their numbers belong to another network.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, field

from ...html.fragments import STYLE, e, message_box
from ..state import Build, ExplorerState, describe_error
from .base import Tab, html_widget

#: the folder reports go to by default (relative to the kernel's working folder; git ignores it)
REPORTS_DIR = "explorer-reports"
#: set by ``python -m explorer lab`` for the kernels: JupyterLab's root folder, to link to a written file
LAB_ROOT_ENV = "EXPLORER_LAB_ROOT"


@dataclass
class ReportContent:
    """What goes into the report of a session: the model's builds, the comparison, what was left out."""

    builds: list[Build]
    compare: list[tuple[str, str]]
    left_out: list[str] = field(default_factory=list)  # builds of other models

    @property
    def notes(self) -> list[str]:
        if not self.left_out:
            return []
        names = ", ".join(self.left_out[:6]) + (", ..." if len(self.left_out) > 6 else "")
        return [f"{len(self.left_out)} build(s) of other models loaded in this session are not in this report: "
                f"{names}"]


def report_content(state: ExplorerState, chosen: tuple[str | None, str | None] | None = None) -> ReportContent:
    """The current model's builds and one comparison: ``chosen`` (the Compare tab's A and B) when both are
    builds of this model, else what the Compare tab shows by default (the first build and the last other)."""
    label = state.model_label
    builds = [b for b in state.builds.values() if b.options.get("model") == label]
    left_out = [b.name for b in state.builds.values() if b.options.get("model") != label]
    names = [b.name for b in builds]
    compare: list[tuple[str, str]] = []
    a, b = chosen if chosen else (None, None)
    if a in names and b in names and a != b:
        compare = [(a, b)]  # type: ignore[list-item]
    elif len(names) >= 2:
        compare = [(names[0], names[-1])]
    return ReportContent(builds=builds, compare=compare, left_out=left_out)


def default_report_path(state: ExplorerState) -> str:
    """``explorer-reports/<model>.report.html`` in the kernel's folder (git ignores the folder)."""
    stem = os.path.splitext(os.path.basename(state.model_label or "model"))[0] or "model"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    return os.path.join(REPORTS_DIR, f"{safe}.report.html")


def write_session_report(state: ExplorerState, path: str | None = None,
                         chosen: tuple[str | None, str | None] | None = None) -> str:
    """Write the report of the current model (see :func:`report_content`); returns the path written."""
    from ...errors import ExplorerError
    from ...html import write_report

    if state.model is None:
        raise ExplorerError("load a model before exporting a report")
    content = report_content(state, chosen)
    return write_report(path or default_report_path(state), state.model, state.support,
                        engine_reports=[(b.name, b.report) for b in content.builds], fusions=state.fusions,
                        fusions_source=state.fusions_source,
                        title=f"TensorRT Engine Explorer: {state.model_label}", compare=content.compare,
                        notes=content.notes)


def file_link(path: str) -> str | None:
    """A JupyterLab link that opens ``path`` in a new browser tab (``/files/...``), when the file is inside
    the root folder that ``python -m explorer lab`` announced; None otherwise."""
    root = os.environ.get(LAB_ROOT_ENV)
    if not root:
        return None
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:
        return None
    if relative.startswith(".."):
        return None
    return "/files/" + urllib.parse.quote(relative.replace(os.sep, "/"))


class ExportTab(Tab):
    title = "Export"

    def build(self) -> None:
        import ipywidgets as W

        self.path = W.Text(value="", placeholder=default_report_path(self.state), description="File",
                           layout=W.Layout(width="460px"))
        self.button = W.Button(description="Write HTML report", icon="file", button_style="primary",
                               layout=W.Layout(width="auto", min_width="190px"))
        self.button.on_click(lambda _: self.export())
        self.message = html_widget()
        self.widget.children = [W.HTML("<h4>One standalone HTML file (opens offline) of the model on screen: its "
                                       "analysis, fusions, builds and the comparison chosen in Compare</h4>"),
                                W.HBox([self.path, self.button]), self.message]

    def render(self) -> None:
        self.path.placeholder = default_report_path(self.state)

    def export(self) -> None:
        try:
            path = self.app.export(self.path.value.strip() or None)
        except Exception as exc:  # noqa: BLE001
            self.message.value = STYLE + message_box(f"export failed: {describe_error(exc)}")
            return
        full = os.path.abspath(path)
        size = os.path.getsize(full)
        link = file_link(full)
        where = (f"<a href='{e(link, None)}' target='_blank' rel='noopener'>{e(full, None)}</a>" if link
                 else f"<code>{e(full, None)}</code>")
        self.message.value = (STYLE + f"<div class='trex-msg-info'>wrote {where} ({size / 2**20:.1f} MiB)"
                              + ("" if link else " &nbsp;(open it in a browser)") + "</div>")
