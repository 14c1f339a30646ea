"""Fuzz the explorer's input boundaries with the seeded generator of tests/fuzzing, standalone.

    python bench/fuzz.py --cases 600 --seed 1            # print the table (cases by family, outcomes)
    python bench/fuzz.py --seed 1 --only 17 --verbose    # replay one case, with its traceback
    python bench/fuzz.py --cases 600 --write docs/fuzz-results.md

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
    args = parser.parse_args()

    def progress(r: dict) -> None:
        if args.verbose:
            print(f"{r['index']:>5} {r.get('family', '?'):<16} {r['outcome']:<14} {r['wall']:6.2f}s "
                  f"{r.get('label', '')[:90]}", flush=True)
            if r.get("traceback"):
                print(r["traceback"], flush=True)
            elif r["outcome"] not in ("ok",):
                print(f"      {r.get('error_type', '')}: {r.get('detail', '')[:300]}", flush=True)

    result = run_campaign(args.cases, args.seed, timeout=args.timeout, memory_bound=args.memory_mib * 1024**2,
                          only=args.only, progress=progress)
    text = describe(result)
    print(text)
    if args.write:
        Path(args.write).write_text(write_markdown(result, text), encoding="utf-8")
    return 1 if result.failures else 0


def write_markdown(result, text: str) -> str:
    return ("# Fuzzing results\n\n"
            "Written by the last fuzz run (`tests/test_fuzz.py` or `python bench/fuzz.py --write "
            "docs/fuzz-results.md`): cases tried by family and how each ended. `ok`: a result; "
            "`ExplorerError`: the documented error (CLI: exit code 2 and one `error:` line); `other`: anything "
            "else (another exception, a crash, a hang, memory over the bound, control characters in text "
            "output).\n\n" + text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
