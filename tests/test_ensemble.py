"""Tests of descrambler.study.ensemble and its command: a tidy table, a resumable run, clear refusals."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from descrambler.study.ensemble import COLUMNS, run_ensemble, tidy_rows
from descrambler.study.findings.table import CLAIMS

ROOT = Path(__file__).resolve().parents[1]


def test_tidy_rows_hold_one_row_per_network_and_claim():
    result = {"claims": {c.key: 0.0 for c in CLAIMS},
              "controls": {"untrained": {c.key: 1.0 for c in CLAIMS}, "random": {c.key: 2.0 for c in CLAIMS}}}
    rows = tidy_rows("paper_reading", [1000, 1001], [0.3, 0.4], [result, result])
    assert len(rows) == 2 * len(CLAIMS) and set(rows[0]) == set(COLUMNS)
    assert rows[0]["verdict"] == CLAIMS[0].verdict(0.0) and rows[-1]["random"] == 2.0
    with pytest.raises(ValueError):
        tidy_rows("paper_reading", [1000], [0.3, 0.4], [result])


def test_smoke_ensemble_writes_its_table_and_reruns_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "cache"))
    out = run_ensemble(2, profile="smoke", out=tmp_path / "table.csv", workers=2)
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * len(CLAIMS) and {r["seed"] for r in rows} == {"1000", "1001"}
    cached = sorted((tmp_path / "cache").glob("*.safetensors"))
    again = run_ensemble(2, profile="smoke", out=tmp_path / "again.csv")
    assert sorted((tmp_path / "cache").glob("*.safetensors")) == cached  # nothing retrained
    assert again.read_text() == out.read_text()


@pytest.mark.parametrize("arguments, message", [(["--nets", "0"], "n_nets"), (["--nets", "101"], "n_nets")])
def test_command_refuses_bad_arguments_in_one_line(arguments, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "descrambler", "ensemble", *arguments, "--profile", "smoke"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.startswith("error: " + message)
    assert "Traceback" not in result.stderr
    unknown = subprocess.run([sys.executable, "-m", "descrambler", "ensemble", "--nets", "2", "--profile", "huge"],
                             cwd=ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
