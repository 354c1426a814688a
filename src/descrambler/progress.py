"""Progress bars that show in a terminal or an interactive notebook and stay quiet elsewhere.

Quiet when the environment variable ``DESCRAMBLER_PROGRESS`` is ``0`` (the book
builder sets it for papermill runs), when ``CI`` is set, or when standard error
is not a terminal outside a Jupyter kernel (pytest, log files, make).
"""

from __future__ import annotations

import os
import sys

from tqdm.std import tqdm


def progress_enabled() -> bool:
    """Whether progress bars should be drawn in this process."""
    if os.environ.get("DESCRAMBLER_PROGRESS", "").strip() == "0" or os.environ.get("CI"):
        return False
    return _in_jupyter_kernel() or sys.stderr.isatty()


def _in_jupyter_kernel() -> bool:
    """Whether this code runs inside a Jupyter kernel (not merely with ipykernel imported)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "",
                 enabled: bool | None = None, **kwargs) -> tqdm:
    """A tqdm bar; `enabled=None` decides by `progress_enabled()`."""
    disable = not (progress_enabled() if enabled is None else enabled)
    return _bar_class()(iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, **kwargs)


def _bar_class() -> type[tqdm]:
    """The notebook widget bar inside a Jupyter kernel with ipywidgets, the text bar otherwise."""
    if _in_jupyter_kernel():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_bar
            return notebook_bar
        except ImportError:
            pass
    return tqdm
