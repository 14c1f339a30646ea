"""The process that runs fuzz cases: one JSON request per line on stdin, one JSON answer per line out.

Library output that goes to stdout is redirected to stderr, so only answers travel on the protocol pipe.
Started by :mod:`fuzzing.harness`; a hang or a crash here costs one case, not the test run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for `import fuzzing`)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository (for `import explorer`)


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed by the code under test goes to stderr
    sys.stdout = sys.stderr

    from fuzzing.cases import make_case
    from fuzzing.execute import run_case

    import explorer  # noqa: F401 - warm up imports before the first case is timed
    import explorer.engine  # noqa: F401
    import explorer.fusions  # noqa: F401
    import explorer.support  # noqa: F401
    import pandas  # noqa: F401

    protocol.write(json.dumps({"ready": True}) + "\n")
    with tempfile.TemporaryDirectory(prefix="explorer-fuzz-") as workdir:
        for line in sys.stdin:
            request = json.loads(line)
            start = time.perf_counter()
            try:
                case = make_case(request["seed"], request["index"])
                result = run_case(case, workdir, request.get("source", "matrix"))
                result.update(family=case.family, label=case.label[:300])
            except Exception as exc:  # a bug in the generator itself
                result = {"outcome": "generator-error", "error_type": type(exc).__name__, "detail": str(exc)[:500],
                          "family": "?", "label": ""}
            result["seconds"] = time.perf_counter() - start
            result["index"] = request["index"]
            protocol.write(json.dumps(result) + "\n")
            _cleanup(workdir, request["index"])


def _cleanup(workdir: str, index: int) -> None:
    import shutil

    shutil.rmtree(os.path.join(workdir, f"case{index}"), ignore_errors=True)


if __name__ == "__main__":
    main()
