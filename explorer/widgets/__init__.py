"""The JupyterLab app (ipywidgets + plotly), imported lazily: ``from explorer.widgets import Explorer``.

``import explorer`` never imports ipywidgets or plotly; this package imports them only when the app is
created.
"""

from __future__ import annotations

__all__ = ["Explorer", "ExplorerState"]


def __getattr__(name: str):
    if name == "Explorer":
        from .app import Explorer

        return Explorer
    if name == "ExplorerState":
        from .state import ExplorerState

        return ExplorerState
    raise AttributeError(f"module 'explorer.widgets' has no attribute {name!r}")
