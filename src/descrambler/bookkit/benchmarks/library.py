"""Benchmark: training-library generation throughput at the default configuration."""

from __future__ import annotations

import argparse

from . import median_seconds, positive_int_arg, record

GOAL_TRACES_PER_SECOND = 1e5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traces", type=positive_int_arg, default=100_000, help="traces per repeat (default 1e5)")
    parser.add_argument("--repeats", type=positive_int_arg, default=7, help="timed repeats; the median is reported")


def run(args: argparse.Namespace) -> list[dict]:
    from ...deer.simulate import make_library

    seconds, times = median_seconds(lambda: make_library(args.traces, seed=1), args.repeats)
    throughput = args.traces / seconds
    return [record("library_throughput", throughput, "traces/s", traces=args.traces, repeats=args.repeats,
                   median_seconds=seconds, seconds=times, goal=">= 1e5 traces/s",
                   meets_goal=bool(throughput >= GOAL_TRACES_PER_SECOND))]
