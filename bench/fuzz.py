"""Fuzz the explorer's input boundaries with the seeded generator of tests/fuzzing, standalone.

    python bench/fuzz.py --cases 600 --seed 1            # print the table (cases by family, outcomes)
    python bench/fuzz.py --seed 1 --only 17 --verbose    # replay one case, with its traceback
    python bench/fuzz.py --cases 600 --write docs/fuzz-results.md
    python bench/fuzz.py --source matrix                 # skip the real-parser campaign

Two campaigns by default: every case with the support-matrix prediction, then every model case again with
NVIDIA's real ONNX parser (``explorer.analyze(model, source="tensorrt-rtx")``, its own isolated child).

Every case must end in a result or an ``explorer.ExplorerError``; anything else (another exception, a
crash, a hang past ``--timeout``, RSS growth past ``--memory-mib``) is listed under the table and the
exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fuzzing import model_cases  # noqa: E402
from fuzzing.harness import describe, run_campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", type=int, nargs="+", help="run only these case indexes")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--memory-mib", type=int, default=1536, help="RSS growth bound per case")
    parser.add_argument("--verbose", action="store_true", help="print every case and full tracebacks")
    parser.add_argument("--write", metavar="FILE.md", help="also write the table and figures to this file")
    parser.add_argument("--source", choices=("both", "matrix", "tensorrt-rtx"), default="both",
                        help="where model cases take their verdicts (both: two campaigns)")
    args = parser.parse_args()

    def progress(r: dict) -> None:
        if args.verbose:
            print(f"{r['index']:>5} {r.get('family', '?'):<16} {r['outcome']:<14} {r['wall']:6.2f}s "
                  f"{r.get('label', '')[:90]}", flush=True)
            if r.get("traceback"):
                print(r["traceback"], flush=True)
            elif r["outcome"] not in ("ok",):
                print(f"      {r.get('error_type', '')}: {r.get('detail', '')[:300]}", flush=True)

    sources = ("matrix", "tensorrt-rtx") if args.source == "both" else (args.source,)
    results, texts = [], []
    for source in sources:
        only = args.only
        if source != "matrix":  # the model cases only: the others never reach a parser
            models = set(model_cases(args.seed, args.cases))
            only = [i for i in (args.only or range(args.cases)) if i in models]
        result = run_campaign(args.cases, args.seed, timeout=args.timeout, memory_bound=args.memory_mib * 1024**2,
                              only=only, progress=progress, source=source)
        text = describe(result)
        print(f"\nverdicts from {source}:\n{text}", flush=True)
        results.append(result)
        texts.append(text)
    if args.write:
        Path(args.write).write_text(write_markdown(results[0], texts[0], list(zip(results[1:], texts[1:]))),
                                    encoding="utf-8")
    return 1 if any(r.failures for r in results) else 0


def write_markdown(result, text: str, more: list | None = None) -> str:
    """The page: the campaign's table, then (``more``) the model cases again through the real parser."""
    extra = "".join(
        f"\n## The model cases through the real parser ({r.source})\n\n"
        f"The same seed's model cases, `explorer.analyze(model, source=\"{r.source}\")`: NVIDIA's ONNX parser "
        "in its isolated child, then the partitions and the disagreements with the prediction.\n\n" + t + "\n"
        for r, t in (more or ()))
    return ("# Fuzzing results\n\n"
            "Written by the last fuzz run (`tests/test_fuzz.py` or `python bench/fuzz.py --write "
            "docs/fuzz-results.md`): cases tried by family and how each ended. `ok`: a result; "
            "`ExplorerError`: the documented error (CLI: exit code 2 and one `error:` line); `other`: anything "
            "else (another exception, a crash, a hang, memory over the bound, control characters in text "
            "output).\n\n" + text + "\n" + extra)


if __name__ == "__main__":
    raise SystemExit(main())
