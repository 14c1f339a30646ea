"""``python -m explorer.isolation KIND MEMORY_LIMIT MODULE NAME``: the child side (started by the runner)."""

import sys

from . import _child_main

sys.exit(_child_main(sys.argv[1:]))
