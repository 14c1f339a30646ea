"""One class per tab of the app (:class:`~explorer.widgets.app.Explorer` assembles them).

Each tab draws itself from the app's state when first shown and again only when shown after a change
(:class:`~explorer.widgets.tabs.base.Tab`).
"""
