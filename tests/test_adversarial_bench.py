"""Adversarial benchmark flags (checked before a benchmark runs, one-line errors, exit status 2) and the
file modes of atomic writes (what `--record` and every cache write leave on disk)."""

import json
import os
import stat

import pytest

from descrambler import _io
from descrambler.__main__ import main
from descrambler.bookkit import benchmarks
from descrambler.bookkit.benchmarks import descramble, ensemble, library, replica, training


@pytest.fixture
def no_run(monkeypatch):
    """Make every benchmark fail loudly if it runs: a bad flag must stop before it."""
    def refuse(args):
        raise AssertionError("the benchmark ran")

    for module in (library, descramble, replica, training, ensemble):
        monkeypatch.setattr(module, "run", refuse)


def _one_line_error(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("argv, expected", [
    (["library", "--traces", "0"], "error: --traces: must be at least 1, got 0"),
    (["library", "--traces", "-5"], "error: --traces: must be at least 1, got -5"),
    (["library", "--traces", "2.5"], "error: --traces: expected an integer >= 1, got '2.5'"),
    (["library", "--traces", "1e5"], "error: --traces: expected an integer >= 1, got '1e5'"),
    (["library", "--repeats", "0"], "error: --repeats: must be at least 1, got 0"),
    (["descramble", "--sizes", "1"], "error: --sizes: must be at least 2, got 1"),
    (["descramble", "--sizes", "80", "0"], "error: --sizes: must be at least 2, got 0"),
    (["descramble", "--repeats", "0"], "error: --repeats: must be at least 1, got 0"),
    (["descramble", "--cayley-repeats", "0"], "error: --cayley-repeats: must be at least 1, got 0"),
    (["descramble", "--seed", "-1"], "error: --seed: must be at least 0, got -1"),
    (["descramble", "--gram-traces", "0"], "error: --gram-traces: must be at least 1, got 0"),
    (["descramble", "--gram-chunk", "x"], "error: --gram-chunk: expected an integer >= 1, got 'x'"),
    (["descramble", "--signals", "noise"], "error: --signals: invalid choice: 'noise'"),
    (["replica", "--n-train", "0"], "error: --n-train: must be at least 1, got 0"),
    (["replica", "--n-validation", "0"], "error: --n-validation: must be at least 1, got 0"),
    (["replica", "--repeats", "0"], "error: --repeats: must be at least 1, got 0"),
    (["training", "--repeats", "0"], "error: --repeats: must be at least 1, got 0"),
    (["training", "--seed", "-1"], "error: --seed: must be at least 0, got -1"),
    (["training", "--threads", "0"], "error: --threads: must be at least 1, got 0"),
    (["training", "--n-hidden", "x"], "error: --n-hidden: expected an integer >= 1, got 'x'"),
    (["training", "--profile", "paper"], "error: --profile: invalid choice: 'paper'"),
    (["training", "--net", "resnet"], "error: --net: invalid choice: 'resnet'"),
    (["training", "--out", "/"], "error: --out: / is a folder"),
    (["training", "--out", "/no/such/folder/m.safetensors"],
     "error: --out: cannot write in the folder /no/such/folder"),
    (["ensemble", "--sizes", "0"], "error: --sizes: must be at least 1, got 0"),
    (["ensemble", "--sizes", "4", "two"], "error: --sizes: expected an integer >= 1, got 'two'"),
    (["ensemble", "--workers", "0"], "error: --workers: must be at least 1, got 0"),
])
def test_bad_flags_are_one_line_errors_before_the_run(capsys, no_run, argv, expected):
    assert _one_line_error(capsys, ["bench", *argv]).startswith(expected)


def test_a_record_path_that_is_a_folder(capsys, no_run, tmp_path):
    err = _one_line_error(capsys, ["bench", "library", "--record", str(tmp_path)])
    assert err.startswith(f"error: --record: {tmp_path} is a folder; give a file")


def test_a_record_path_under_a_file(capsys, no_run, tmp_path):
    (tmp_path / "plain").write_text("x")
    err = _one_line_error(capsys, ["bench", "library", "--record", str(tmp_path / "plain" / "r.jsonl")])
    assert err.startswith(f"error: --record: {tmp_path / 'plain'} is not a folder")


@pytest.mark.parametrize("content", [b"not json\n", b'{"a": 1}\n{broken\n', b"\xff\xfe\x00binary"])
def test_a_record_file_that_is_not_json_lines(capsys, no_run, tmp_path, content):
    path = tmp_path / "results.jsonl"
    path.write_bytes(content)
    err = _one_line_error(capsys, ["bench", "library", "--record", str(path)])
    assert err.startswith(f"error: --record: {path} exists but is not a JSON-lines file")
    assert path.read_bytes() == content


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_record_file_in_a_read_only_folder(capsys, no_run, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = _one_line_error(capsys, ["bench", "library", "--record", str(folder / "r.jsonl")])
        assert err.startswith(f"error: --record: cannot write in the folder {folder}")
    finally:
        folder.chmod(0o700)


def test_a_good_record_path_in_new_folders_gets_the_records(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(library, "run", lambda args: [{"name": "x", "value": args.traces}])
    path = tmp_path / "new" / "deeper" / "results.jsonl"
    assert main(["bench", "library", "--traces", "3", "--record", str(path)]) == 0
    assert _io.read_jsonl(path) == [{"name": "x", "value": 3}]
    assert json.loads(capsys.readouterr().out) == {"name": "x", "value": 3}


def test_a_record_write_that_fails_after_the_run_keeps_the_printed_records(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(library, "run", lambda args: [{"name": "x", "value": 1}])

    def broken(path, records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(benchmarks, "append_records", broken)
    assert main(["bench", "library", "--record", str(tmp_path / "r.jsonl")]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"name": "x", "value": 1}
    assert captured.err.startswith("error: --record: cannot append to") and "printed above" in captured.err


def test_the_argparse_helpers_directly():
    assert benchmarks.positive_int_arg("7") == 7 and benchmarks.non_negative_int_arg("0") == 0
    assert benchmarks.int_at_least(2)("2") == 2
    with pytest.raises(Exception, match="must be at least 3, got 2"):
        benchmarks.int_at_least(3)("2")


# ---------------------------------------------------------------- atomic writes respect the umask

@pytest.fixture
def umask():
    """Set a umask for one test, restoring the old one."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
@pytest.mark.parametrize("write", [lambda p: _io.write_text(p, "x"), lambda p: _io.write_bytes(p, b"x"),
                                   lambda p: _io.write_jsonl(p, [{"a": 1}])])
def test_new_files_get_the_mode_open_would_give(tmp_path, umask, mask, mode, write):
    umask(mask)
    write(tmp_path / "new.txt")
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as stream:
        stream.write("x")
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)


@pytest.mark.parametrize("existing", [0o640, 0o600, 0o444, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask, existing):
    umask(0o022)
    path = tmp_path / "kept.txt"
    path.write_text("old")
    path.chmod(existing)
    _io.write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == existing


def test_the_file_being_written_stays_private(tmp_path, umask):
    umask(0o000)
    with _io.atomic_write(tmp_path / "f.txt") as stream:
        stream.write("x")
        (temporary,) = tmp_path.glob(".f.txt.*.part")
        assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o666


def test_current_umask_reads_without_changing_it(umask):
    umask(0o027)
    assert _io.current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # unchanged by the read


def test_an_ensemble_larger_than_the_confirmation_seeds_is_refused_before_training(capsys):
    import argparse

    with pytest.raises(SystemExit) as stop:
        ensemble.run(argparse.Namespace(sizes=[2, 101], profile="smoke", workers=None))
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --sizes: at most 100 (the confirmation seeds), got 101"


def test_n_hidden_only_for_the_book_network(capsys):
    import argparse

    args = argparse.Namespace(net="production", profile="smoke", n_hidden=3, seed=0, repeats=1, threads=1, out=None)
    with pytest.raises(SystemExit) as stop:
        training.run(args)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == ("error: --n-hidden: only for the two-layer book network, "
                                               "not --net production")


@pytest.mark.parametrize("argv, expected", [
    (["fidelity", "--only", "nope"], "error: name: unknown value 'nope'"),
    (["fidelity", "--seeds", "-1"], "error: --seeds: expected a non-negative integer, got -1"),
    (["fidelity", "--n-traces", "0"], "error: --n-traces: must be a positive integer, got 0"),
    (["ensemble", "--nets", "0"], "error: n_nets: must be a positive integer, got 0"),
    (["ensemble", "--nets", "101"], "error: n_nets: at most 100 confirmation seeds, got 101"),
    (["analyse", "/no/such/trace.txt"], "error: path: no such file"),
])
def test_other_commands_report_user_errors_in_one_line(capsys, monkeypatch, argv, expected):
    from descrambler.study import fidelity

    monkeypatch.setattr(fidelity, "run_candidate", lambda *a, **k: pytest.fail("ran before the arguments were checked"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(expected) and "Traceback" not in err and err.count("\n") == 1
