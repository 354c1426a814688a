"""Atomic file writes: a reader never sees a half-written file, an interrupted writer leaves none."""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux: /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not atomic across threads)
    os.umask(mask)
    return mask


def _final_mode(target: Path) -> int:
    """Permission bits the written file gets: those of the file it replaces, else what open() would
    give a new file (0o666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success move it over `path`, on failure delete it.

    The file ends with the permission bits a plain open() would give it: a new file 0o666 less the
    umask; a replaced file keeps its own mode (the temporary file itself stays private, 0o600, while
    it is written).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _final_mode(target))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_write(path, "wb") as stream:
        stream.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_write(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Every object of the JSON-lines file `path`, in file order; [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: str | os.PathLike, records) -> None:
    """Write `records` (JSON-ready dicts) to `path` as JSON lines, atomically, replacing the file."""
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def cache_dir() -> Path:
    """Folder for cached trained models: `$DESCRAMBLER_CACHE`, else ~/.cache/descrambler."""
    folder = os.environ.get("DESCRAMBLER_CACHE") or Path.home() / ".cache" / "descrambler"
    return Path(folder)


def package_data(name: str) -> Path:
    """The path of a data file or folder shipped inside the package (`descrambler/data/<name>`), found
    with importlib.resources so that it works from a source tree and from an installed wheel alike;
    FileNotFoundError naming what is missing (never a silent substitute)."""
    path = Path(os.fspath(importlib.resources.files("descrambler") / "data" / name))
    if not path.exists():
        raise FileNotFoundError(f"{name}: not found at {path}; the installed package lacks its data "
                                "(reinstall it from a wheel or source tree that includes descrambler/data)")
    return path
