"""Tests of the book pipeline: a failing chapter stops the build, and the smoke book builds."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from descrambler.bookkit.build import BookError, benchmark_table, build, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]


def _notebook(*sources: str) -> nbformat.NotebookNode:
    cells = [nbformat.v4.new_markdown_cell("# A tiny chapter")]
    cells.append(nbformat.v4.new_code_cell(sources[0], metadata={"tags": ["parameters"]}))
    cells += [nbformat.v4.new_code_cell(source) for source in sources[1:]]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def _project(tmp_path: Path, notebook: nbformat.NotebookNode, smoke: dict | None = None) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book" / "preface.md").write_text("# Preface\n")
    (tmp_path / "_config.yml").write_text("title: test\nonly_build_toc_files: true\n"
                                          "execute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/preface\nchapters:\n"
                                       "  - file: notebooks/01_tiny\n")
    nbformat.write(notebook, tmp_path / "notebooks" / "01_tiny.ipynb")
    if smoke is not None:
        (tmp_path / "params" / "smoke").mkdir(parents=True)
        (tmp_path / "params" / "smoke" / "01_tiny.yaml").write_text(json.dumps(smoke))
    return tmp_path


@pytest.fixture
def quiet_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DESCRAMBLER_PROGRESS", "0")


def test_failing_chapter_names_chapter_and_cell_and_leaves_no_html(tmp_path, quiet_env):
    root = _project(tmp_path, _notebook("size = 3", "x = size * 2", "raise ValueError('boom')"))
    stale = root / "_build" / "html"
    stale.mkdir(parents=True)
    (stale / "index.html").write_text("an old book")
    with pytest.raises(BookError, match=r"chapter 01_tiny failed in cell 3 .*ValueError: boom"):
        build(root, profile="smoke", echo=lambda *a, **k: None)
    assert not stale.exists()
    assert not (root / "_build" / "stage" / "notebooks" / "01_tiny.ipynb").exists()


def test_smoke_parameters_are_injected_and_checked(tmp_path, quiet_env):
    root = _project(tmp_path, _notebook("size = 3", "assert size == 5"), smoke={"size": 5})
    runs = build(root, profile="smoke", html=False, echo=lambda *a, **k: None)
    assert [r.stem for r in runs] == ["01_tiny"] and runs[0].title == "A tiny chapter"
    assert runs[0].seconds > 0
    (root / "params" / "smoke" / "01_tiny.yaml").write_text("sise: 5\n")
    with pytest.raises(BookError, match="sise not in the parameters cell of 01_tiny"):
        build(root, profile="smoke", html=False, echo=lambda *a, **k: None)


def test_bad_profile_and_unknown_chapter(tmp_path, quiet_env):
    root = _project(tmp_path, _notebook("size = 3"))
    with pytest.raises(ValueError, match="^profile"):
        build(root, profile="medium")
    with pytest.raises(BookError, match="only: 02_missing"):
        build(root, profile="smoke", only=["02_missing"])


def test_benchmark_table_shows_latest_record_per_metric():
    machine = {"cpu": "test cpu", "cores": 2}
    table = benchmark_table([{"name": "a", "value": 1.0, "unit": "s", "machine": machine},
                             {"name": "a", "value": 2.0, "unit": "s", "machine": machine}])
    assert "| a | 2 | s |" in table and "| a | 1 |" not in table
    met = benchmark_table([{"name": "b", "value": 1.0, "unit": "s", "meets_goal": False, "machine": machine}])
    assert "**no**" in met


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """The whole book built once with the smoke profile, into a temporary folder."""
    output = tmp_path_factory.mktemp("book")
    env = dict(os.environ, DESCRAMBLER_CACHE=str(output / "cache"))
    result = subprocess.run([sys.executable, "-m", "descrambler", "book", "--profile", "smoke",
                             "--output", str(output)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output / "_build"


@pytest.mark.book
def test_every_chapter_executes_without_errors(smoke_book):
    for stem in toc_notebooks(ROOT):
        notebook = nbformat.read(smoke_book / "stage" / "notebooks" / f"{stem}.ipynb", as_version=4)
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
        assert outputs, f"{stem} has no outputs"
        assert not [o for o in outputs if o.output_type == "error"], f"{stem} has an error output"
        assert notebook.metadata.papermill.parameters, f"{stem} was not given smoke parameters"


@pytest.mark.book
def test_every_chapter_renders_with_figures(smoke_book):
    html = smoke_book / "html"
    assert (html / "index.html").exists()
    for stem in toc_notebooks(ROOT):
        page = (html / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
        assert "<img" in page, f"{stem} renders without figures"


@pytest.mark.book
def test_a_reader_finds_no_broken_page_in_the_smoke_book(smoke_book):
    """Every page: internal links, images, figures; with Chromium also console errors and a screenshot."""
    from descrambler.bookkit.htmlcheck import check_book

    reports = check_book(smoke_book / "html", smoke_book / "screenshots")
    assert len(reports) >= len(toc_notebooks(ROOT))
    assert {r.page: r.problems for r in reports if r.problems} == {}


@pytest.mark.book
def test_performance_page_shows_the_recorded_benchmarks(smoke_book):
    page = (smoke_book / "html" / "book" / "performance.html").read_text(encoding="utf-8")
    assert "library_throughput" in page and "training_median_rel_error" in page


@pytest.mark.book
def test_reproducibility_page_shows_runtime_table(smoke_book):
    page = (smoke_book / "html" / "book" / "reproducibility.html").read_text(encoding="utf-8")
    runtimes = json.loads((smoke_book / "runtimes.json").read_text())
    assert runtimes["profile"] == "smoke"
    for chapter in runtimes["chapters"]:
        assert chapter["stem"] in page


def test_partial_run_keeps_the_build_record_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("DESCRAMBLER_CACHE", raising=False)
    monkeypatch.delenv("DESCRAMBLER_PROGRESS", raising=False)
    root = _project(tmp_path, _notebook("size = 3", "import os; assert os.environ['DESCRAMBLER_PROGRESS'] == '0'"))
    record = root / "_build" / "runtimes.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"profile": "full", "chapters": []}')
    build(root, profile="smoke", only=["01_tiny"], echo=lambda *a, **k: None)
    assert json.loads(record.read_text())["profile"] == "full"
    assert "DESCRAMBLER_CACHE" not in os.environ and "DESCRAMBLER_PROGRESS" not in os.environ
    assert (root / "_build" / "stage" / "notebooks" / "01_tiny.ipynb").exists()
    assert not list((root / "_build" / "stage" / "notebooks").glob(".*running*"))


def test_performance_page_lists_recorded_benchmarks():
    records = [json.loads(line) for line in (ROOT / "benchmarks" / "results.jsonl").read_text().splitlines()]
    table = benchmark_table(records)
    for name in {r["name"] for r in records}:
        assert f"| {name} |" in table


def test_chapters_take_their_networks_from_the_one_spec():
    for stem in ("02_training", "04_first_layer", "05_second_layer", "06_fidelity", "07_findings", "08_replica",
                 "09_real_data", "10_deeper_deernet"):
        notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        assert "book_spec(profile)" in code, stem
        for copied in (r"TrainConfig\(", "DEFAULT_TRAIN_CONFIG", r"^n_train =", r"^epochs =", r"^library_seed ="):
            assert not re.search(copied, code, re.MULTILINE), (
                f"{stem} keeps its own copy of the training settings: {copied}")


@pytest.mark.book
def test_later_chapters_reuse_chapter_2s_cached_network(smoke_book):
    def printed(stem):
        notebook = nbformat.read(smoke_book / "stage" / "notebooks" / f"{stem}.ipynb", as_version=4)
        return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)

    assert "trained in" in printed("02_training")  # chapter 2 trains the book's network
    assert "(cached)" in printed("04_first_layer")  # chapter 4 finds it in the cache


def test_paper_profile_runs_the_findings_on_a_hundred_networks():
    from descrambler.bookkit.build import chapter_parameters

    assert chapter_parameters(ROOT, "07_findings", "paper") == {"n_networks": 100}
    assert chapter_parameters(ROOT, "02_training", "paper") == {}  # every other chapter at full size


# ---------------------------------------------------------------- faults: nothing half-built, one-line errors

def _fake_jupyter_book(behaviour):
    """A stand-in for the jupyter-book subprocess: writes a partial HTML book, then `behaviour`."""
    def run(command, **kwargs):
        html = Path(command[command.index("--path-output") + 1]) / "_build" / "html"
        html.mkdir(parents=True)
        (html / "index.html").write_text("half a book")
        if behaviour == "interrupt":
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(command, 1 if behaviour == "fail" else 0, "broken reference", "")
    return run


@pytest.mark.parametrize("behaviour, error", [("fail", BookError), ("interrupt", KeyboardInterrupt)])
def test_failed_or_interrupted_html_step_leaves_no_book(tmp_path, quiet_env, monkeypatch, behaviour, error):
    import descrambler.bookkit.build as book

    root = _project(tmp_path, _notebook("size = 3"))
    monkeypatch.setattr(book.subprocess, "run", _fake_jupyter_book(behaviour))
    with pytest.raises(error):
        build(root, profile="smoke", echo=lambda *a, **k: None)
    assert not (root / "_build" / "html").exists()
    assert not (root / "_build" / ".html-partial").exists()


def test_successful_html_step_replaces_the_book(tmp_path, quiet_env, monkeypatch):
    import descrambler.bookkit.build as book

    root = _project(tmp_path, _notebook("size = 3"))
    monkeypatch.setattr(book.subprocess, "run", _fake_jupyter_book("succeed"))
    index = book.build_html(root, root)
    assert index == root / "_build" / "html" / "index.html" and index.read_text() == "half a book"
    assert not (root / "_build" / ".html-partial").exists()


@pytest.mark.parametrize("text, message", [
    ("size: [5\n", r"01_tiny.yaml: not a valid YAML file of parameters: .*01_tiny.yaml"),
    ("size: '5'\n", r"01_tiny.yaml: size: expected a int like the notebook's default 3, got '5'"),
    ("size: 5.5\n", r"01_tiny.yaml: size: expected a int"),
    ("size: true\n", r"01_tiny.yaml: size: expected a int"),
    ("- size\n", r"01_tiny.yaml: expected a mapping"),
    ("name: 3\n", r"01_tiny.yaml: name: expected a str"),
    ("rate: 1\nsize: 3\n", None),  # an int is a fine float
])
def test_parameter_files_are_checked_before_any_chapter_runs(tmp_path, quiet_env, text, message):
    root = _project(tmp_path, _notebook("size = 3\nrate = 0.5\nname = 'a'", "open('ran', 'w').close()"), smoke={})
    (root / "params" / "smoke" / "01_tiny.yaml").write_text(text)
    if message is None:
        build(root, profile="smoke", html=False, echo=lambda *a, **k: None)
        return
    with pytest.raises(BookError, match=message):
        build(root, profile="smoke", echo=lambda *a, **k: None)
    assert not (root / "_build" / "stage").exists()


def test_a_malformed_benchmark_record_is_found_before_any_chapter_runs(tmp_path, quiet_env):
    root = _project(tmp_path, _notebook("size = 3"))
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "results.jsonl").write_text('{"name": "a", "value": 1, "unit": "s"}\n{"name": \n')
    with pytest.raises(BookError, match=r"results.jsonl: not a JSON-lines file"):
        build(root, profile="smoke", echo=lambda *a, **k: None)
    (root / "benchmarks" / "results.jsonl").write_text('{"name": "a", "value": 1, "unit": "s"}\n[1, 2]\n')
    with pytest.raises(BookError, match=r"results.jsonl: record 2 is not a benchmark record"):
        build(root, profile="smoke", echo=lambda *a, **k: None)
    assert not (root / "_build" / "stage").exists()


def test_bad_root_output_and_toc(tmp_path, quiet_env):
    (tmp_path / "project").mkdir()
    root = _project(tmp_path / "project", _notebook("size = 3"))
    with pytest.raises(BookError, match=r"^root: .* has no _toc.yml"):
        build(tmp_path, profile="smoke")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(BookError, match=r"^output: .*a_file is a file"):
        build(root, profile="smoke", output=tmp_path / "a_file")
    (root / "_toc.yml").write_text("format: [jb-book\n")
    with pytest.raises(BookError, match=r"_toc.yml: not a valid YAML file"):
        build(root, profile="smoke")


@pytest.mark.parametrize("argv, message", [
    (["book", "--root", "{tmp}"], "error: root: "),
    (["book", "--root", "{tmp}/project", "--output", "{tmp}/a_file"], "error: output: "),
])
def test_book_command_line_errors_are_one_line(tmp_path, quiet_env, capsys, argv, message):
    from descrambler.__main__ import main

    (tmp_path / "project").mkdir()
    _project(tmp_path / "project", _notebook("size = 3"))
    (tmp_path / "a_file").write_text("x")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err and len(err.strip().splitlines()) == 1
