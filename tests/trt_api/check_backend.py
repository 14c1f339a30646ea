"""Check the explorer's TensorRT code (``explorer/trt/*.py`` and ``explorer/backends/tensorrt/*.py``, read as
one module, with the Polygraphy calls of ``polygraphy_uses.py``) against the real TensorRT bindings of every
version in ``stubbed_env.VERSIONS`` and print what was checked (the same check
``tests/test_tensorrt_api_conformance.py`` runs)::

    python tests/trt_api/check_backend.py [path/to/module.py ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checker  # noqa: E402
import polygraphy_uses  # noqa: E402
import stubbed_env  # noqa: E402

REPO = HERE.parents[1]
SOURCE_FILES = sorted([*(REPO / "explorer" / "trt").glob("*.py"), *(REPO / "explorer" / "backends" / "tensorrt").glob("*.py")])


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv[1:]] or SOURCE_FILES
    source = {str(p): p.read_text() for p in paths}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            dumps = [stubbed_env.prepare(v, Path(tmp)).dump_api() for v in stubbed_env.VERSIONS.values()]
        except stubbed_env.EnvironmentProblem as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    reports = checker.check(source, dumps, polygraphy_uses.table())
    failed = False
    for report in reports:
        print(report.summary())
        for finding in report.errors:
            print(f"  {finding.file}:{finding.line}: {finding.message}")
            failed = True
    for line in checker.unverified_branches(source, reports):
        print(f"  {line}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
