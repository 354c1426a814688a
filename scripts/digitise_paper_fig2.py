"""Digitise the third and fourth panels of the paper's Fig. 2 into src/descrambler/data/paper_fig2.npz.

Source: J. L. Amey, J. Keeley, T. Choudhury, I. Kuprov, "Neural network interpretation using
descrambler groups", PNAS 118(5) e2016917118 (2021), CC BY 4.0, https://doi.org/10.1073/pnas.2016917118
(the PDF is tutorials/deernet_paper_c.pdf in the repository IlyaKuprov/DEERNet).

Page 3 of the PDF holds one JPEG (993 x 409 px) with Fig. 2's four image panels side by side; axes and
annotations are vector graphics drawn on top and are not in the raster.  Per the authors' MATLAB script
(interpretation.m) panel 3 is `imagesc(abs(W2'))`, W2 the folded linear-magnitude 2-D spectrum of the
descrambled first-layer weights, 80 links (x) by 256 input points (y), YDir normal, `axis tight`:
x limits [0.5, 80.5], y limits [0.5, 256.5].  Panel 4 is the same image after
`xlim([1 80]); ylim([1 256]); zoom(3)`: x limits 40.5 +/- 79/6, y limits 128.5 +/- 255/6.

Method:
1. extract the raster with `pdfimages` (or read --image);
2. find each panel from the white gaps between panels, refined to sub-pixel edges from the partial
   coverage of the first and last pixel column/row (also at the border of the raster, where a fully
   covered pixel puts the edge on the border);
3. sample every data cell of panels 3 and 4 at its centre: the mean colour of the pixels whose centres
   lie in the middle half of the cell (the nearest pixel where no centre does), which keeps away from the
   JPEG-blurred cell edges;
4. convert the colour to a scalar with a monotone proxy: CIE L* (lightness, 0..100) of the colour read as
   sRGB.  Parula's lightness rises monotonically from dark blue through cyan to yellow, so the proxy
   preserves the order of the plotted magnitudes but not their values: only order-based readings (argmax
   per row, ranks, medians compared with each other) are valid on it.

Run from the repository root:

    python scripts/digitise_paper_fig2.py --pdf /path/to/deernet_paper_c.pdf --out src/descrambler/data/paper_fig2.npz

`--plots DIR` also writes re-plots of the digitised arrays next to the original panels for eyeballing.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ATTRIBUTION = (
    "Digitised from Fig. 2 of J. L. Amey, J. Keeley, T. Choudhury, I. Kuprov, PNAS 118(5) e2016917118 "
    "(2021), CC BY 4.0, https://doi.org/10.1073/pnas.2016917118; values are a monotone proxy of the "
    "figure colour, not magnitudes."
)
PROXY = (
    "CIE L* (0..100) of the figure colour read as sRGB: a monotone proxy of the linear magnitude "
    "|W2| plotted with MATLAB's parula; only order-based readings (argmax per row, ranks) are valid."
)
N_LINK, N_INPUT = 80, 256
LINK_ZERO, INPUT_ZERO = 41, 129
PANEL3_LIMITS = ((0.5, 80.5), (0.5, 256.5))
ZOOM_LIMITS = ((40.5 - 79 / 6, 40.5 + 79 / 6), (128.5 - 255 / 6, 128.5 + 255 / 6))
PAGE = 3
WHITE = 235  # a pixel is white when all three channels exceed this


@dataclass(frozen=True)
class Bounds:
    """Sub-pixel edges of a panel in pixel-edge coordinates (pixel i spans [i, i + 1]); top < bottom."""

    left: float
    right: float
    top: float
    bottom: float


def extract_raster(pdf: Path, page: int = PAGE) -> np.ndarray:
    """Return the first raster image on `page` of `pdf` as an (H, W, 3) float array, via `pdfimages`."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdfimages", "-f", str(page), "-l", str(page), "-png", str(pdf), f"{folder}/img"],
                       check=True)
        files = sorted(Path(folder).glob("img-*.png"))
        if not files:
            raise SystemExit(f"{pdf}: no raster image on page {page}")
        return read_image(files[0])


def read_image(path: Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) float array of 0..255 RGB values."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=float)


def _runs(mask: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) index pairs of the runs of True in `mask` at least `min_length` long."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    starts = np.flatnonzero(np.diff(padded) == 1)
    stops = np.flatnonzero(np.diff(padded) == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, stops) if b - a + 1 >= min_length]


def _coverage(edge: np.ndarray, inner: np.ndarray) -> float:
    """Fraction of an edge pixel line covered by the panel: its darkening relative to the adjacent inner line."""
    darkening = (255.0 - edge) / np.maximum(255.0 - inner, 1.0)
    return float(np.clip(np.median(darkening), 0.0, 1.0))


def find_panels(rgb: np.ndarray) -> list[Bounds]:
    """Find the panels separated by white gaps and return their sub-pixel bounds, left to right."""
    gray = rgb.mean(axis=2)
    white = (rgb > WHITE).all(axis=2)
    panels = []
    for c0, c1 in _runs(white.mean(axis=0) < 0.5, min_length=20):
        r0, r1 = _runs(white[:, c0:c1 + 1].mean(axis=1) < 0.5, min_length=20)[0]
        rows, cols = slice(r0, r1 + 1), slice(c0, c1 + 1)
        left = c0 + 1 - _coverage(gray[rows, c0], gray[rows, c0 + 1])
        right = c1 + _coverage(gray[rows, c1], gray[rows, c1 - 1])
        top = r0 + 1 - _coverage(gray[r0, cols], gray[r0 + 1, cols])
        bottom = r1 + _coverage(gray[r1, cols], gray[r1 - 1, cols])
        panels.append(Bounds(left, right, top, bottom))
    return panels


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0..100) of 0..255 RGB values read as sRGB (D65), over the last axis."""
    c = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    f = np.where(y > 216 / 24389, np.cbrt(y), (24389 / 27 * y + 16) / 116)
    return 116 * f - 16


def _pixel_window(lo: float, hi: float, size: int) -> slice:
    """Pixels whose centres lie in the middle half of the cell [lo, hi]; the nearest pixel when none does."""
    quarter = (hi - lo) / 4
    first = int(np.ceil(lo + quarter - 0.5))
    last = int(np.floor(hi - quarter - 0.5))
    if last < first:
        first = last = int(np.floor((lo + hi) / 2))
    return slice(max(first, 0), min(last, size - 1) + 1)


def sample_cells(rgb: np.ndarray, bounds: Bounds, limits: tuple[tuple[float, float], tuple[float, float]],
                 links: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Proxy value of each data cell (input, link): rows follow `inputs` bottom to top, columns `links`."""
    (x0, x1), (y0, y1) = limits
    x_scale = (bounds.right - bounds.left) / (x1 - x0)
    y_scale = (bounds.bottom - bounds.top) / (y1 - y0)
    out = np.empty((len(inputs), len(links)))
    for i, j in enumerate(inputs):
        # YDir normal: larger input index is higher up, i.e. at a smaller pixel row.
        rows = _pixel_window(bounds.bottom - (j + 0.5 - y0) * y_scale,
                             bounds.bottom - (j - 0.5 - y0) * y_scale, rgb.shape[0])
        for k, link in enumerate(links):
            cols = _pixel_window(bounds.left + (link - 0.5 - x0) * x_scale,
                                 bounds.left + (link + 0.5 - x0) * x_scale, rgb.shape[1])
            out[i, k] = lightness(rgb[rows, cols].reshape(-1, 3).mean(axis=0))
    return out


def check_proxy(rgb: np.ndarray, panels: list[Bounds]) -> None:
    """Print the median colour per proxy decile over all panels; fail unless it runs dark blue -> cyan -> yellow."""
    pixels = np.concatenate([
        rgb[int(np.ceil(p.top)) + 2:int(p.bottom) - 2, int(np.ceil(p.left)) + 2:int(p.right) - 2].reshape(-1, 3)
        for p in panels])
    proxy = lightness(pixels)
    edges = np.linspace(proxy.min(), proxy.max(), 11)
    path = []
    print("proxy (L*) bin    pixels   median RGB")
    for lo, hi in zip(edges[:-1], edges[1:]):
        members = pixels[(proxy >= lo) & (proxy <= hi)]
        if len(members):
            colour = np.median(members, axis=0)
            path.append(colour)
            print(f"{lo:5.1f}..{hi:5.1f} {len(members):9d}   {colour.round().astype(int)}")
    dark, middle, bright = path[0], path[len(path) // 2], path[-1]
    ok = (dark[2] > max(dark[:2])                        # dark blue: blue dominant
          and min(middle[1:]) > middle[0]                # cyan: green and blue above red
          and min(bright[:2]) > bright[2])               # yellow: red and green above blue
    print(f"proxy increases along dark blue -> cyan -> yellow: {ok}")
    if not ok:
        raise SystemExit("colour proxy is not monotone along the colour path")


def symmetry_correlations(panel3: np.ndarray) -> dict[tuple[int, int], float]:
    """Correlation of panel 3 with its point reflection (link, input) -> (82 + dl - link, 258 + di - input)."""
    result = {}
    n_input, n_link = panel3.shape
    for di in range(-2, 3):
        for dl in range(-2, 3):
            rows = [r for r in range(n_input) if 0 <= 256 + di - r < n_input]
            cols = [c for c in range(n_link) if 0 <= 80 + dl - c < n_link]
            a = panel3[np.ix_(rows, cols)]
            b = panel3[np.ix_([256 + di - r for r in rows], [80 + dl - c for c in cols])]
            result[(dl, di)] = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    return result


def save_plots(folder: Path, rgb: np.ndarray, panels: list[Bounds], panel3: np.ndarray, zoom: np.ndarray,
               zoom_links: np.ndarray, zoom_inputs: np.ndarray) -> None:
    """Write re-plots of the digitised arrays beside the original raster panels, for eyeballing."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for name, panel, data, extent in [
        ("panel3", panels[2], panel3, (0.5, 80.5, 0.5, 256.5)),
        ("zoom", panels[3], zoom, (zoom_links[0] - 0.5, zoom_links[-1] + 0.5,
                                   zoom_inputs[0] - 0.5, zoom_inputs[-1] + 0.5)),
    ]:
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(8, 8))
        crop = rgb[int(panel.top):int(np.ceil(panel.bottom)), int(panel.left):int(np.ceil(panel.right))]
        ax0.imshow(crop.astype(np.uint8), aspect="auto")
        ax0.set_title("original raster")
        ax1.imshow(data, origin="lower", aspect="auto", extent=extent, cmap="viridis")
        ax1.set_title("digitised proxy")
        ax1.set_xlabel("link index")
        ax1.set_ylabel("input index")
        fig.savefig(folder / f"paper_fig2_{name}.png", dpi=100)
        plt.close(fig)
    print(f"re-plots written to {folder}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pdf", type=Path, help="the paper PDF (Fig. 2 raster is the first image on page 3)")
    source.add_argument("--image", type=Path, help="the already extracted Fig. 2 raster instead of --pdf")
    parser.add_argument("--out", type=Path, default=Path("src/descrambler/data/paper_fig2.npz"), help="output .npz")
    parser.add_argument("--plots", type=Path, help="folder for re-plots to compare with the original")
    args = parser.parse_args(argv)

    rgb = extract_raster(args.pdf) if args.pdf else read_image(args.image)
    print(f"raster: {rgb.shape[1]} x {rgb.shape[0]} px")
    panels = find_panels(rgb)
    for n, p in enumerate(panels, 1):
        print(f"panel {n}: x [{p.left:.2f}, {p.right:.2f}] ({p.right - p.left:.2f} px), "
              f"y [{p.top:.2f}, {p.bottom:.2f}] ({p.bottom - p.top:.2f} px)")
    if len(panels) != 4:
        raise SystemExit(f"expected 4 panels, found {len(panels)}")
    check_proxy(rgb, panels)

    links, inputs = np.arange(1, N_LINK + 1), np.arange(1, N_INPUT + 1)
    panel3 = sample_cells(rgb, panels[2], PANEL3_LIMITS, links, inputs)
    (x0, x1), (y0, y1) = ZOOM_LIMITS
    zoom_links = np.arange(int(np.ceil(x0 + 0.5)), int(np.floor(x1 - 0.5)) + 1)   # cells fully inside
    zoom_inputs = np.arange(int(np.ceil(y0 + 0.5)), int(np.floor(y1 - 0.5)) + 1)
    zoom = sample_cells(rgb, panels[3], ZOOM_LIMITS, zoom_links, zoom_inputs)
    print(f"panel 3: {panel3.shape}, zoom: {zoom.shape}, links {zoom_links[0]}..{zoom_links[-1]}, "
          f"inputs {zoom_inputs[0]}..{zoom_inputs[-1]}")

    correlations = symmetry_correlations(panel3)
    print("panel 3 point-symmetry correlation about (41 + dl/2, 129 + di/2); dl across, di down:")
    for di in range(-2, 3):
        print(f"  di={di:+d} " + " ".join(f"{correlations[(dl, di)]:.3f}" for dl in range(-2, 3)))
    best = max(correlations, key=correlations.get)
    print(f"best (dl, di) = {best}; (0, 0) means the pixel mapping is not off by a cell")

    zero = np.flatnonzero(zoom_links == LINK_ZERO)[0]
    folded = (zoom[:, zero:] + zoom[:, zero::-1][:, :len(zoom_links) - zero]) / 2  # mean of the two sides
    print("zoom: link offset (|offset| folded) of each row's maximum")
    for offset in range(1, 21):
        row = {s: folded[np.flatnonzero(zoom_inputs == INPUT_ZERO + s * offset)[0]] for s in (1, -1)}
        print(f"  input offset +/-{offset:2d}: {int(np.argmax(row[1])):2d} {int(np.argmax(row[-1])):2d}")

    if args.plots:
        save_plots(args.plots, rgb, panels, panel3, zoom, zoom_links, zoom_inputs)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        panel3=panel3.astype(np.float32),
        zoom=zoom.astype(np.float32),
        zoom_link_index=zoom_links.astype(np.int16),
        zoom_input_index=zoom_inputs.astype(np.int16),
        link_zero_index=np.int16(LINK_ZERO),
        input_zero_index=np.int16(INPUT_ZERO),
        attribution=np.array(ATTRIBUTION),
        proxy=np.array(PROXY),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
