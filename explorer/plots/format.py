"""How sizes and times read wherever the explorer shows them: figures, the app's tables, the HTML report.

One home so a latency reads the same in a hover label, a details panel and a report table.
"""

from __future__ import annotations


def fmt_bytes(n: float | int | None) -> str:
    if n is None:
        return "n/a"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"  # pragma: no cover


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    if ms < 0.01:
        return f"{ms * 1000:.2f} µs"
    return f"{ms:.4f} ms"


__all__ = ["fmt_bytes", "fmt_ms"]
