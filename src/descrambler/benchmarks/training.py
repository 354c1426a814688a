"""Benchmark: train the book's network (`descrambler.spec.book_spec`) from a random start; goal 0.31 in 120 s.

Times everything a fresh training needs (weight initialisation, training and validation library
generation, the epochs, the final validation) and reports the median relative error of the
distance distributions on the fixed validation library. With `--repeats N` the seeds
`seed .. seed + N - 1` are trained one after another and the medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from . import record

GOAL_ERROR = 0.31
GOAL_SECONDS = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="PATH", help="save the trained model (of --seed) here (safetensors)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first training (default 0)")
    parser.add_argument("--repeats", type=int, default=1, help="trainings with consecutive seeds (default 1)")
    parser.add_argument("--profile", choices=("full", "smoke"), default="full",
                        help="the book spec's profile to train (default full)")


def run(args: argparse.Namespace) -> list[dict]:
    from ..nets import save, train
    from ..nets.architectures import build
    from ..spec import book_spec

    spec = book_spec(args.profile)

    if args.repeats < 1:
        raise SystemExit("--repeats: must be at least 1")
    load_before = os.getloadavg()[0]
    runs = []
    for seed in range(args.seed, args.seed + args.repeats):
        start = time.perf_counter()
        model, history = train(build(spec.architecture), spec.train, seed=seed)
        runs.append({"seed": seed, "seconds": time.perf_counter() - start, "torch_threads": history["threads"],
                     **history["final"]})
        if args.out and seed == args.seed:
            save(model, args.out, {"train_config": spec.train.to_dict(), "seed": seed,
                                   "metrics": history["final"], "history": history})
    seconds = statistics.median(r["seconds"] for r in runs)
    error = statistics.median(r["median_rel_error"] for r in runs)
    peak = statistics.median(r["median_peak_error_nm"] for r in runs)
    return [record("training_median_rel_error", error, "median relative L2 error", seconds=seconds,
                   median_rel_error=error, median_peak_error_nm=peak,
                   meets_goal=bool(error <= GOAL_ERROR and seconds <= GOAL_SECONDS),
                   goal={"median_rel_error": GOAL_ERROR, "seconds": GOAL_SECONDS}, repeats=args.repeats,
                   runs=runs, output=spec.architecture["arguments"]["output"], profile=args.profile,
                   candidate=spec.candidate, architecture=spec.architecture, train_config=spec.train.to_dict(),
                   load_average_before=load_before, load_average_after=os.getloadavg()[0],
                   out=args.out)]
