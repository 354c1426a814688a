import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from descrambler.study.findings import paper_layout
from descrambler.study.findings.spectra import display_spectrum


@pytest.fixture
def matrices() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    orthogonal = lambda: np.linalg.qr(rng.normal(size=(80, 80)))[0]  # noqa: E731
    return {"W1": 0.1 * rng.normal(size=(80, 256)), "P1": orthogonal(),
            "W2": 0.1 * rng.normal(size=(256, 80)), "P2": orthogonal()}


def white_lines(ax: plt.Axes) -> list:
    return [line for line in ax.get_lines() if line.get_color() == paper_layout.ANNOTATION]


@pytest.mark.parametrize("draw, first, second, n_axes", [
    (paper_layout.figure2, "W1", "P1", 4), (paper_layout.figure3, "W2", "P2", 2),
    (paper_layout.figure4, "W2", "P2", 4)])
def test_figures_have_the_paper_panels(matrices, draw, first, second, n_axes):
    fig = draw(matrices[first], matrices[second], suptitle="seed 0")
    try:
        assert len(fig.axes) == n_axes
        assert fig.get_suptitle() == "seed 0"
    finally:
        plt.close(fig)


def test_figure2_shows_the_folded_spectrum_and_the_cubic(matrices):
    fig = paper_layout.figure2(matrices["W1"], matrices["P1"])
    try:
        spectrum, zoom = fig.axes[2], fig.axes[3]
        expected = display_spectrum(matrices["P1"] @ matrices["W1"]).T
        np.testing.assert_allclose(np.asarray(spectrum.images[0].get_array()), expected)
        np.testing.assert_allclose(np.asarray(zoom.images[0].get_array()), expected)
        assert spectrum.images[0].get_extent() == [0.5, 80.5, 0.5, 256.5]
        cubics = white_lines(zoom)
        assert len(cubics) == 2
        for line in cubics:
            assert np.interp(41, line.get_xdata(), line.get_ydata()) == pytest.approx(129, abs=1e-4)
        np.testing.assert_allclose(zoom.get_xlim(), (40.5 - 79 / 6, 40.5 + 79 / 6))
        np.testing.assert_allclose(zoom.get_ylim(), (128.5 - 255 / 6, 128.5 + 255 / 6))
        assert len(white_lines(spectrum)) == 4
    finally:
        plt.close(fig)


def test_zoom_panel_places_an_image_in_paper_units():
    fig, ax = plt.subplots()
    try:
        paper_layout.zoom_panel(ax, np.ones((5, 4)), np.linspace(30, 51, 4), np.linspace(100, 160, 5), "paper")
        left, right, bottom, top = ax.images[0].get_extent()
        assert (left, right, bottom, top) == pytest.approx((26.5, 54.5, 92.5, 167.5))
        assert ax.get_title() == "paper"
        with pytest.raises(ValueError, match="^link_index"):
            paper_layout.zoom_panel(ax, np.ones((5, 4)), np.arange(5), np.arange(5), "bad")
        with pytest.raises(ValueError, match="^input_index"):
            paper_layout.zoom_panel(ax, np.ones((5, 4)), np.arange(4), np.array([0, 1, 2, 4, 5]), "bad")
    finally:
        plt.close(fig)


def test_zoom_only_draws_panel_4(matrices):
    fig, ax = plt.subplots()
    try:
        paper_layout.zoom_only(ax, matrices["W1"], matrices["P1"])
        expected = display_spectrum(matrices["P1"] @ matrices["W1"]).T
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), expected)
    finally:
        plt.close(fig)


def test_figure3_removes_the_link_mean(matrices):
    fig = paper_layout.figure3(matrices["W2"], matrices["P2"])
    try:
        descrambled = (matrices["W2"] @ matrices["P2"].T).T
        np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), matrices["W2"].T)
        np.testing.assert_allclose(np.asarray(fig.axes[1].images[0].get_array()),
                                   descrambled - descrambled.mean(axis=0))
        assert sorted(line.get_xdata()[0] for line in white_lines(fig.axes[1])) == [15, 242]
    finally:
        plt.close(fig)


def test_figure4_plots_the_singular_vectors(matrices):
    fig = paper_layout.figure4(matrices["W2"], matrices["P2"])
    try:
        B = matrices["W2"] @ matrices["P2"].T
        left, _, right_t = np.linalg.svd(B, full_matrices=False)
        np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), B.T @ B)
        np.testing.assert_allclose(np.asarray(fig.axes[2].images[0].get_array()), B @ B.T)
        lines = fig.axes[1].get_lines()
        assert len(lines) == 5
        for line, k, offset in zip(lines, range(8, 13), [-1, -0.5, 0, 0.5, 1]):
            np.testing.assert_allclose(np.abs(line.get_ydata() - offset), np.abs(right_t[k]), atol=1e-12)
        dots, fits = fig.axes[3].get_lines()[::2], fig.axes[3].get_lines()[1::2]
        grid = np.linspace(-1, 1, 256)
        for degree, (dot, fit, offset) in enumerate(zip(dots, fits, [0.5, 0.35, 0, -0.25, -0.5])):
            u = left[:, degree] - left[:, degree].mean()
            np.testing.assert_allclose(np.abs(dot.get_ydata() - offset), np.abs(u), atol=1e-12)
            curve = fit.get_ydata() - offset
            polynomial = np.cos(degree * np.arccos(grid))
            np.testing.assert_allclose(curve, polynomial * (u @ polynomial) / (polynomial @ polynomial), atol=1e-12)
            assert dot.get_color() == fit.get_color()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("draw, arguments, name", [
    (paper_layout.figure2, (np.zeros(256), np.eye(80)), "W1"),
    (paper_layout.figure2, (np.zeros((256, 80)), np.eye(80)), "W1"),
    (paper_layout.figure2, (np.zeros((80, 256)), np.eye(80)[:, :79]), "P1"),
    (paper_layout.figure2, (np.zeros((80, 256)), np.eye(79)), "P1"),
    (paper_layout.figure3, (np.zeros((256, 80)), np.eye(79)), "P2"),
    (paper_layout.figure4, (np.zeros((256, 80)), np.eye(81)), "P2"),
    (paper_layout.figure4, (np.zeros((80, 256)), np.eye(80)), "W2"),
])
def test_bad_shapes_are_refused(draw, arguments, name):
    n_figures = len(plt.get_fignums())
    with pytest.raises(ValueError, match=f"^{name}:"):
        draw(*arguments)
    assert len(plt.get_fignums()) == n_figures


def test_zoom_only_checks_its_arguments():
    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="^P1:"):
            paper_layout.zoom_only(ax, np.zeros((80, 256)), np.zeros((80, 3)))
    finally:
        plt.close(fig)
