"""Check ``explorer/backends/tensorrt.py`` against the real TensorRT bindings of every version in
``stubbed_env.VERSIONS`` and print what was checked (the same check ``tests/test_tensorrt_api_conformance.py``
runs)::

    python tests/trt_api/check_backend.py [path/to/module.py]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checker  # noqa: E402
import stubbed_env  # noqa: E402

BACKEND = HERE.parents[1] / "explorer" / "backends" / "tensorrt.py"


def main(argv: list[str]) -> int:
    source_path = Path(argv[1]) if len(argv) > 1 else BACKEND
    source = source_path.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            dumps = [stubbed_env.prepare(v, Path(tmp)).dump_api() for v in stubbed_env.VERSIONS.values()]
        except stubbed_env.EnvironmentProblem as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    reports = checker.check(source, dumps)
    failed = False
    for report in reports:
        print(report.summary())
        for finding in report.errors:
            print(f"  {source_path.name}:{finding.line}: {finding.message}")
            failed = True
    for line in checker.unverified_branches(source, reports):
        print(f"  {source_path.name}: {line}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
