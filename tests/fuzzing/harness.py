"""Run a campaign: cases go to a worker process that is watched for time, memory and crashes.

The worker runs in its own session, so when a case hangs or grows past the memory bound the whole
process group (the worker, its ONNX shape-inference child, a CLI subprocess) is stopped, the case is
recorded as ``timeout`` / ``memory`` / ``crash`` and a fresh worker takes the next case.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil

from .cases import FAMILIES

WORKER = Path(__file__).with_name("worker.py")
DEFAULT_TIMEOUT = 60.0  # seconds per case
DEFAULT_MEMORY_BOUND = int(1.5 * 1024**3)  # RSS growth of the worker and its children over its idle size
OUTCOMES = ("ok", "ExplorerError", "other")


@dataclass
class CampaignResult:
    seed: int
    source: str = "matrix"  # where the model cases took their verdicts
    results: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    peak_growth: int = 0  # bytes of RSS over the worker's idle size, worst case
    slowest: tuple[float, int] = (0.0, -1)  # seconds, case index

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["outcome"] not in ("ok", "ExplorerError")]

    def by_family(self) -> dict[str, Counter]:
        table: dict[str, Counter] = {family: Counter() for family in FAMILIES}
        for r in self.results:
            table.setdefault(r.get("family", "?"), Counter())[_bucket(r["outcome"])] += 1
        return {k: v for k, v in table.items() if v}


def _bucket(outcome: str) -> str:
    return outcome if outcome in ("ok", "ExplorerError") else "other"


class _Worker:
    def __init__(self, env: dict[str, str], log) -> None:
        self.process = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=log, env=env, start_new_session=True, bufsize=0)
        self.buffer = b""
        self.ps = psutil.Process(self.process.pid)
        ready = self.read_line(120.0, None)
        if ready is None or not ready.get("ready"):
            raise RuntimeError(f"fuzz worker did not start: {ready}")
        self.idle_rss = self.total_rss()

    def total_rss(self) -> int:
        total = 0
        try:
            procs = [self.ps] + self.ps.children(recursive=True)
        except psutil.Error:
            return 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def send(self, request: dict) -> None:
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()

    def read_line(self, timeout: float, on_poll: Callable[[], bool] | None):
        """The next JSON line; None on EOF; raises TimeoutError; ``on_poll`` returning True aborts (memory)."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], min(left, 0.05))
            if on_poll is not None and on_poll():
                raise MemoryError
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session: the worker and its children
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


def run_campaign(cases: int = 600, seed: int = 1, *, timeout: float = DEFAULT_TIMEOUT,
                 memory_bound: int = DEFAULT_MEMORY_BOUND, only: list[int] | None = None,
                 progress: Callable[[dict], None] | None = None, source: str = "matrix") -> CampaignResult:
    """Run cases ``0..cases-1`` (or ``only``) of ``seed``; every case gets an outcome. ``source``: where
    model cases take their verdicts (:data:`fuzzing.execute.SOURCES`; ``"tensorrt-rtx"``: the real parser,
    in its own isolated child)."""
    env = dict(os.environ)
    env.setdefault("EXPLORER_SHAPE_INFERENCE_TIMEOUT", "30")
    env.setdefault("EXPLORER_SHAPE_INFERENCE_MEMORY", str(2 * 1024**3))
    env["PYTHONWARNINGS"] = "ignore"
    result = CampaignResult(seed=seed, source=source)
    indexes = list(only) if only is not None else list(range(cases))
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        worker: _Worker | None = None
        try:
            for index in indexes:
                if worker is None:
                    worker = _Worker(env, log)
                peak = [0]

                def poll(w=worker, peak=peak) -> bool:
                    growth = w.total_rss() - w.idle_rss
                    peak[0] = max(peak[0], growth)
                    return growth > memory_bound

                case_start = time.perf_counter()
                worker.send({"seed": seed, "index": index, "source": source})
                try:
                    answer = worker.read_line(timeout, poll)
                except TimeoutError:
                    answer = {"outcome": "timeout", "detail": f"no answer within {timeout:.0f} s"}
                    worker.stop()
                    worker = None
                except MemoryError:
                    answer = {"outcome": "memory", "detail": f"RSS grew by {peak[0] / 1024**2:.0f} MiB "
                                                             f"(bound {memory_bound / 1024**2:.0f} MiB)"}
                    worker.stop()
                    worker = None
                else:
                    if answer is None:
                        code = worker.process.wait()
                        answer = {"outcome": "crash", "detail": f"worker died ({_how(code)}): "
                                                                f"{_tail(log)}"}
                        worker.stop()
                        worker = None
                seconds = time.perf_counter() - case_start
                if "family" not in answer or answer.get("family") == "?":
                    from .cases import make_case

                    try:
                        case = make_case(seed, index)
                        answer.setdefault("label", case.label[:300])
                        answer["family"] = case.family
                    except Exception:  # noqa: BLE001
                        answer["family"] = "?"
                answer["index"] = index
                answer["wall"] = seconds
                answer["rss_growth"] = peak[0]
                result.peak_growth = max(result.peak_growth, peak[0])
                if seconds > result.slowest[0]:
                    result.slowest = (seconds, index)
                result.results.append(answer)
                if progress is not None:
                    progress(answer)
        finally:
            if worker is not None:
                worker.stop()
    result.seconds = time.perf_counter() - start
    return result


def _how(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"


def _tail(log) -> str:
    try:
        log.seek(0, os.SEEK_END)
        size = log.tell()
        log.seek(max(0, size - 1500))
        return log.read().decode("utf-8", "replace")
    except OSError:
        return ""


def format_table(result: CampaignResult) -> str:
    """The Markdown table: cases tried by family and how they ended."""
    lines = ["| family | cases | ok | ExplorerError | other |", "|---|---:|---:|---:|---:|"]
    totals = Counter()
    for family, counts in result.by_family().items():
        n = sum(counts.values())
        totals.update(counts)
        totals["cases"] += n
        lines.append(f"| {family} | {n} | {counts['ok']} | {counts['ExplorerError']} | {counts['other']} |")
    lines.append(f"| **total** | **{totals['cases']}** | **{totals['ok']}** | **{totals['ExplorerError']}** | "
                 f"**{totals['other']}** |")
    return "\n".join(lines)


def describe(result: CampaignResult) -> str:
    """The table plus the run's figures and every failure, for the terminal and docs."""
    slow_s, slow_i = result.slowest
    parts = [format_table(result), "",
             f"seed {result.seed}, {len(result.results)} cases (verdicts: {result.source}) in {result.seconds:.1f} s "
             f"(slowest case {slow_i}: {slow_s:.1f} s); worst RSS growth of the worker and its children "
             f"{result.peak_growth / 1024**2:.0f} MiB"]
    for r in result.failures:
        parts.append(f"- case {r['index']} [{r.get('family')}] {r.get('label', '')}: {r['outcome']} "
                     f"{r.get('error_type', '')}: {r.get('detail', '')}")
    return "\n".join(parts)
