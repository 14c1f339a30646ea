"""Command line: ``python -m explorer <command> ...``.

Each command lives in its own module here with ``add_parser(subparsers)`` and ``run(args) -> int``; this
module only dispatches and turns :class:`~explorer.ExplorerError` into one ``error: ...`` line and exit
code 2 (no traceback for bad input).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Sequence

from ..errors import ExplorerError, printable

#: command name -> module under explorer.cli (imported only when that command runs)
COMMANDS = {
    "analyze": "analyze",
    "fusions": "fusions",
    "inspect": "inspect",
    "build": "build",
    "report": "report",
    "lab": "lab",
    "accuracy": "accuracy",
}

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="TensorRT Engine Explorer: what TensorRT supports, fuses and chooses in an ONNX model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    modules = {}
    for name, module_name in COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        module = importlib.import_module(f"{__name__}.{module_name}")  # a command that fails to import says so
        modules[name] = module
        module.add_parser(sub)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(modules[args.command].run(args) or 0)
    except ExplorerError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader left; no traceback, no second error at exit
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


#: an error line longer than this is cut (a message quoting a huge name must still be one readable line)
MAX_ERROR_CHARS = 2000


def _one_line(text: str) -> str:
    """The message on one line, with control characters from hostile names escaped, not executed."""
    return printable(" ".join(text.split()), MAX_ERROR_CHARS)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (what ``--json`` promises to pipelines)."""
    # json.dumps without indent uses the C encoder (json.dump never does): 10x faster on big reports.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(obj, indent=indent, default=_default))
    sys.stdout.write("\n")


def _default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return str(value)
