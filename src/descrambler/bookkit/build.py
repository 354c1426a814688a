"""Build the book: execute every chapter with papermill, then build the HTML with Jupyter Book.

The committed notebooks hold no outputs. Each run copies the book's sources into a fresh staging
folder (`_build/stage`), executes the chapters there (working directory: the staged notebooks
folder, kernel `python3`) with the parameters of the chosen profile (`params/<profile>/<chapter>.yaml`;
the full profile uses the canonical values of each notebook's `parameters` cell), writes the
generated pages (the per-chapter runtime table, the benchmark results), and builds `_build/html`
with execution off, failing on any warning. A failing chapter stops the build, naming the
chapter and the cell, and removes `_build/html`, so a stale book is never left to be published.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill
import yaml
from papermill.exceptions import PapermillExecutionError

from .._io import write_text
from .._validate import choice
from . import performance
from ..study.spec import PROFILES
from .benchmarks import read_records

#: Copied into the staging folder before execution.
SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book")
#: Longest a single notebook cell may run, seconds.
CELL_TIMEOUT = 3600


class BookError(RuntimeError):
    """A chapter failed to execute or the book failed to build."""


@dataclasses.dataclass
class ChapterRun:
    """One executed chapter: its notebook stem, title and papermill wall time in seconds."""

    stem: str
    title: str
    seconds: float


def toc_notebooks(root: Path) -> list[str]:
    """Stems of the notebooks listed in `_toc.yml`, in reading order."""
    try:
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        message = " ".join(str(error).replace("<unicode string>", str(root / "_toc.yml")).split())
        raise BookError(f"{root / '_toc.yml'}: not a valid YAML file: {message}") from None
    files: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [Path(f).stem for f in files if Path(f).parent.name == "notebooks"]


def chapter_parameters(root: Path, stem: str, profile: str) -> dict:
    """The parameters a profile passes to a chapter, checked against the notebook's `parameters` cell."""
    choice(profile, "profile", PROFILES)
    path = root / "params" / profile / f"{stem}.yaml"
    try:
        parameters = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        message = " ".join(str(error).replace("<unicode string>", str(path)).split())
        raise BookError(f"{path}: not a valid YAML file of parameters: {message}") from None
    if not isinstance(parameters, dict):
        raise BookError(f"{path}: expected a mapping of parameter names to values")
    known = papermill.inspect_notebook(str(root / "notebooks" / f"{stem}.ipynb"))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise BookError(f"{path}: {', '.join(unknown)} not in the parameters cell of {stem} "
                        f"(known: {', '.join(known) or 'none'})")
    for name, value in parameters.items():
        check_parameter_type(path, name, value, known[name]["default"])
    return parameters


def check_parameter_type(path: Path, name: str, value, default: str) -> None:
    """BookError unless `value` has the type of the parameters cell's `default` (source text); an int
    passes for a float, and a default that is an expression, not a literal, is not checked."""
    try:
        expected = type(ast.literal_eval(default))
    except (ValueError, SyntaxError):
        return
    fits = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        fits = True
    if not fits and default != "None":
        raise BookError(f"{path}: {name}: expected a {expected.__name__} like the notebook's default "
                        f"{default}, got {value!r}")


def notebook_title(notebook: nbformat.NotebookNode, default: str) -> str:
    """The first level-1 Markdown heading of a notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def execute_chapter(root: Path, stage: Path, stem: str, profile: str) -> ChapterRun:
    """Execute one chapter into the staging folder; raise BookError naming the chapter and cell."""
    parameters = chapter_parameters(root, stem, profile)
    executed = stage / "notebooks" / f"{stem}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.unlink(missing_ok=True)  # never leave an older execution in place of a failed one
    partial = executed.with_name(f".{stem}.running.ipynb")  # papermill writes as it goes
    try:
        papermill.execute_notebook(
            str(root / "notebooks" / f"{stem}.ipynb"), str(partial), parameters=parameters,
            cwd=str(executed.parent), kernel_name="python3", progress_bar=False, log_output=False,
            execution_timeout=CELL_TIMEOUT)
    except BaseException as error:  # failed, timed out, kernel died, or interrupted: keep nothing
        partial.unlink(missing_ok=True)
        if isinstance(error, PapermillExecutionError):
            raise BookError(f"chapter {stem} failed in cell {error.cell_index} (execution count "
                            f"{error.exec_count}): {error.ename}: {error.evalue}\n--- cell source ---\n"
                            f"{error.source}") from None
        if isinstance(error, Exception):
            raise BookError(f"chapter {stem} could not be executed: {type(error).__name__}: {error}") from None
        raise
    os.replace(partial, executed)
    notebook = nbformat.read(executed, as_version=4)
    return ChapterRun(stem, notebook_title(notebook, stem), float(notebook.metadata.papermill.duration))


def runtime_table(runs: list[ChapterRun], profile: str) -> str:
    """Markdown table of per-chapter execution times."""
    lines = ["| chapter | title | seconds |", "| --- | --- | ---: |"]
    lines += [f"| {run.stem} | {run.title} | {run.seconds:.1f} |" for run in runs]
    lines.append(f"| **all** | | **{sum(run.seconds for run in runs):.1f}** |")
    cores = os.cpu_count()
    return (f"Profile `{profile}`, executed {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{platform.machine()} with {cores} cores, Python {platform.python_version()}.\n\n"
            + "\n".join(lines) + "\n")


def benchmark_table(records: list[dict]) -> str:
    """Markdown table of the latest record of each benchmark metric (with its wall time, if recorded)."""
    latest: dict[str, dict] = {}
    for entry in records:
        latest[entry["name"]] = entry
    if not latest:
        return "No benchmark has been recorded yet: run `make bench`.\n"

    def shown(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| benchmark | value | unit | seconds | goal met | date | machine |",
             "| --- | ---: | --- | ---: | --- | --- | --- |"]
    for name, entry in latest.items():
        m = entry.get("machine", {})
        seconds = entry.get("seconds") if entry.get("unit") != "s" else None
        met = {True: "yes", False: "**no**"}.get(entry.get("meets_goal"), "")
        lines.append(f"| {name} | {shown(entry['value'])} | {entry['unit']} | "
                     f"{shown(seconds) if isinstance(seconds, (int, float)) else ''} | {met} | "
                     f"{entry.get('date', '')} | {m.get('cpu', '?')}, {m.get('cores', '?')} cores |")
    return "\n".join(lines) + "\n"


def stage_sources(root: Path, stage: Path, fresh: bool = True) -> None:
    """Staging folder holding the book's sources; `fresh` removes everything staged before (executed
    chapters included), otherwise earlier executed chapters stay."""
    if fresh and stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, stage / name, dirs_exist_ok=True)
        elif source.exists():
            shutil.copy2(source, stage / name)


def build_html(stage: Path, output: Path) -> Path:
    """Run Jupyter Book on the staged sources, warnings as errors; return `output/_build/html/index.html`.

    Jupyter Book writes into a partial folder (`output/_build/.html-partial`) that replaces
    `output/_build/html` only when it succeeded: a failed or interrupted HTML step leaves no book behind.
    """
    partial = output / "_build" / ".html-partial"
    final = output / "_build" / "html"
    shutil.rmtree(partial, ignore_errors=True)
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(stage),
               "--path-output", str(partial), "-W", "-n", "--keep-going"]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not (partial / "_build" / "html" / "index.html").exists():
            raise BookError("jupyter-book build failed:\n" + result.stdout[-6000:] + result.stderr[-6000:])
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial / "_build" / "html", final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final / "index.html"


def read_benchmark_records(root: Path) -> list[dict]:
    """The benchmark records of `root/benchmarks/results.jsonl`; BookError naming the file if one is malformed."""
    path = root / "benchmarks" / "results.jsonl"
    try:
        records = read_records(path)
    except ValueError as error:
        raise BookError(f"{path}: not a JSON-lines file of benchmark records: {error}") from None
    bad = [i + 1 for i, entry in enumerate(records)
           if not isinstance(entry, dict) or not {"name", "value", "unit"} <= set(entry)]
    if bad:
        raise BookError(f"{path}: record {bad[0]} is not a benchmark record (needs name, value and unit)")
    return records


def check_folders(root: Path, output: Path) -> None:
    """BookError unless `root` holds the book's `_toc.yml` and `output` can hold `_build`."""
    if not (root / "_toc.yml").is_file():
        raise BookError(f"root: {root} has no _toc.yml; give the project folder (the one holding _toc.yml)")
    if output.exists() and not output.is_dir():
        raise BookError(f"output: {output} is a file, not a folder")
    existing = next((p for p in (output / "_build", output, *output.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise BookError(f"output: cannot write under {existing}")


@contextlib.contextmanager
def kernel_environment(cache: Path) -> Iterator[None]:
    """Environment the kernels inherit while chapters run: no progress bars in the logs, and the model
    cache in `cache` unless `$DESCRAMBLER_CACHE` is set. Restored afterwards."""
    names = ("DESCRAMBLER_PROGRESS", "DESCRAMBLER_CACHE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["DESCRAMBLER_PROGRESS"] = "0"
    os.environ.setdefault("DESCRAMBLER_CACHE", str(cache))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build(root: str | os.PathLike = ".", profile: str = "full", only: list[str] | None = None,
          html: bool = True, output: str | os.PathLike | None = None, echo=print) -> list[ChapterRun]:
    """Execute the chapters (all in `_toc.yml`, or `only` these stems without HTML) and build the book.

    Everything is written under `output/_build` (default: `root/_build`): the staged and executed
    sources, `runtimes.json`, the model cache (unless `$DESCRAMBLER_CACHE` is set) and `html/`.
    """
    root = Path(root).resolve()
    output = root if output is None else Path(output).resolve()
    choice(profile, "profile", PROFILES)
    check_folders(root, output)
    stems = toc_notebooks(root)
    if only:
        missing = sorted(set(only) - set(stems))
        if missing:
            raise BookError(f"only: {', '.join(missing)} not among the chapters in _toc.yml ({', '.join(stems)})")
        stems, html = [s for s in stems if s in only], False
    missing = [s for s in stems if not (root / "notebooks" / f"{s}.ipynb").exists()]
    if missing:
        raise BookError(f"_toc.yml lists chapters with no notebook in notebooks/: {', '.join(missing)}")
    for stem in stems:  # every parameter file is checked before any chapter runs
        chapter_parameters(root, stem, profile)
    records = read_benchmark_records(root) if html else []
    stage = output / "_build" / "stage"
    if html:
        shutil.rmtree(output / "_build" / "html", ignore_errors=True)
    stage_sources(root, stage, fresh=not only)
    runs = []
    with kernel_environment(output / "_build" / "cache"):
        for stem in stems:
            echo(f"executing {stem} ({profile}) ...", flush=True)
            runs.append(execute_chapter(root, stage, stem, profile))
            echo(f"  {runs[-1].seconds:.1f} s", flush=True)
    table = runtime_table(runs, profile)
    echo(table)
    if not only:  # the record of a whole build; a partial run does not overwrite it
        write_text(output / "_build" / "runtimes.json",
                   json.dumps({"profile": profile, "chapters": [dataclasses.asdict(r) for r in runs]}, indent=1))
    if html:
        generated = stage / "book" / "_generated"
        write_text(generated / "runtimes.md", table)
        write_text(generated / "benchmarks.md", benchmark_table(records))
        performance.write_scaling(records, generated)
        echo(f"book: {build_html(stage, output)}")
    return runs
