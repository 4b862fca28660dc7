"""Runs every ``benchmarks/bench_*.py`` (or those named) and prints one table.

Usage: ``python -m benchmarks [NAME ...]`` where NAME is the part after
``bench_``. Exits with status 1 when a ratio misses its target.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.harness import Result, format_table


def _available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> int:
    available = _available()
    names = argv or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        print(f"Unknown benchmark(s) {unknown}; expected some of {available}.")
        return 2
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"running {name} ...", flush=True)
        results.extend(module.run())
    print()
    print(format_table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
