"""Tests of descrambler.bookkit.performance: the Performance page's scaling figure from benchmark records."""

import re

from descrambler.bookkit.performance import (
    machines,
    scaling_figure,
    scaling_markdown,
    scaling_series,
    series,
    write_scaling,
)

MACHINE = {"cpu": "Test CPU", "cores": 2}


def rec(name, value, date="2026-01-01", **extra):
    return {"name": name, "value": value, "unit": "s", "date": date, "machine": MACHINE, **extra}


RECORDS = [
    rec("ensemble_n1_seconds_per_net", 20.0, nets=1),
    rec("ensemble_n2_seconds_per_net", 11.0, nets=2),
    rec("ensemble_n2_seconds_per_net", 10.0, nets=2, date="2026-01-02"),  # later record at the same size wins
    rec("library_throughput", 1.5e5, traces=100_000),
    rec("training_median_rel_error", 0.25, seconds=19.0, architecture={"arguments": {"n_hidden": 80}}),
    rec("training_n_hidden160_median_rel_error", 0.24, seconds=30.0, architecture={"arguments": {"n_hidden": 160}}),
    rec("descramble_exact_n80", 0.003, n=80),
    rec("descramble_cayley_n80_seconds", 0.08, n=80),
    rec("descramble_cayley_n80_ratio", 1.0, n=80),  # not a time: must not enter the panel
    rec("gram_streamed_seconds", 1.2, traces=1_000_000),
]


def test_series_keeps_the_latest_record_per_size_sorted():
    points = series(RECORDS, re.compile(r"ensemble_n\d+_seconds_per_net"), lambda e: e["nets"])
    assert [(x, e["value"]) for x, e in points] == [(1.0, 20.0), (2.0, 10.0)]


def test_scaling_series_picks_each_panel():
    points = scaling_series(RECORDS)
    assert [x for x, _ in points["training"]] == [80.0, 160.0]
    assert [e["name"] for _, e in points["cayley"]] == ["descramble_cayley_n80_seconds"]
    assert len(points["library"]) == 1 and len(points["exact"]) == 1
    assert machines(points) == "Test CPU, 2 cores, 2026-01-01; Test CPU, 2 cores, 2026-01-02"


def test_no_series_gives_a_note_and_no_figure():
    assert scaling_figure([]) is None
    assert scaling_markdown(RECORDS[3:4], "x.png").startswith("No scaling series")


def test_write_scaling_writes_the_figure_and_its_caption(tmp_path):
    folder = tmp_path / "_generated"
    folder.mkdir()
    write_scaling(RECORDS, folder)
    text = (folder / "scaling.md").read_text()
    assert "](_generated/scaling.png)" in text and "Test CPU, 2 cores" in text
    assert (folder / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
