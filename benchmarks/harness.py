"""What every benchmark shares: timing side by side and the result row.

A benchmark module is ``benchmarks/bench_<topic>.py`` with a ``run()`` function
that returns a list of `Result`. Claims are ratios of two timings taken in the
same process, one right after the other, never absolute times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One row of the benchmark table.

    ``ratio`` is what the target speaks of, and ``minimum``/``maximum`` say
    which way it must go: ``minimum=2.0`` means "at least 2x".
    """

    name: str
    a_label: str
    a_seconds: float
    b_label: str
    b_seconds: float
    ratio: float
    minimum: float | None = None
    maximum: float | None = None
    note: str = ""

    @property
    def target(self) -> str:
        if self.minimum is not None:
            return f">= {self.minimum:g}"
        if self.maximum is not None:
            return f"<= {self.maximum:g}"
        return "-"

    @property
    def ok(self) -> bool:
        if self.minimum is not None and self.ratio < self.minimum:
            return False
        return not (self.maximum is not None and self.ratio > self.maximum)


def median_seconds(
    fn: Callable[[], object], repeats: int = 10, warmup: int = 2
) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def interleaved_medians(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    repeats: int = 10,
    warmup: int = 2,
) -> tuple[float, float]:
    """Median times of two functions measured alternately, so drift hits both."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    samples_a, samples_b = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        fn_a()
        samples_a.append(time.perf_counter() - start)
        start = time.perf_counter()
        fn_b()
        samples_b.append(time.perf_counter() - start)
    return statistics.median(samples_a), statistics.median(samples_b)


def format_table(results: list[Result]) -> str:
    """The table `make bench` prints: benchmark, A, B, ratio, target."""
    header = ("benchmark", "A", "B", "ratio", "target", "ok")
    rows = [
        (
            r.name,
            f"{r.a_label}: {_fmt_seconds(r.a_seconds)}",
            f"{r.b_label}: {_fmt_seconds(r.b_seconds)}",
            f"{r.ratio:.2f}",
            r.target,
            "yes" if r.ok else "NO",
        )
        for r in results
    ]
    widths = [
        max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))
    ]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in rows
    ]
    notes = [f"- {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"
