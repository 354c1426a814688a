"""Which training reproduces the paper? A pre-registered rule over the candidate pipelines, and the records.

The candidates are data (`descrambler.study.pipelines`). The study trains each on the development seeds
(`descrambler.study.spec.DEVELOPMENT_SEEDS`), measures the paper's readings
(`descrambler.study.findings.table.CLAIMS`) and writes one record per network to `descrambler/data/fidelity.jsonl`
(`python -m descrambler fidelity`). `select` is the rule that picks the "paper profile" from those records;
it was fixed in code before the study ran. `pick_spec(profile)` is the book's spec of the candidate it picks,
which chapter 7 confirms on fresh seeds next to the paper's own network (`paper_reading`, the book's
primary network). Only this module computes the pick; with no records it is an error naming the file.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence

from .._io import package_data, read_jsonl, write_jsonl
from .._validate import positive_int
from ..nets import train_or_load
from .findings.reproduction import measure_networks
from .findings.table import findings_table
from .pipelines import ANCHOR, ANCHOR_2018, ANCHOR_WITHOUT_EXCHANGE, CANDIDATES, Candidate, candidate
from .spec import BookSpec, book_spec

__all__ = ["select", "score", "paper_candidate", "pick_spec", "run_candidate", "read_records", "write_records",
           "RECORDS", "CANDIDATES", "ANCHOR", "ANCHOR_2018", "ANCHOR_WITHOUT_EXCHANGE", "Candidate", "candidate"]

#: Where the study's records live: package data (committed, so that a fresh clone or an installed wheel
#: builds the book without rerunning the study).
RECORDS = package_data("fidelity.jsonl")


def score(verdicts: Sequence[str]) -> tuple[int, int]:
    """(claims that hold, claims that hold partly) of one candidate's overall verdicts."""
    return sum(v == "holds" for v in verdicts), sum(v == "partly" for v in verdicts)


def select(records: Sequence[dict]) -> str:
    """The pre-registered rule: the candidate whose readings reproduce most of the paper's claims.

    For each candidate, each claim's verdict is that of the median metric over its development seeds
    (`descrambler.study.findings.table.findings_table`). Candidates are ranked by the number of claims that hold,
    then by the number that hold partly, then by the lower median validation error (median over seeds of
    each network's median relative error). The anchor is not a candidate.
    """
    names = [c.name for c in CANDIDATES]
    runs = {name: [r for r in records if r["candidate"] == name] for name in names}
    runs = {name: rows for name, rows in runs.items() if rows}
    if not runs:
        raise ValueError("records: no record of any candidate")

    def rank(name: str):
        rows = runs[name]
        table = findings_table({key: [r["claims"][key] for r in rows] for key in rows[0]["claims"]})
        holds, partly = score([row.verdict for row in table])
        error = statistics.median(r["validation"]["median_rel_error"] for r in rows)
        return (-holds, -partly, error)

    return min(runs, key=rank)


def read_records(path: str | os.PathLike = RECORDS) -> list[dict]:
    """The study's records (one JSON object per network), oldest first; [] when there are none."""
    return read_jsonl(path)


def paper_candidate(path: str | os.PathLike = RECORDS) -> Candidate:
    """The candidate `select` picks from the study's records; ValueError naming `path` when it holds none
    (the pick is never silently replaced by another network)."""
    records = read_records(path)
    if not records:
        raise ValueError(f"path: {path} holds no record of the fidelity study; run "
                         "`python -m descrambler fidelity` to make them")
    return candidate(select(records))


def pick_spec(profile: str = "full", path: str | os.PathLike = RECORDS) -> BookSpec:
    """The book's spec (`book_spec`) of the candidate the study picks from the records at `path`."""
    return book_spec(profile, paper_candidate(path).name)


def run_candidate(item: Candidate, seeds: Sequence[int], n_traces: int, descramble_seed: int,
                  progress: bool | None = None) -> list[dict]:
    """Train (or load) `item` on each seed, read every claim, and return one record per network."""
    n_traces = positive_int(n_traces, "n_traces")
    networks = [train_or_load(seed=seed, architecture=item.architecture, config=item.train, progress=progress)
                for seed in seeds]
    tic = time.perf_counter()
    measured = measure_networks([model for model, _ in networks], item.train.data, n_traces, descramble_seed,
                                control_seeds=seeds, progress=progress)
    seconds = (time.perf_counter() - tic) / len(seeds)
    records = []
    for seed, (_, info), values in zip(seeds, networks, measured):
        records.append({"candidate": item.name, "change": item.change, "seed": seed,
                        "architecture": item.architecture, "train_config": item.train.to_dict(),
                        "validation": info["metrics"], "training_seconds": info["seconds"],
                        "best_epoch": info["history"].best_epoch, "epochs_run": len(info["history"].epoch),
                        "reading_seconds": seconds, "n_traces": n_traces, "descramble_seed": descramble_seed,
                        "claims": values["claims"], "extra": values["extra"], "controls": values["controls"],
                        "date": time.strftime("%Y-%m-%d")})
    return records


def write_records(path: str | os.PathLike, records: Sequence[dict]) -> None:
    """Replace the records file `path` with `records` (atomically)."""
    write_jsonl(path, records)
