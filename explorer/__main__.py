"""`python -m explorer ...`: see :mod:`explorer.cli`."""

from .cli import main

raise SystemExit(main())
