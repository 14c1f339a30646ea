"""The Compare tab: two builds side by side, and the layers whose precision or tactic changed."""

from __future__ import annotations

from ...html.fragments import STYLE, message_box, table
from .base import Tab, figure_widget, html_widget


class CompareTab(Tab):
    title = "Compare"

    def build(self) -> None:
        import ipywidgets as W

        self.a = W.Dropdown(options=[], description="A", layout=W.Layout(width="380px"))
        self.b = W.Dropdown(options=[], description="B", layout=W.Layout(width="380px"))
        self.a.observe(self._picked, "value")
        self.b.observe(self._picked, "value")
        self.fig_box = W.VBox()
        self.table = html_widget()
        self.message = html_widget()
        self.widget.children = [W.HBox([self.a, self.b]), self.message, self.fig_box, self.table]
        self._updating = False

    def _picked(self, _change) -> None:
        if not self._updating:
            self.invalidate()

    def pick(self, a: str, b: str) -> None:
        """Compare builds ``a`` and ``b`` (by name): one redraw, not one per dropdown."""
        self._updating = True
        self.a.value, self.b.value = a, b
        self._updating = False
        self.invalidate()

    def render(self) -> None:
        from ...plots.compare import compare_frame, compare_latency_figure, compare_totals_figure

        names = list(self.state.builds)
        self._updating = True
        try:
            a, b = self.a.value, self.b.value
            self.a.options = [(n, n) for n in names]
            self.b.options = [(n, n) for n in names]
            if a not in names:
                a = names[0] if names else None
            if b not in names or b == a:
                b = next((n for n in reversed(names) if n != a), None)
            self.a.value, self.b.value = a, b
        finally:
            self._updating = False
        if len(names) < 2 or a is None or b is None:
            self.message.value = STYLE + message_box(
                "Compare needs two builds or imports: e.g. import the fp32 and fp16 fixtures in the Build tab, or "
                "run two ONNX Runtime builds.", "info")
            self.replace_figures(self.fig_box, [])
            self.table.value = ""
            return
        self.message.value = ""
        ra, rb = self.state.builds[a].report, self.state.builds[b].report
        figs = [figure_widget(compare_totals_figure(ra, rb, label_a=a, label_b=b)),
                figure_widget(compare_latency_figure(ra, rb, label_a=a, label_b=b))]
        self.replace_figures(self.fig_box, figs)
        frame = compare_frame(ra, rb, a, b)
        changed = frame[(frame["precision_changed"]) | (frame["tactic_changed"]) | (frame["in"] != "both")]
        self.table.value = ("<h4>Layers whose precision or tactic changed, or that exist in one build only</h4>"
                            + table(changed, source=f"{a}: {self.state.builds[a].source} | "
                                                    f"{b}: {self.state.builds[b].source}",
                                    empty="no precision or tactic changes"))
