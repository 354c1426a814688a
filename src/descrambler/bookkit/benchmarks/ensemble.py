"""Benchmark: training an ensemble of the book's networks in parallel worker processes, seconds per net.

For each size N of `--sizes` (default 1 2 4 8 20), trains N networks of the book's primary pipeline
(confirmation seeds 1000, ...) from a random start with `descrambler.nets.train_or_load_many` (one
worker process per core), into an empty temporary model cache so that none is loaded. Reports the
wall time and the seconds per network: with W workers on W free cores it falls towards a W-th of one
training plus the start of the processes. With `--scheduler` (e.g. local-dask) each size is trained
twice in the same run, by the process pool and by the Dask executor, and the ratio of their seconds per
network is recorded (goal: Dask within 1.1x of the pool).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from . import int_at_least, positive_int_arg, record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int_at_least(1), nargs="+", default=[1, 2, 4, 8, 20],
                        help="ensemble sizes N (1 to 100)")
    parser.add_argument("--profile", choices=("full", "smoke"), default="full",
                        help="the book spec's profile to train (default full)")
    parser.add_argument("--workers", type=positive_int_arg, default=None,
                        help="worker processes (default: one per core)")
    parser.add_argument("--scheduler", default=None,
                        help="also train each size on this Dask scheduler ('local-dask' or an address) and record "
                             "its ratio to the process pool")


def run(args: argparse.Namespace) -> list[dict]:
    from ...study.spec import CONFIRMATION_SEEDS_100, book_spec

    if max(args.sizes) > len(CONFIRMATION_SEEDS_100):
        print(f"error: --sizes: at most {len(CONFIRMATION_SEEDS_100)} (the confirmation seeds), got {max(args.sizes)}",
              file=sys.stderr)
        raise SystemExit(2)
    spec = book_spec(args.profile)
    workers = args.workers or os.cpu_count() or 1
    records = []
    before = os.environ.get("DESCRAMBLER_CACHE")
    try:
        for n in args.sizes:
            timed = {}
            for executor in ("pool",) + ((args.scheduler,) if args.scheduler else ()):
                with tempfile.TemporaryDirectory(prefix="descrambler-bench-ensemble-") as folder:
                    os.environ["DESCRAMBLER_CACHE"] = folder  # the worker processes inherit it
                    load = os.getloadavg()[0]
                    start = time.perf_counter()
                    spec.networks(CONFIRMATION_SEEDS_100[:n], workers=workers, progress=False,
                                  scheduler=None if executor == "pool" else executor)
                    timed[executor] = seconds = time.perf_counter() - start
                name = f"ensemble_n{n}_seconds_per_net" + ("" if executor == "pool" else "_dask")
                records.append(record(name, seconds / n, "s", nets=n, seconds=seconds, workers=min(workers, n),
                                      executor=executor, profile=args.profile, candidate=spec.candidate,
                                      load_average_before=load, load_average_after=os.getloadavg()[0]))
            if args.scheduler:
                records.append(record(f"ensemble_n{n}_dask_over_pool", timed[args.scheduler] / timed["pool"], "ratio",
                                      nets=n, workers=min(workers, n), scheduler=args.scheduler))
    finally:
        if before is None:
            os.environ.pop("DESCRAMBLER_CACHE", None)
        else:
            os.environ["DESCRAMBLER_CACHE"] = before
    return records
