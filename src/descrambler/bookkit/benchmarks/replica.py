"""Benchmark: fit the rational replica (filters + Eq. 13) and compare its error with the book's net.

Fits `descrambler.study.replica.fit_replica` (the paper's filters, T on filtered traces, gain control,
lambda at the L-curve corner) on a training library of `--n-train` traces (seed FIT_SEED) and
reports the fitting seconds (median of `--repeats` fits), lambda, and the median relative errors of the
replica and of the book's network (`book_spec(profile).network(0)`, trained or loaded from the cache)
on the same validation library (`validation_library(spec.library, --n-validation)`). Goal: the
replica's median error within GOAL_RATIO times the net's.
"""

from __future__ import annotations

import argparse

import numpy as np

from . import median_seconds, positive_int_arg, record

GOAL_RATIO = 1.3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("full", "smoke"), default="full",
                        help="the book spec's profile: its library and network (default full)")
    parser.add_argument("--n-train", type=positive_int_arg, default=50_000, help="training traces (default 5e4)")
    parser.add_argument("--n-validation", type=positive_int_arg, default=5000, help="validation traces (default 5000)")
    parser.add_argument("--repeats", type=positive_int_arg, default=3,
                        help="timed fits; the median is reported (default 3)")


def run(args: argparse.Namespace) -> list[dict]:
    from ...deer.simulate import make_library
    from ...deer import validation_library
    from ...study.replica import FIT_SEED, evaluate, fit_replica
    from ...study.spec import book_spec

    spec = book_spec(args.profile)
    library = make_library(args.n_train, spec.library, seed=FIT_SEED)
    validation = validation_library(spec.library, args.n_validation)
    model, _ = spec.network(0)
    replica = fit_replica(library)
    seconds, times = median_seconds(lambda: fit_replica(library), args.repeats)
    replica_error = float(np.median(evaluate(replica, validation)))
    net_error = float(np.median(evaluate(model, validation)))
    ratio = replica_error / net_error
    return [record("replica_median_rel_error", replica_error, "median relative L2 error", seconds=seconds,
                   fit_seconds=seconds, times=times, lam=replica.lam,
                   lam_relative=replica.lam / replica.lcurve.lams[-1],
                   replica_median_rel_error=replica_error, net_median_rel_error=net_error, ratio=ratio,
                   goal={"ratio_to_net": GOAL_RATIO}, meets_goal=bool(ratio <= GOAL_RATIO),
                   profile=args.profile, candidate=spec.candidate,
                   n_train=args.n_train, n_validation=args.n_validation, repeats=args.repeats,
                   library_seed=FIT_SEED)]
