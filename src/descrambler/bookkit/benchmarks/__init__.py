"""Benchmarks: `python -m descrambler bench NAME` prints one JSON object per line.

Each module in this package (`library`, `training`, `descramble`) defines `add_arguments(parser)` and
`run(args) -> list[dict]`; records come from `record()`, which names the machine they ran on.
With `--record FILE` the records are also appended to FILE (JSON lines), which the book's
Performance page reads.

Every flag is checked by argparse before a benchmark runs: `positive_int_arg`, `non_negative_int_arg`,
`int_at_least(k)` and `record_path_arg` are the `type=` functions, and `BenchParser` prints a bad flag
as one line, "error: --traces: ...", and exits with status 2 (argparse's convention), no traceback.
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..._io import read_jsonl, write_jsonl
from ..._validate import positive_int


class BenchParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, "error: --flag: what is wrong", exit status 2."""

    def error(self, message: str):
        print(f"error: {message.removeprefix('argument ')}", file=sys.stderr)
        sys.exit(2)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type=`: an integer >= `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


#: argparse `type=`s: a count (>= 1) and a seed (>= 0).
positive_int_arg = int_at_least(1)
non_negative_int_arg = int_at_least(0)


def record_path_arg(text: str) -> Path:
    """An argparse `type=` for `--record`: a JSON-lines file that can be appended to, checked before
    the benchmark runs: not a folder, inside a folder that exists or can be made and is writable, and,
    if it exists, writable and readable as JSON lines."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file, e.g. {path / 'results.jsonl'}")
    folder = path.parent
    while not folder.exists():  # atomic_write creates the missing folders
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is not a folder, so {text} cannot be created")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in the folder {folder}")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise argparse.ArgumentTypeError(f"{text} exists but cannot be read and rewritten")
        try:
            read_jsonl(path)
        except (ValueError, UnicodeDecodeError) as error:  # json.JSONDecodeError is a ValueError
            raise argparse.ArgumentTypeError(f"{text} exists but is not a JSON-lines file ({error})") from None
    return path


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
