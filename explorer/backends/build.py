"""The public name of the build API (``explorer.backends.build.prestart()``, ``...build.start_build``): the
code lives in :mod:`explorer.backends.jobs` (settings, the caller's job, the worker process)."""

from .jobs import *  # noqa: F401,F403  (the public names, listed in jobs.__all__)
from .jobs import __all__  # noqa: F401
