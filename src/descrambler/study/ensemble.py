"""An ensemble of the book's networks read the paper's way: `python -m descrambler ensemble --nets N`.

Trains (or loads from the model cache) N networks of one pipeline with the confirmation seeds, the missing
ones in parallel worker processes (`descrambler.nets.train_or_load_many`: an interrupted run keeps every
network already trained, so a rerun continues), reads each with its null controls
(`descrambler.study.findings.reproduction.measure_networks`) and writes a tidy CSV table, one row per network
and claim, atomically.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from .._io import cache_dir, write_text
from .._validate import choice, positive_int
from .fidelity import pick_spec
from .findings.reproduction import measure_networks
from .findings.table import CLAIMS
from .spec import CONFIRMATION_SEEDS_100, PROFILES, book_spec

#: Which pipeline: the paper's network, or the fidelity study's pick.
PIPELINES = ("paper", "pick")
#: Columns of the tidy table.
COLUMNS = ("candidate", "seed", "claim", "value", "verdict", "untrained", "random", "median_rel_error")


def tidy_rows(candidate: str, seeds: Sequence[int], errors: Sequence[float], measured: Sequence[dict]) -> list[dict]:
    """One row per network and claim: the metric, its verdict, and the two null controls' metrics."""
    rows = []
    for seed, error, result in zip(seeds, errors, measured, strict=True):
        for claim in CLAIMS:
            value = result["claims"][claim.key]
            rows.append({"candidate": candidate, "seed": seed, "claim": claim.key, "value": value,
                         "verdict": claim.verdict(value), "untrained": result["controls"]["untrained"][claim.key],
                         "random": result["controls"]["random"][claim.key], "median_rel_error": error})
    return rows


def run_ensemble(n_nets: int, profile: str = "full", pipeline: str = "paper", out: str | os.PathLike | None = None,
                 workers: int | None = None, progress: bool | None = None, scheduler: str | None = None) -> Path:
    """Train or load `n_nets` networks (confirmation seeds 1000, 1001, ...), read them, write the table.

    `out` defaults to `ensemble-<candidate>-<profile>-<n_nets>.csv` in the model cache folder. Returns its path.
    `scheduler` ("local-dask" or a Dask scheduler's address) trains the missing networks on a Dask cluster;
    the table is the same either way.
    """
    n_nets = positive_int(n_nets, "n_nets")
    if n_nets > len(CONFIRMATION_SEEDS_100):
        raise ValueError(f"n_nets: at most {len(CONFIRMATION_SEEDS_100)} confirmation seeds, got {n_nets}")
    choice(profile, "profile", PROFILES)
    choice(pipeline, "pipeline", PIPELINES)
    spec = book_spec(profile) if pipeline == "paper" else pick_spec(profile)
    out = Path(out) if out is not None else cache_dir() / f"ensemble-{spec.candidate}-{profile}-{n_nets}.csv"
    if out.exists() and out.is_dir():
        raise ValueError(f"out: {out} is a folder; give a file name")
    seeds = list(CONFIRMATION_SEEDS_100[:n_nets])
    networks = spec.networks(seeds, workers=workers, progress=progress, scheduler=scheduler)
    measured = measure_networks([model for model, _ in networks], spec.library, spec.n_traces,
                                spec.descramble_seed, control_seeds=seeds, progress=progress)
    rows = tidy_rows(spec.candidate, seeds, [info["metrics"]["median_rel_error"] for _, info in networks], measured)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out, buffer.getvalue())
    return out
