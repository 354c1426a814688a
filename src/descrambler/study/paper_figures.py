"""Digitised panels of the paper's figures, for comparison with what this reproduction computes.

Figure 2, panels 3 and 4: the folded linear-magnitude 2-D spectrum of the descrambled first-layer
weights (80 links x 256 input points) and its central zoom, digitised from the published figure by
scripts/digitise_paper_fig2.py into descrambler/data/paper_fig2.npz (package data). The values are CIE
lightness of the figure's parula colours: a monotone proxy of the magnitude, not the magnitude, so only
order-based readings (argmax per row, ranks, comparisons of medians) are valid on them.

Source: J. L. Amey, J. Keeley, T. Choudhury, I. Kuprov, "Neural network interpretation using descrambler
groups", PNAS 118(5) e2016917118 (2021), CC BY 4.0, https://doi.org/10.1073/pnas.2016917118.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .._io import package_data

#: The digitised figure, package data (descrambler/data/paper_fig2.npz).
DEFAULT_FIGURE2 = "paper_fig2.npz"
_FIGURE2_KEYS = ("panel3", "zoom", "zoom_link_index", "zoom_input_index",
                 "link_zero_index", "input_zero_index", "attribution")


@dataclass(frozen=True, eq=False)
class Figure2:
    """Fig. 2 panels 3 (whole spectrum) and 4 (zoom) as monotone proxies of the plotted magnitude.

    `panel3[i, k]` is input index i + 1 (bottom to top), link index k + 1; `zoom[i, k]` is input index
    `zoom_input_index[i]`, link index `zoom_link_index[k]` (1-based, as on the figure's axes). Zero
    frequency is at `link_zero_index`, `input_zero_index`.
    """

    panel3: np.ndarray
    zoom: np.ndarray
    zoom_link_index: np.ndarray
    zoom_input_index: np.ndarray
    link_zero_index: int
    input_zero_index: int
    attribution: str

    @property
    def zoom_link_offset(self) -> np.ndarray:
        """Link frequency of each zoom column, in cells from zero frequency."""
        return self.zoom_link_index - self.link_zero_index

    @property
    def zoom_input_offset(self) -> np.ndarray:
        """Input frequency of each zoom row, in cells from zero frequency."""
        return self.zoom_input_index - self.input_zero_index


def figure2(path: str | Path | None = None) -> Figure2:
    """Load the digitised Fig. 2 (default: the package's data/paper_fig2.npz); ValueError if unreadable."""
    path = package_data(DEFAULT_FIGURE2) if path is None else Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz ({error})") from error
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single array, not an .npz archive")
    with data:
        missing = [key for key in _FIGURE2_KEYS if key not in data.files]
        if missing:
            raise ValueError(f"{path}: lacks {', '.join(missing)}")
        arrays = {key: data[key] for key in _FIGURE2_KEYS}
    links = arrays["zoom_link_index"].astype(int)
    inputs = arrays["zoom_input_index"].astype(int)
    zoom = arrays["zoom"].astype(float)
    if zoom.shape != (inputs.size, links.size) or arrays["panel3"].ndim != 2:
        raise ValueError(f"{path}: zoom shape {zoom.shape} does not match its {inputs.size} input "
                         f"and {links.size} link indices, or panel3 is not 2-D")
    fields = {"panel3": arrays["panel3"].astype(float), "zoom": zoom,
              "zoom_link_index": links, "zoom_input_index": inputs}
    for array in fields.values():
        array.setflags(write=False)
    return Figure2(**fields, link_zero_index=int(arrays["link_zero_index"]),
                   input_zero_index=int(arrays["input_zero_index"]), attribution=str(arrays["attribution"]))


def cubic_curve(link_offset: ArrayLike, coefficient: float = 0.05) -> np.ndarray:
    """Input offset of the paper's white overlay in Fig. 2 panel 4, in the figure's index units.

    The overlay is the pair of curves input_offset = +/- coefficient * link_offset**3 (drawn as
    y = 129 +/- 0.05 (x - 41)**3); this returns the + branch, negate it for the other.
    """
    return coefficient * np.asarray(link_offset, dtype=float) ** 3
