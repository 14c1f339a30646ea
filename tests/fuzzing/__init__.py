"""A seeded fuzzer for the explorer's input boundaries (models, trtexec JSON, build logs, the CLI).

    from fuzzing import run_campaign, format_table
    result = run_campaign(cases=600, seed=1)
    print(format_table(result))

* :mod:`fuzzing.corpus` - the seeds: sample models, trtexec fixtures, build-log excerpts;
* :mod:`fuzzing.mutators` - byte, protobuf (through the onnx API), JSON and log mutations;
* :mod:`fuzzing.cases` - case ``i`` of seed ``s`` is a pure function of ``(s, i)`` (replayable alone);
* :mod:`fuzzing.execute` - feeds one case through the public API (and the CLI) and classifies the end;
* :mod:`fuzzing.harness` - runs cases in a worker process with a per-case timeout and an RSS bound, so a
  hang, a crash or a memory blow-up is recorded as such instead of taking the test run down.

Replay one case: ``python bench/fuzz.py --seed S --only INDEX --verbose``.
"""

from .cases import FAMILIES, Case, make_case, model_cases
from .harness import CampaignResult, format_table, run_campaign

__all__ = ["FAMILIES", "Case", "CampaignResult", "format_table", "make_case", "model_cases", "run_campaign"]
