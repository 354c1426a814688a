"""Tests of the shared helpers: atomic writes, argument checks, progress bars, benchmark records."""

import json

import numpy as np
import pytest

from descrambler import _io, _validate
from descrambler.bookkit import benchmarks
from descrambler.progress import progress_bar, progress_enabled


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "out" / "file.txt"
    _io.write_text(path, "first")
    with pytest.raises(RuntimeError):
        with _io.atomic_write(path) as stream:
            stream.write("half written")
            raise RuntimeError("interrupted")
    assert path.read_text() == "first"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.txt"]  # no temporary left behind


def test_write_bytes_round_trip(tmp_path):
    _io.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    assert _io.cache_dir() == tmp_path


@pytest.mark.parametrize("call, message", [
    (lambda: _validate.as_array([[1, 2]], "S", ndim=1), "S: expected a 1-D array"),
    (lambda: _validate.as_array([1, np.inf], "S"), "S: contains NaN"),
    (lambda: _validate.as_array(["x"], "S"), "S: cannot be read"),
    (lambda: _validate.positive_int(True, "n"), "n: expected a positive integer"),
    (lambda: _validate.positive_int(0, "n"), "n: must be a positive integer"),
    (lambda: _validate.positive(np.nan, "dt"), "dt: must be finite"),
    (lambda: _validate.positive("1", "dt"), "dt: expected a positive number"),
    (lambda: _validate.choice("x", "method", ["a", "b"]), "method: unknown value 'x'"),
])
def test_validation_messages_name_the_argument(call, message):
    with pytest.raises(ValueError, match="^" + message):
        call()


def test_progress_is_quiet_under_ci_and_papermill(monkeypatch):
    monkeypatch.setenv("DESCRAMBLER_PROGRESS", "0")
    assert not progress_enabled()
    assert progress_bar(range(3)).disable
    monkeypatch.delenv("DESCRAMBLER_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()


def test_benchmark_records_append_and_read(tmp_path):
    path = tmp_path / "results.jsonl"
    first = benchmarks.record("x", 1.5, "s", repeats=3)
    benchmarks.append_records(path, [first])
    benchmarks.append_records(path, [benchmarks.record("y", 2, "traces/s")])
    records = benchmarks.read_records(path)
    assert [r["name"] for r in records] == ["x", "y"]
    assert records[0]["machine"]["cores"] >= 1 and json.loads(path.read_text().splitlines()[0])["value"] == 1.5
    assert "library" in benchmarks.names()


def test_json_lines_round_trip_and_missing_file(tmp_path):
    path = tmp_path / "records.jsonl"
    assert _io.read_jsonl(path) == []
    records = [{"a": 1}, {"b": [1.5, None]}]
    _io.write_jsonl(path, records)
    assert _io.read_jsonl(path) == records
    _io.write_jsonl(path, records[:1])  # replaces, never appends
    assert _io.read_jsonl(path) == records[:1]
