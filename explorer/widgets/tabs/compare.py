"""The Compare tab: two builds side by side, and the layers whose precision or tactic changed.

Builds are compared within one model: the dropdowns offer the builds of the model of A, unless the user asks
for builds of other models too (then the tab warns that layers will not match). The end-to-end difference is
judged against the runs' own spread, and the tab says how.
"""

from __future__ import annotations

from ...html.fragments import STYLE, e, message_box, table
from .base import Tab, figure_widget, html_widget


class CompareTab(Tab):
    title = "Compare"

    def build(self) -> None:
        import ipywidgets as W

        self.a = W.Dropdown(options=[], description="A", layout=W.Layout(width="380px"))
        self.b = W.Dropdown(options=[], description="B", layout=W.Layout(width="380px"))
        self.across = W.Checkbox(value=False, description="offer builds of other models too", indent=False,
                                 layout=W.Layout(width="260px"))
        self.a.observe(self._picked, "value")
        self.b.observe(self._picked, "value")
        self.across.observe(self._picked, "value")
        self.fig_box = W.VBox()
        self.table = html_widget()
        self.message = html_widget()
        self.noise = html_widget()
        self.widget.children = [W.HBox([self.a, self.b, self.across]), self.message, self.noise, self.fig_box,
                                self.table]
        self._updating = False

    def _picked(self, _change) -> None:
        if not self._updating:
            self.invalidate()

    def pick(self, a: str, b: str) -> None:
        """Compare builds ``a`` and ``b`` (by name): one redraw, not one per dropdown. Builds of two models
        turn on "other models too" (and the warning)."""
        builds = self.state.builds
        self._updating = True
        try:
            if a in builds and b in builds and builds[a].model != builds[b].model:
                self.across.value = True
            _set(self.a, list(builds), a)
            self._offer_b(a)
            self.b.value = b
        finally:
            self._updating = False
        self.invalidate()

    def _offer_b(self, a: str | None) -> list[str]:
        """B offers the builds of A's model (all builds when "other models too" is ticked)."""
        builds = self.state.builds
        model = builds[a].model if a in builds else self.state.model_label
        offered = [n for n in builds if self.across.value or builds[n].model == model]
        _set(self.b, offered, self.b.value if self.b.value in offered else None)
        return offered

    def render(self) -> None:
        from ...plots.compare import compare_frame, compare_latency_figure, compare_totals_figure
        from ...plots.data import noise_judgement

        st = self.state
        builds = st.builds
        self._updating = True
        try:
            a, b = self.a.value, self.b.value
            if a in builds and not self.across.value and builds[a].model != st.model_label:
                a = None  # another model was loaded: pair its builds, not the last model's
            if a not in builds:  # default: the build before the current one (same model) as A, the current as B
                mine = [x.name for x in st.builds_of()]
                b = st.current if st.current in mine else (mine[-1] if mine else None)
                before = mine[: mine.index(b)] if b in mine else mine
                a = before[-1] if before else next((n for n in mine if n != b), None)
            _set(self.a, list(builds), a)
            offered = self._offer_b(a)
            if b not in offered or b == a:
                b = next((n for n in reversed(offered) if n != a), None)
            self.b.value = b
        finally:
            self._updating = False
        if a is None or b is None:
            others = len(builds) - len(st.builds_of()) if builds else 0
            hint = (f" ({others} build(s) of other models: tick \"offer builds of other models too\" to pick one)"
                    if others and not self.across.value else "")
            self.message.value = STYLE + message_box(
                "Compare needs two builds or imports of the same model: e.g. import the fp32 and fp16 fixtures in "
                "the Build tab, or run two ONNX Runtime builds" + hint + ".", "info")
            self.noise.value = ""
            self.replace_figures(self.fig_box, [])
            self.table.value = ""
            return
        ba, bb = builds[a], builds[b]
        if ba.model != bb.model:
            self.message.value = STYLE + message_box(
                f"A is a build of {ba.model or 'no model'}, B of {bb.model or 'no model'}: layers of different "
                "models rarely match, so per-layer rows pair by name only and totals compare different work.",
                "warning")
        else:
            self.message.value = ""
        ra, rb = ba.report, bb.report
        judged = noise_judgement(ra, rb, a, b)
        level = "warning" if judged["noisy"] else "info"
        self.noise.value = (STYLE + message_box(judged["text"], level)
                            + f"<span class='trex-noise' data-noisy='{e(judged['noisy'])}'></span>")
        figs = [figure_widget(compare_totals_figure(ra, rb, label_a=a, label_b=b)),
                figure_widget(compare_latency_figure(ra, rb, label_a=a, label_b=b))]
        self.replace_figures(self.fig_box, figs)
        frame = compare_frame(ra, rb, a, b)
        changed = frame[(frame["precision_changed"]) | (frame["tactic_changed"]) | (frame["in"] != "both")]
        stat = ra.latency_statistic if ra.latency_statistic == rb.latency_statistic else "latency"
        changed = changed.rename(columns={f"latency_ms [{a}]": f"{stat} ms [{a}]", f"latency_ms [{b}]": f"{stat} ms [{b}]",
                                          "diff_ms": "difference ms (B − A)"})
        self.table.value = ("<h4>Layers whose precision or tactic changed, or that exist in one build only</h4>"
                            + table(changed, source=f"{a}: {ba.source} | {b}: {bb.source}",
                                    empty="no precision or tactic changes"))


def _set(dropdown, names: list[str], value: str | None) -> None:
    """New options and value for a dropdown: reassigning options resets the value to the first one, so only
    when they changed, and the value is set after."""
    options = tuple((n, n) for n in names)
    if tuple(dropdown.options) != options:
        dropdown.options = options
    dropdown.value = value if value in names else None
