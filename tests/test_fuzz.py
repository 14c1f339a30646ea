"""Seeded fuzzing of every input boundary (see tests/fuzzing): models, trtexec JSON, build logs, the CLI.

Every case must end in a result or an ``explorer.ExplorerError`` (CLI: exit 0, or exit 2 with one
``error:`` line) - never another exception, a crash, a hang past the per-case timeout, RSS growth past the
bound, or control characters in text output. The table of the run is written to tests/artifacts/fuzz-results.md (docs/fuzz-results.md, quoted in the README,
is refreshed with `python bench/fuzz.py --write docs/fuzz-results.md`).

``EXPLORER_FUZZ_CASES`` / ``EXPLORER_FUZZ_SEED`` change the campaign; replay a failing case alone with
``python bench/fuzz.py --seed S --only INDEX --verbose``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from fuzzing import FAMILIES, make_case, model_cases  # noqa: E402
from fuzzing.harness import describe, run_campaign  # noqa: E402

CASES = int(os.environ.get("EXPLORER_FUZZ_CASES", 600))
SEED = int(os.environ.get("EXPLORER_FUZZ_SEED", 1))
MEMORY_BOUND = int(1.5 * 1024**3)
RESULTS = Path(__file__).resolve().parents[1] / "tests" / "artifacts" / "fuzz-results.md"


def test_cases_are_replayable_and_cover_every_family():
    first = [make_case(SEED, i) for i in range(120)]
    time.sleep(1.1)  # a case must not depend on the clock (zip and gzip headers carry timestamps)
    again = [make_case(SEED, i) for i in range(120)]
    assert [(c.family, c.label, c.data, c.argv) for c in first] == [(c.family, c.label, c.data, c.argv) for c in again]
    families = {make_case(SEED, i).family for i in range(CASES)}
    assert families == set(FAMILIES)


@pytest.mark.slow
def test_fuzz_campaign_ends_in_results_or_explorer_errors():
    assert CASES >= 500
    result = run_campaign(CASES, SEED, timeout=60, memory_bound=MEMORY_BOUND)
    report = describe(result)
    from fuzz import write_markdown  # bench/fuzz.py: the same page the standalone run writes

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(write_markdown(result, report), encoding="utf-8")
    print(report)
    assert len(result.results) == CASES
    assert not result.failures, report
    # how long the campaign takes is printed by bench/fuzz.py, not asserted (the suite runs on loaded machines)
    counts = result.by_family()
    assert all(sum(c.values()) for c in counts.values())
    # both ends are exercised: hostile input that is still analysable, and input that must be refused
    assert sum(c["ok"] for c in counts.values()) > CASES / 5
    assert sum(c["ExplorerError"] for c in counts.values()) > CASES / 5


#: model cases per model family that also go through the real parser here (bench/fuzz.py sends them all)
PARSER_CASES_PER_FAMILY = int(os.environ.get("EXPLORER_FUZZ_PARSER_CASES", 3))


@pytest.mark.slow
def test_model_families_through_the_real_parser_end_in_results_or_explorer_errors():
    """The first few model cases of every model family through ``explorer.analyze(model,
    source="tensorrt-rtx")``: NVIDIA's C++ parser reads the hostile model in its isolated child, so a parser
    crash, a memory blow-up or a hang is the model's ``ModelError``, never the process's end."""
    from explorer.trt import TENSORRT_RTX, parser_available

    ok, why = parser_available(TENSORRT_RTX)
    assert ok, why  # a dependency of the package: it must be usable on every machine
    only = model_cases(SEED, CASES, per_family=PARSER_CASES_PER_FAMILY)
    result = run_campaign(CASES, SEED, only=only, timeout=120, memory_bound=MEMORY_BOUND, source="tensorrt-rtx")
    report = describe(result)
    print(report)
    assert not result.failures, report
    counts = result.by_family()
    assert set(counts) == {f for f in FAMILIES if f.startswith("model-")}
    assert all(sum(c.values()) == PARSER_CASES_PER_FAMILY for c in counts.values()), counts
    assert sum(c["ok"] for c in counts.values()) > 0 and sum(c["ExplorerError"] for c in counts.values()) > 0
