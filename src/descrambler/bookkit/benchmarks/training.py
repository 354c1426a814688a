"""Benchmark: train the book's network (`descrambler.study.spec.book_spec`) from a random start; goal 0.31 in 120 s.

Times everything a fresh training needs (weight initialisation, training and validation library
generation, the epochs, the final validation) and reports the median relative error of the
distance distributions on the fixed validation library. With `--repeats N` the seeds
`seed .. seed + N - 1` are trained one after another and the medians are reported.

The same run measures the machine's matrix-multiply rate (a short microbenchmark on the training's
thread count: the training's own layer shape and a large square product) and reports where the
training's time goes: library generation, validation (estimated from one timed validation), and the
optimiser steps, whose arithmetic (6 floating-point operations per weight and trace: forward,
backward to the inputs and to the weights) is set against the measured rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from . import non_negative_int_arg, positive_int_arg, record

GOAL_ERROR = 0.31
GOAL_SECONDS = 120.0
#: The issue's goal for the book's primary network on this machine, seconds.
NEAR_LIMIT_SECONDS = 15.0


def model_path_arg(text: str) -> Path:
    """An argparse `type=` for `--out`: a file path whose folder exists and is writable (checked before training)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file, e.g. {path / 'model.safetensors'}")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in the folder {path.parent} (missing or not writable)")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="PATH", type=model_path_arg,
                        help="save the trained model (of --seed) here (safetensors)")
    parser.add_argument("--seed", type=non_negative_int_arg, default=0, help="seed of the first training (default 0)")
    parser.add_argument("--repeats", type=positive_int_arg, default=1,
                        help="trainings with consecutive seeds (default 1)")
    parser.add_argument("--profile", choices=("full", "smoke"), default="full",
                        help="the book spec's profile to train (default full)")
    parser.add_argument("--threads", type=positive_int_arg, default=1, help="torch threads during training (default 1)")
    parser.add_argument("--net", choices=tuple(NETS), default="book",
                        help="which network: the book's (default), the three-layer or production DEERNet of "
                             "chapter 10, or chapter 11's denoiser")
    parser.add_argument("--n-hidden", type=positive_int_arg, default=None,
                        help="link width of the two-layer net instead of the book's 80 (a scaling measurement)")


def matmul_gflops(m: int, k: int, n: int, threads: int, seconds: float = 0.5) -> float:
    """Median rate, GFLOP/s (2 m k n per product), of float32 (m x k) @ (k x n) products on `threads`
    torch threads, over five timings of about `seconds` / 5 each (after a warm-up)."""
    from ...nets.training import torch_threads

    with torch_threads(threads), torch.no_grad():
        a, b = torch.randn(m, k), torch.randn(k, n)
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < 0.05 or calls < 3:  # warm-up, and the calls per timing
            a @ b
            calls += 1
        per_timing = max(1, int(calls * seconds / 5 / (time.perf_counter() - start)))
        rates = []
        for _ in range(5):
            tic = time.perf_counter()
            for _ in range(per_timing):
                a @ b
            rates.append(2 * m * k * n * per_timing / (time.perf_counter() - tic) / 1e9)
    return statistics.median(rates)


def training_flop(model: torch.nn.Module, traces: int) -> float:
    """Floating-point operations of `traces` training passes: 6 per weight of every Linear layer
    (2 forward, 2 backward to the layer's input, 2 to its weights); biases and activations left out."""
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 6.0 * weights * traces


def _spec(net: str, profile: str):
    """The BookSpec of `net` (a key of NETS) for `profile`."""
    from ...study import deeper, denoising
    from ...study.spec import book_spec

    return {"book": book_spec, "three_layer": deeper.three_layer_spec, "production": deeper.production_spec,
            "denoiser": denoising.denoiser_spec}[net](profile)


#: The networks `--net` trains: the chapter that analyses each.
NETS = {"book": "chapter 2", "three_layer": "chapter 10", "production": "chapter 10", "denoiser": "chapter 11"}


def run(args: argparse.Namespace) -> list[dict]:
    from ...nets import save, train
    from ...nets.architectures import build, linear_layers
    from ...nets.training import validate

    spec = _spec(args.net, args.profile)
    architecture = spec.architecture
    if args.n_hidden is not None:
        if architecture["name"] != "two_layer":
            print(f"error: --n-hidden: only for the two-layer book network, not --net {args.net}", file=sys.stderr)
            raise SystemExit(2)
        architecture = {**architecture, "arguments": {**architecture["arguments"], "n_hidden": args.n_hidden}}
    load_before = os.getloadavg()[0]
    runs = []
    for seed in range(args.seed, args.seed + args.repeats):
        start = time.perf_counter()
        model, history = train(build(architecture), spec.train, seed=seed, threads=args.threads)
        seconds = time.perf_counter() - start
        tic = time.perf_counter()
        validate(model, spec.train)
        validations = (len(history.epoch) + 1) * (time.perf_counter() - tic)  # the initial one and one per epoch
        step_seconds = seconds - history.data_seconds[-1] - validations
        flop = training_flop(model, len(history.epoch) * (spec.train.n_train // spec.train.batch_size)
                             * spec.train.batch_size)
        runs.append({"seed": seed, "seconds": seconds, "torch_threads": history.threads,
                     "data_seconds": history.data_seconds[-1], "validation_seconds_estimated": validations,
                     "step_seconds": step_seconds, "training_gflop": flop / 1e9,
                     "achieved_gflops": flop / 1e9 / step_seconds, **history.final})
        if args.out and seed == args.seed:
            save(model, args.out, {"train_config": spec.train.to_dict(), "seed": seed,
                                   "metrics": history.final, "history": history.to_dict()})
    first = model[linear_layers(model)[0]]
    rate_layer = matmul_gflops(spec.train.batch_size, first.in_features, first.out_features, args.threads)
    rate_large = matmul_gflops(1024, 1024, 1024, args.threads)
    seconds = statistics.median(r["seconds"] for r in runs)
    error = statistics.median(r["median_rel_error"] for r in runs)
    peaks = [r["median_peak_error_nm"] for r in runs if r["median_peak_error_nm"] is not None]
    peak = statistics.median(peaks) if peaks else None  # None for the denoiser: no distances
    achieved = statistics.median(r["achieved_gflops"] for r in runs)
    name = "training" + ("" if args.net == "book" else f"_{args.net}") + (
        "" if args.n_hidden is None else f"_n_hidden{args.n_hidden}")
    return [record(f"{name}_median_rel_error", error, "median relative L2 error", seconds=seconds,
                   median_rel_error=error, median_peak_error_nm=peak,
                   meets_goal=bool(error <= GOAL_ERROR and seconds <= GOAL_SECONDS),
                   goal={"median_rel_error": GOAL_ERROR, "seconds": GOAL_SECONDS},
                   meets_near_limit_goal=bool(seconds <= NEAR_LIMIT_SECONDS), near_limit_seconds=NEAR_LIMIT_SECONDS,
                   repeats=args.repeats, threads=args.threads,
                   time_split_median={key: statistics.median(r[key] for r in runs)
                                      for key in ("data_seconds", "validation_seconds_estimated", "step_seconds")},
                   matmul_gflops_layer_shape=rate_layer, matmul_gflops_1024=rate_large,
                   achieved_gflops_in_steps=achieved, fraction_of_layer_shape_rate=achieved / rate_layer,
                   runs=runs, net=args.net, chapter=NETS[args.net], output=spec.architecture["arguments"].get("output"),
                   profile=args.profile,
                   candidate=spec.candidate, architecture=architecture, train_config=spec.train.to_dict(),
                   load_average_before=load_before, load_average_after=os.getloadavg()[0],
                   out=None if args.out is None else str(args.out))]
