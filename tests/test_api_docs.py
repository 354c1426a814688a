"""The public API is documented: every name in the `__all__` of the public modules has a numpydoc
docstring (the book's API page, book/api.md, renders them) with every parameter of its signature,
a Raises section where it raises ValueError, and an example.

Checked on the source, not on the rendered page: a `Parameters` (or, for a dataclass, `Attributes`)
section lists "name : type" lines at the section's indentation ("a, b : type" for several names).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap

import pytest

#: The public modules of the API reference (book/api.md), under `descrambler`.
PUBLIC_MODULES = ("deer", "traces", "bruker", "layers", "analyse", "nets", "groups")
def _module(short: str):
    return importlib.import_module(f"descrambler.{short}")


def _exported() -> list[tuple[str, object]]:
    """("module.name", object) for every name in the public modules' __all__."""
    return [(f"{short}.{name}", getattr(_module(short), name))
            for short in PUBLIC_MODULES for name in _module(short).__all__]


def _is_data(obj) -> bool:
    return not (inspect.isclass(obj) or callable(obj))


def _params(items):
    """pytest parameters, one per exported object, named after it."""
    return [pytest.param(name, obj, id=name) for name, obj in items]


EXPORTED = _exported()
#: Exported functions and classes: each needs an example.
DOCUMENTED = [(name, obj) for name, obj in EXPORTED if not _is_data(obj)]


def _methods(cls) -> list[tuple[str, object]]:
    """Public methods and property getters defined on an exported class itself."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            found.append((name, value.fget))
        elif inspect.isfunction(value):
            found.append((name, value))
    return found


#: Property getters: they take no argument, and the state they read was checked when the object was
#: made, so they need no Raises section.
PROPERTIES = {f"{name}.{attribute}" for name, obj in DOCUMENTED if inspect.isclass(obj)
              for attribute, value in vars(obj).items() if isinstance(value, property)}


#: Everything whose signature is checked: exported functions, dataclasses and their public methods.
CALLABLES = []
for _name, _obj in DOCUMENTED:
    if inspect.isclass(_obj):
        if dataclasses.is_dataclass(_obj):
            CALLABLES.append((_name, _obj))
        CALLABLES += [(f"{_name}.{method}", function) for method, function in _methods(_obj)]
    else:
        CALLABLES.append((_name, _obj))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def sections(doc: str) -> dict[str, list[str]]:
    """numpydoc sections of a docstring: title (a line underlined by dashes) -> its lines."""
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, list[str]] = {}
    current = None
    skip = False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        below = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() and set(below.strip()) == {"-"} and len(below.strip()) >= len(line.strip())
                and _indent(below) == _indent(line)):
            current, skip = line.strip(), True
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return found


def documented_names(lines: list[str]) -> set[str]:
    """Names of the "name : type" (or bare "name") entries at the section's indentation."""
    body = [line for line in lines if line.strip()]
    if not body:
        return set()
    base = min(_indent(line) for line in body)
    names = set()
    for line in body:
        if _indent(line) == base:
            names.update(part.strip().lstrip("*") for part in line.split(" : ")[0].split(","))
    return names


def signature_names(obj) -> list[str]:
    """Parameters of `obj`'s signature, without self, *args and **kwargs."""
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [name for name, p in inspect.signature(obj).parameters.items() if name != "self" and p.kind not in skip]


def raises_value_error(obj) -> bool:
    """Whether the source of `obj`, or of a function of its package that it calls by name, says
    `raise ValueError` (the argument checks of `descrambler._validate` do)."""
    obj = inspect.unwrap(obj)
    source = textwrap.dedent(inspect.getsource(obj))
    if "raise ValueError" in source:
        return True
    namespace = obj.__globals__ if inspect.isfunction(obj) else vars(sys.modules[obj.__module__])
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            helper = namespace.get(node.func.id)
            helper = inspect.unwrap(helper) if inspect.isfunction(helper) else None
            if (helper is not None and helper.__module__.split(".")[0] == obj.__module__.split(".")[0]
                    and "raise ValueError" in inspect.getsource(helper)):
                return True
    return False


def missing_parameters(obj) -> list[str]:
    """The signature's parameters that the docstring of `obj` does not document."""
    found = sections(inspect.getdoc(obj) or "")
    titles = ("Parameters", "Attributes") if inspect.isclass(obj) else ("Parameters",)
    documented = set().union(*(documented_names(found.get(title, [])) for title in titles))
    return [name for name in signature_names(obj) if name not in documented]


# ---------------------------------------------------------------- the checks on a known answer

GOOD = '''Scale a trace.

    Parameters
    ----------
    trace : array_like
        The trace, us.
    low, high : float
        The range.

    Raises
    ------
    ValueError
        If `low` >= `high` (the message starts with "low:").

    Examples
    --------
    >>> 1 + 1
    2
    '''


def _good(trace, low, high, *args, **kwargs):
    if low >= high:
        raise ValueError("low: must be below high")


def _helper_raises(value):
    raise ValueError("value: bad")


def _calls_helper(value):
    _helper_raises(value)


def _silent(trace, low):
    """Scale a trace.

    Parameters
    ----------
    trace : array_like
        The trace; `low` is not documented.
    """


_good.__doc__ = GOOD


def test_parser_on_known_answers():
    found = sections(GOOD)
    assert set(found) == {"Parameters", "Raises", "Examples"}
    assert documented_names(found["Parameters"]) == {"trace", "low", "high"}
    assert missing_parameters(_good) == []
    assert missing_parameters(_silent) == ["low"]
    assert signature_names(_good) == ["trace", "low", "high"]
    assert raises_value_error(_good) and raises_value_error(_calls_helper)
    assert not raises_value_error(_silent)


# ---------------------------------------------------------------- the public modules

@pytest.mark.parametrize("short", PUBLIC_MODULES)
def test_public_module_has_all(short):
    module = _module(short)
    names = module.__all__
    assert module.__doc__ and module.__doc__.strip()
    assert len(names) == len(set(names)), f"descrambler.{short}.__all__ repeats a name"
    assert not [name for name in names if name.startswith("_")]
    assert not [name for name in names if not hasattr(module, name)]


def test_each_object_exported_once():
    """A name in two __all__ lists would be documented twice on the API page (a Sphinx warning)."""
    owners: dict[int, list[str]] = {}
    for name, obj in DOCUMENTED:
        owners.setdefault(id(obj), []).append(name)
    assert not [names for names in owners.values() if len(names) > 1]


@pytest.mark.parametrize("name, obj", _params(DOCUMENTED))
def test_docstring_summary_and_example(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name}: no docstring"
    assert doc.splitlines()[0].strip() and (len(doc.splitlines()) == 1 or not doc.splitlines()[1].strip()), \
        f"{name}: the summary is not one line followed by a blank line"
    examples = sections(doc).get("Examples", [])
    assert any(line.lstrip().startswith(">>>") for line in examples), f"{name}: no Examples section with >>> lines"


@pytest.mark.parametrize("name, obj", _params(CALLABLES))
def test_parameters_documented(name, obj):
    assert inspect.getdoc(obj), f"{name}: no docstring"
    assert missing_parameters(obj) == [], f"{name}: parameters missing from its Parameters section"


@pytest.mark.parametrize("name, obj", _params(CALLABLES))
def test_value_errors_documented(name, obj):
    if name in PROPERTIES or not raises_value_error(obj):
        return
    raises = sections(inspect.getdoc(obj) or "").get("Raises", [])
    assert "ValueError" in "\n".join(raises), f"{name}: raises ValueError without a Raises section naming it"


@pytest.mark.parametrize("name, obj", _params([(n, o) for n, o in EXPORTED if _is_data(o)]))
def test_constants_have_doc_comments(name, obj):
    """An exported constant carries a `#:` comment (what autodoc shows) where it is defined."""
    package = _module(name.split(".")[0])
    constant = name.split(".")[-1]
    files = [package.__file__]
    if hasattr(package, "__path__"):
        files += [importlib.util.find_spec(f"{package.__name__}.{info.name}").origin
                  for info in pkgutil.iter_modules(package.__path__)]
    pattern = re.compile(rf"^#:.*\n(?:#:.*\n)*{constant}\s*(?::[^=\n]*)?=", re.MULTILINE)
    assert any(pattern.search(open(path, encoding="utf-8").read()) for path in files), \
        f"{name}: no '#:' comment above its definition"
