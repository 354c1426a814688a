"""Notebooks import only public names: nothing starting with an underscore, and only names a module lists
in its `__all__` where it has one (the API reference documents exactly those)."""

import ast
import importlib
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def descrambler_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from descrambler... import name` in the notebook's code cells."""
    notebook = nbformat.read(path, as_version=4)
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("descrambler"):
                found += [(node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_only_public_names(path):
    private = []
    for module_name, name in descrambler_imports(path):
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        submodule = (importlib.util.find_spec(f"{module_name}.{name}") is not None
                     if hasattr(module, "__path__") else False)
        if name.startswith("_") or (exported is not None and name not in exported and not submodule):
            private.append(f"{module_name}.{name}")
    assert private == [], f"{path.name} imports names that are not public: {private}"
