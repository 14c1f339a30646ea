"""How sizes and times read wherever the explorer shows them: figures, the app's tables, the HTML report.

One home so a latency reads the same in a hover label, a details panel and a report table: three
significant digits (what a profiled time is good for), never a raw float.
"""

from __future__ import annotations

import math


def fmt_bytes(n: float | int | None) -> str:
    if n is None:
        return "n/a"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"  # pragma: no cover


def fmt_number(value: float | int | None, digits: int = 3) -> str:
    """A number for people: integers as they are, other values to ``digits`` significant digits without an
    exponent for everyday magnitudes (``0.806472899999`` -> ``0.806``, ``1234.5`` -> ``1234``)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{value:.0f}"
    if magnitude < -6:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits - 1 - magnitude}f}"


def fmt_ms(ms: float | None) -> str:
    """A time: µs below 0.01 ms, else ms, three significant digits."""
    if ms is None:
        return "n/a"
    if abs(ms) < 0.01 and ms != 0:
        return f"{fmt_number(ms * 1000)} µs"
    return f"{fmt_number(ms)} ms"


def fmt_spread(spread: tuple[float, float] | None) -> str:
    """``p10–p90 0.512–0.583 ms``: a latency's spread over the runs ("" when the source kept none)."""
    if not spread:
        return ""
    low, high = fmt_ms(spread[0]), fmt_ms(spread[1])
    if low.endswith(" ms") and high.endswith(" ms"):
        low = low[:-3]
    return f"p10–p90 {low}–{high}"


__all__ = ["fmt_bytes", "fmt_ms", "fmt_number", "fmt_spread"]
