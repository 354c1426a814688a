"""Benchmarks: `python -m descrambler bench NAME` prints one JSON object per line.

Each module in this package (`library`, `training`, `descramble`) defines `add_arguments(parser)` and
`run(args) -> list[dict]`; records come from `record()`, which names the machine they ran on.
With `--record FILE` the records are also appended to FILE (JSON lines), which the book's
Performance page reads.
"""

from __future__ import annotations

import os
import pkgutil
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from .._io import read_jsonl, write_jsonl
from .._validate import positive_int



def names() -> list[str]:
    """The benchmark modules of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__))


def machine() -> dict:
    """The machine a measurement ran on: processor, cores, Python and library versions."""
    import numpy
    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "torch": torch.__version__}


def median_seconds(function: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of `repeats` calls of `function` (after one warm-up call), and every time."""
    positive_int(repeats, "repeats")
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def record(name: str, value: float, unit: str, **extra) -> dict:
    """One benchmark result, stamped with the date and machine."""
    return {"name": name, "value": value, "unit": unit, **extra,
            "date": time.strftime("%Y-%m-%d"), "machine": machine()}


def append_records(path: str | os.PathLike, records: list[dict]) -> None:
    """Append `records` to the JSON-lines file `path` (rewritten atomically)."""
    write_jsonl(path, [*read_jsonl(path), *records])


def read_records(path: str | os.PathLike) -> list[dict]:
    """Every record of a JSON-lines results file, oldest first."""
    return read_jsonl(path)
