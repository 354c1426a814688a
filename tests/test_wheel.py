"""The library as a user installs it: a wheel, in a fresh virtual environment outside the repository.

The wheel must carry its data (measured traces, the digitised Fig. 2, the fidelity records) and their
licences, and find them with importlib.resources; nothing may fall back silently to another network.
The fresh environment borrows the test environment's dependencies (numpy, torch, ...) through a path file,
so only the package itself comes from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(python of a fresh venv with the wheel installed, the wheel)."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"  # built from a copy: setuptools leaves build/ and *.egg-info where it builds
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(where / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((where / "dist").glob("descrambler-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True)
    python = where / "venv" / "bin" / "python"
    target = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip())
    (target / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    return python, wheel


def _run(python: Path, code: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    return subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, env=environment)


def test_the_wheel_carries_its_data_and_licences(installed):
    names = zipfile.ZipFile(installed[1]).namelist()
    for name in ("descrambler/data/paper_fig2.npz", "descrambler/data/fidelity.jsonl", "descrambler/data/README.md",
                 "descrambler/data/kuprov/LICENSE.txt", "descrambler/data/kuprov/sample_I_DEERNet_input.dat"):
        assert name in names, name


def test_the_installed_package_finds_its_data_not_the_source_tree(installed, tmp_path):
    python, _ = installed
    code = ("import json, descrambler; from descrambler.analyse import kuprov_trace; "
            "from descrambler.study.paper_figures import figure2; from descrambler.study import fidelity; "
            "path = kuprov_trace('I'); figure = figure2(); "
            "print(json.dumps({'package': descrambler.__file__, 'trace': str(path), 'exists': path.exists(), "
            "'pick': fidelity.pick_spec('smoke').candidate, 'records': str(fidelity.RECORDS)}))")
    result = _run(python, code, tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert str(ROOT) not in found["package"] and str(ROOT) not in found["trace"], found
    assert found["exists"] and str(ROOT) not in found["records"]
    records = [json.loads(line) for line in (ROOT / "src/descrambler/data/fidelity.jsonl").read_text().splitlines()]
    from descrambler.study import fidelity
    assert found["pick"] == fidelity.candidate(fidelity.select(records)).name  # the pick, not a substitute


def test_the_installed_command_analyses_a_shipped_trace(installed, tmp_path):
    python, _ = installed
    code = ("import sys; from descrambler.__main__ import main; from descrambler.analyse import kuprov_trace; "
            "sys.exit(main(['analyse', str(kuprov_trace('III')), '--json', '--profile', 'smoke']))")
    result = _run(python, code, tmp_path, DESCRAMBLER_CACHE=str(tmp_path / "cache"), DESCRAMBLER_PROGRESS="0")
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout.strip().splitlines()[-1])
    assert 1.5 < analysis["mean_distance_nm"] < 8.0 and analysis["source"].endswith("sample_III_DEERNet_input.dat")
