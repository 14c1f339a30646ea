"""Write the table ``trtexec --dumpProfile`` prints, for the layers and numbers of a real ``--exportProfile`` JSON.

The A100 fixtures carry no trtexec log, so ``trtexec_dumpprofile_a100_fp32.log`` is made from
``tests/fixtures/trt/a100_resnet_fp32.profile.json`` (real exportProfile figures) in the layout of
``Profiler::print`` in trtexec's ``samples/common/sampleReporting.cpp`` (TensorRT OSS, per release):
column widths, decimals (2 for the total, 4 for mean and median, 1 for the share), the ``[I]`` log prefix,
the ``=== Profile (N iterations ) ===`` line, layers that did not run left out (8.6+), the ``Total`` row.

    python tests/data/logs/make_dump_profile.py   # rewrites trtexec_dumpprofile_a100_fp32.log
"""

from __future__ import annotations

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "fixtures", "trt", "a100_resnet_fp32.profile.json")
PREFIX = "[06/02/2026-10:15:42] [I] "
FIRST_LINE = ("# NOT trtexec output verbatim: the --dumpProfile table of a100_resnet_fp32.profile.json's real "
              "exportProfile numbers, laid out as trtexec's Profiler::print (sampleReporting.cpp) prints it; "
              "see make_dump_profile.py")


def table(profile: list[dict], layout: str = "8.6+") -> list[str]:
    """The lines trtexec prints (without the log prefix) for ``profile`` (an --exportProfile list)."""
    count = next((r["count"] for r in profile if "count" in r and "name" not in r), 1)
    rows = [r for r in profile if "name" in r]
    total = sum(r["timeMs"] for r in rows)
    median_total = total if count == 1 else sum(r.get("medianMs", r["averageMs"]) for r in rows)
    out = ["", f"=== Profile ({count} iterations ) ==="]
    if layout == "8.6+":
        out.append("   Time(ms)     Avg.(ms)   Median(ms)   Time(%)   Layer")
        for r in rows:
            if r["timeMs"] == 0:
                continue  # "there is no point to print profiling for layer that didn't run at all"
            out.append(f"{r['timeMs']:11.2f}{r['averageMs']:13.4f}{r['medianMs']:13.4f}"
                       f"{r['timeMs'] / total * 100:10.1f}   {r['name']}")
        out.append(f"{total:11.2f}{total / count:13.4f}{median_total:13.4f}{100.0:10.1f}   Total")
    else:
        width = max(max(len(r["name"]) for r in rows) + 1, len("Layer"))
        median = layout == "8.4"
        out.append(f"{'Layer':>{width}}   Time (ms)   Avg. Time (ms)" + ("   Median Time (ms)" if median else "")
                   + "   Time %")
        for r in rows + [{"name": "Total", "timeMs": total, "averageMs": total / count, "medianMs": median_total}]:
            share = r["timeMs"] / total * 100 if r["name"] != "Total" else 100.0
            out.append(f"{r['name']:>{width}}{r['timeMs']:12.2f}{r['averageMs']:17.4f}"
                       + (f"{r['medianMs']:19.4f}" if median else "") + f"{share:9.1f}")
    out.append("")
    return out


def main() -> None:
    with open(FIXTURE) as f:
        profile = json.load(f)
    lines = [FIRST_LINE] + [PREFIX + line for line in table(profile)]
    with open(os.path.join(HERE, "trtexec_dumpprofile_a100_fp32.log"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
