"""The Model tab: load a model (path, upload or bundled sample) and see what it is."""

from __future__ import annotations

import os

from ...html.fragments import STYLE, message_box, model_summary
from ..state import sample_models, samples_dir
from .base import Tab, html_widget


class ModelTab(Tab):
    title = "Model"

    def build(self) -> None:
        import ipywidgets as W

        self.path = W.Text(placeholder="path/to/model.onnx", description="Path", layout=W.Layout(width="420px"))
        self.load_button = W.Button(description="Load", button_style="primary", icon="folder-open")
        self.load_button.on_click(lambda _: self.state.start_load(self.path.value))
        self.upload = W.FileUpload(accept=".onnx", multiple=False, description="Upload .onnx")
        self.upload.observe(self._uploaded, "value")
        samples = sample_models()
        self.samples = W.Dropdown(options=[("bundled samples…", "")] + [(s, s) for s in samples],
                                  value="", description="Sample", layout=W.Layout(width="340px"),
                                  disabled=not samples)
        self.samples.observe(self._sample, "value")
        self.message = html_widget()
        self.summary = html_widget()
        self.widget.children = [W.HBox([self.path, self.load_button]), W.HBox([self.samples, self.upload]),
                                self.message, self.summary]

    def _uploaded(self, change) -> None:
        value = change["new"]
        if not value:
            return
        item = value[0] if isinstance(value, (list, tuple)) else next(iter(value.values()))
        content = item["content"] if isinstance(item, dict) else item.content
        name = item["name"] if isinstance(item, dict) else item.name
        self.state.start_load(bytes(content), label=name)

    def _sample(self, change) -> None:
        name = change["new"]
        if name:
            folder = samples_dir()
            if folder:
                self.path.value = os.path.join(folder, name)
                self.state.start_load(self.path.value)

    def render(self) -> None:
        err = self.state.error("model")
        self.message.value = STYLE + message_box(err) if err else ""
        self.load_button.disabled = self.state.loading is not None
        # the field shows where the loaded model is: its path, or nothing (and which file) after an upload
        if self.state.model_uploaded:
            self.path.value = ""
            self.path.placeholder = f"(uploaded {self.state.model_label}) path/to/model.onnx"
        elif self.state.model_path:
            self.path.value = self.state.model_path
            self.path.placeholder = "path/to/model.onnx"
        st = self.state
        self.summary.value = model_summary(st.model, label=st.model_label, path=st.model_path, support=st.support)
