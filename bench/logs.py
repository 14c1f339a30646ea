"""Throughput and memory of the build-log reader on large synthetic logs in TensorRT's real formats.

    python bench/logs.py                 # 50 MB and 200 MB logs (in a temp dir, deleted afterwards)
    python bench/logs.py --sizes 20 80   # other sizes, in MB

The log repeats real 8.x and 10.x line formats (timing-runner blocks, tactic lines with names, skipped
tactics, "profiling completed", "Chose Runner", per-layer and total memory) for a model of ``--layers``
layers, rebuilt pass after pass as the builder does for several profiles/format combinations, with noise
lines in between. Each size is parsed twice: once timed (MB/s), once under tracemalloc (peak bytes).
Targets: >= 50 MB/s, and peak memory independent of the log's size.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.engine.readers.build_log import read_build_log  # noqa: E402

KERNELS = ["sm80_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize{a}x{b}x32_stage{s}_warpsize4x2x1_g1_tensor16x8x8_t1r3s3",
           "sm80_xmma_fprop_implicit_gemm_indexed_f32f32_f32f32_f32_nchwkcrs_nchw_tilesize{a}x{b}x8_stage{s}_warpsize4x1x1_g1_ffma_aligna4_alignc4",
           "ampere_scudnn_{a}x{b}_relu_xregs_large_nn_v{s}"]


def _candidates(index: int) -> list[tuple[int, str]]:
    """The tactics TensorRT would try for one layer: fixed per layer, as in a real rebuild."""
    rng = random.Random(index)
    return [(rng.getrandbits(64), rng.choice(KERNELS).format(a=rng.choice((64, 128, 256)), b=rng.choice((32, 64, 128)),
                                                               s=rng.randint(1, 6)))
            for _ in range(rng.randint(8, 16))]


def _layer_block(rng: random.Random, name: str, candidates: list, version: int, stamp: str) -> list[str]:
    p = f"{stamp} [V] [TRT] "
    lines = [f"{p}=============== Computing costs for {name}\n",
             f"{p}*************** Autotuning format combination: Float(802816,12544,112,1) -> "
             f"Float(802816,12544,112,1) ***************\n",
             f"{p}--------------- Timing Runner: {name} (CudaDepthwiseConvolution)\n",
             f"{p}CudaDepthwiseConvolution has no valid tactics for this config, skipping\n",
             f"{p}--------------- Timing Runner: {name} (CaskConvolution[0x80000009])\n"]
    timings = []
    for tactic, kernel in candidates[1:]:
        ms = rng.uniform(0.01, 2.0)  # timings vary from pass to pass, the candidates do not
        timings.append((ms, tactic))
        if version >= 10:
            lines.append(f"{p}Tactic Name: {kernel} Tactic: 0x{tactic:016x} Time: {ms:.6g}\n")
        else:
            lines.append(f"{p}{name} Set Tactic Name: {kernel} Tactic: 0x{tactic:016x}\n")
            lines.append(f"{p}Tactic: 0x{tactic:016x} Time: {ms:.6g}\n")
    skipped = candidates[0][0]
    lines.append(f"{p}Tactic: 0x{skipped:016x} skipped. Scratch requested: 1199616, available: 1048576\n")
    lines.append(f"{p}Deleting timing cache: 214 entries, served 528 hits since creation.\n")
    best = min(timings)
    if version >= 10:
        lines.append(f"{p}{name} (CaskConvolution[0x80000009]) profiling completed in 0.0813502 seconds. "
                     f"Fastest Tactic: 0x{best[1]:016x} Time: {best[0]:.6g}\n")
    else:
        lines.append(f"{p}Fastest Tactic: 0x{best[1]:016x} Time: {best[0]:.6g}\n")
    lines.append(f"{p}>>>>>>>>>>>>>>> Chose Runner Type: CaskConvolution Tactic: 0x{best[1]:016x}\n")
    return lines


def write_log(path: str, megabytes: float, layers: int = 2000, seed: int = 7) -> int:
    """Write a log of at least ``megabytes`` MB; returns its size in bytes."""
    rng = random.Random(seed)
    candidates = [_candidates(i) for i in range(layers)]
    names = [f"/model/stage{i // 100}/block{i % 100}/conv{i % 3}/Conv + /model/stage{i // 100}/block{i % 100}/act/Relu"
             for i in range(layers)]
    target = int(megabytes * 1e6)
    written = 0
    build = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            version = 10 if build % 2 else 8
            stamp = f"[01/15/2025-10:{build % 60:02d}:{rng.randint(0, 59):02d}]"
            out.write(f"{stamp} [I] [TRT] Local timing cache in use. Profiling results in this builder pass will not be stored.\n")
            chunk: list[str] = []
            for name, tried in zip(names, candidates):
                chunk.extend(_layer_block(rng, name, tried, version, stamp))
                if len(chunk) > 5000:
                    text = "".join(chunk)
                    out.write(text)
                    written += len(text)
                    chunk.clear()
                    if written >= target:
                        break
            for name in names[:: 7]:
                chunk.append(f"{stamp} [V] [TRT] Layer: {name} Host Persistent: {rng.randint(0, 4096)} "
                             f"Device Persistent: 0 Scratch Memory: {rng.randint(0, 1 << 20)}\n")
            chunk.append(f"{stamp} [I] [TRT] Total Host Persistent Memory: {rng.randint(10**4, 10**5)} bytes\n")
            chunk.append(f"{stamp} [I] [TRT] Total Activation Memory: {rng.randint(10**8, 10**9)} bytes\n")
            text = "".join(chunk)
            out.write(text)
            written += len(text)
            build += 1
    return os.path.getsize(path)


def measure(path: str) -> dict:
    size = os.path.getsize(path)
    start = time.perf_counter()
    report = read_build_log(path)
    seconds = time.perf_counter() - start
    records = len(report.tactics)
    del report
    tracemalloc.start()
    report = read_build_log(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"mb": size / 1e6, "seconds": seconds, "mb_per_s": size / 1e6 / seconds, "peak_mb": peak / 1e6,
            "records": records, "chosen": sum(1 for t in report.tactics if t.chosen)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[50, 200], help="log sizes in MB")
    parser.add_argument("--layers", type=int, default=2000, help="distinct layers in the synthetic model")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="explorer-logbench-") as tmp:
        for mb in args.sizes:
            path = os.path.join(tmp, f"build_{mb:g}MB.log")
            t0 = time.perf_counter()
            write_log(path, mb, layers=args.layers)
            gen = time.perf_counter() - t0
            row = measure(path)
            row["generate_s"] = gen
            rows.append(row)
            os.remove(path)
    print(f"{'log MB':>8} {'parse s':>8} {'MB/s':>7} {'tracemalloc peak MB':>20} {'tactic records':>15} {'chosen':>7}")
    for r in rows:
        print(f"{r['mb']:8.1f} {r['seconds']:8.2f} {r['mb_per_s']:7.1f} {r['peak_mb']:20.1f} {r['records']:15d} "
              f"{r['chosen']:7d}")
    slowest = min(r["mb_per_s"] for r in rows)
    peaks = [r["peak_mb"] for r in rows]
    growth = max(peaks) / min(peaks) if min(peaks) else float("inf")
    print(f"\nslowest {slowest:.1f} MB/s (target >= 50); peak memory ratio largest/smallest log {growth:.2f} "
          f"(independent of size when ~1)")
    return 0 if slowest >= 50 and growth < 1.25 else 1


if __name__ == "__main__":
    raise SystemExit(main())
