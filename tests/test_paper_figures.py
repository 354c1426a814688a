"""Tests of the digitised Fig. 2 of the paper (data/paper_fig2.npz) and its loader."""

import numpy as np
import pytest

from descrambler.study.paper_figures import Figure2, cubic_curve, figure2


@pytest.fixture(scope="module")
def fig() -> Figure2:
    return figure2()


def test_committed_file_loads_with_consistent_shapes_and_indices(fig):
    assert fig.panel3.shape == (256, 80)
    assert fig.link_zero_index == 41 and fig.input_zero_index == 129
    np.testing.assert_array_equal(fig.zoom_link_index, np.arange(28, 54))
    np.testing.assert_array_equal(fig.zoom_input_index, np.arange(87, 171))
    assert fig.zoom.shape == (fig.zoom_input_index.size, fig.zoom_link_index.size)
    assert 0 in fig.zoom_link_offset and 0 in fig.zoom_input_offset
    np.testing.assert_array_equal(fig.zoom_link_offset, fig.zoom_link_index - 41)
    np.testing.assert_array_equal(fig.zoom_input_offset, fig.zoom_input_index - 129)
    assert np.isfinite(fig.panel3).all() and np.isfinite(fig.zoom).all()
    assert "CC BY 4.0" in fig.attribution and "monotone proxy" in fig.attribution
    with pytest.raises(ValueError):
        fig.zoom[0, 0] = 0.0  # read-only


def test_panel3_is_point_symmetric_about_zero_frequency(fig):
    # (link, input) -> (82 - link, 258 - input); link 1 and input 1 have no partner. Measured 0.991.
    inner = fig.panel3[1:, 1:]
    assert np.corrcoef(inner.ravel(), inner[::-1, ::-1].ravel())[0, 1] > 0.95


def test_zoom_agrees_with_panel3_on_shared_cells(fig):
    # Two panels digitised independently at different magnifications. Measured 0.996.
    shared = fig.panel3[np.ix_(fig.zoom_input_index - 1, fig.zoom_link_index - 1)]
    assert np.corrcoef(shared.ravel(), fig.zoom.ravel())[0, 1] > 0.95


def test_zero_input_frequency_row_is_a_notch(fig):
    median = {int(o): np.median(row) for o, row in zip(fig.zoom_input_offset, fig.zoom)}
    for offset in (2, 3, 4):
        assert median[0] < median[offset] and median[0] < median[-offset]


def test_brightest_zoom_cells_are_near_zero_frequency(fig):
    rows, cols = np.unravel_index(np.argsort(fig.zoom, axis=None)[::-1][:8], fig.zoom.shape)
    assert np.abs(fig.zoom_link_offset[cols]).max() <= 6
    assert np.abs(fig.zoom_input_offset[rows]).max() <= 6


def test_cubic_curve():
    np.testing.assert_allclose(cubic_curve([-2, 0, 10]), [-0.4, 0.0, 50.0])
    np.testing.assert_allclose(cubic_curve(3, coefficient=1.0), 27.0)


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "absent.npz"
    with pytest.raises(ValueError, match=r"^\S*absent.npz: "):
        figure2(path)


def test_file_lacking_arrays_names_path_and_arrays(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, panel3=np.zeros((256, 80)))
    with pytest.raises(ValueError, match=r"^\S*partial.npz: .*zoom"):
        figure2(path)


def test_unreadable_file_names_path(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"^\S*garbage.npz: "):
        figure2(path)
