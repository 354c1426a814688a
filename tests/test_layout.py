"""The house by kind: what may import what, read from the source (imports inside functions included).

Wings, bottom to top: the private kernel (`_validate`, `_io`, `progress`), the method (`groups`, torch-free;
`layers`, the method on any torch module), generic networks (`nets`), the domains (`deer`, `signals`), the
user's door (`analyse`), the book's studies (`study`), the book's machinery (`bookkit`) and the command line.
The faces (`traces`, `bruker`, `spec`, `findings`) only keep documented import paths working.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest


PACKAGE = Path(__file__).resolve().parents[1] / "src" / "descrambler"
KERNEL = {"descrambler", "__version__", "_validate", "_io", "progress"}
FACES = {"traces": "deer", "bruker": "deer", "spec": "study", "findings": "study"}
#: Each wing and the wings it may import (besides itself and the kernel).
ALLOWED = {
    "groups": set(),
    "nets": set(),
    "layers": {"groups"},
    "deer": {"nets"},
    "signals": {"nets", "groups"},
    "analyse": {"deer", "nets", "groups", "study"},
    "study": {"groups", "layers", "nets", "deer", "signals", "analyse"},
    "bookkit": {"groups", "layers", "nets", "deer", "signals", "analyse", "study"},
    "__main__": {"groups", "layers", "nets", "deer", "signals", "analyse", "study", "bookkit"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every descrambler module `path` imports, at the top or inside a function."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] in ("descrambler", "torch")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] in ("descrambler", "torch"):
                found.add(target)
                found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def _wing(module: str) -> str:
    parts = module.split(".")
    return "descrambler" if len(parts) == 1 else parts[1]


def _edges() -> list[tuple[str, str, str]]:
    """(importing module, its wing, imported wing) for every import between wings."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        for target in _imports(path):
            if target.startswith("torch"):
                edges.append((source, _wing(source), "torch"))
            else:
                edges.append((source, _wing(source), _wing(target)))
    return edges


def test_the_import_graph_follows_the_wings():
    wrong = []
    for source, wing, target in _edges():
        if target in KERNEL or target == wing or wing in KERNEL:
            continue
        if wing in FACES:
            ok = target == FACES[wing]
        else:
            ok = target == "torch" or target in ALLOWED.get(wing, set())
        if not ok:
            wrong.append(f"{source} imports {target}")
    assert not wrong, "imports that run the wrong way:\n" + "\n".join(wrong)


def test_nothing_below_the_studies_imports_them():
    users = {source for source, wing, target in _edges() if target == "study"}
    assert {_wing(s) for s in users} <= {"study", "analyse", "bookkit", "__main__", "spec", "findings"}


def test_nets_imports_no_domain_and_groups_neither_torch_nor_a_domain():
    for source, wing, target in _edges():
        if wing == "nets":
            assert target not in {"deer", "signals", "analyse", "study", "bookkit"}, source
        if wing == "groups":
            assert target in KERNEL | {"groups"}, f"{source} imports {target}"


def test_no_private_name_crosses_a_module():
    crossing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("descrambler")):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name not in ("_validate", "_io")]
                if private and node.module not in ("_validate", "_io", None):
                    crossing.append(f"{_module_name(path)}: {node.module} {private}")
    assert not crossing, crossing


DOCUMENTED = ["descrambler.deer", "descrambler.traces", "descrambler.bruker", "descrambler.analyse", "descrambler.nets",
              "descrambler.groups", "descrambler.layers", "descrambler.spec", "descrambler.findings",
              "descrambler.findings.table", "descrambler.findings.readings", "descrambler.findings.reproduction"]


@pytest.mark.parametrize("path", DOCUMENTED)
def test_every_documented_import_path_works(path):
    module = importlib.import_module(path)
    for name in getattr(module, "__all__", []):
        assert hasattr(module, name), f"{path}.{name}"


def test_faces_are_the_real_modules_not_copies():
    from descrambler import analyse, bruker, deer, findings, spec, traces
    from descrambler.deer import bruker as real_bruker, traces as real_traces
    from descrambler.study import spec as real_spec
    from descrambler.study.findings import table as real_table
    assert traces.load_trace is real_traces.load_trace and bruker.read_bes3t is real_bruker.read_bes3t
    assert spec.book_spec is real_spec.book_spec
    assert importlib.import_module("descrambler.findings.table") is real_table is findings.table
    assert deer.LibraryConfig is importlib.import_module("descrambler.deer.simulate").LibraryConfig
    assert analyse.moments is deer.moments
