"""Tests of descrambler.study.findings.reproduction, descrambler.study.fidelity and descrambler.study.spec."""

import dataclasses

import numpy as np
import pytest

from descrambler.study import fidelity
from descrambler.deer import LibraryConfig
from descrambler.study.findings.readings import row_ridge
from descrambler.study.findings.reproduction import CUBE_ROOT, measure_networks, rescaling_metric
from descrambler.study.findings.table import CLAIMS
from descrambler.nets import TrainConfig, train, two_layer
from descrambler.study.paper_figures import figure2
from descrambler.study.spec import CONFIRMATION_SEEDS, DEVELOPMENT_SEEDS, book_spec

CLAIM = {c.key: c for c in CLAIMS}


@pytest.mark.parametrize("max_input_offset", [20, 33])
def test_the_paper_figure_passes_the_rescaling_reading(max_input_offset):
    # the digitised zoom of the paper's Fig. 2: within its annotated band (input rows 95-162, i.e. offsets
    # up to 33) or the lower half of the zoom, the row-wise ridge is a cube root by the claim's own threshold
    paper = figure2()
    ridge = row_ridge(paper.zoom, paper.zoom_input_offset, paper.zoom_link_offset, 1, max_input_offset, 1)
    assert CLAIM["rescaling"].verdict(rescaling_metric(ridge)) == "holds"
    assert ridge.ci_low < CUBE_ROOT < ridge.ci_high


def test_rescaling_metric_on_known_ridges():
    f = np.arange(1, 41)
    offsets = np.arange(-40, 41)
    link = np.arange(-40, 41)
    for scale, power, verdict in ((2, 1 / 3, "holds"), (0.5, 1.0, "does not hold")):
        k = np.maximum(np.round(scale * f**power), 1).astype(int)
        magnitude = np.zeros((offsets.size, link.size))
        magnitude[40 + f, 40 + k] = 1.0
        ridge = row_ridge(magnitude, offsets, link, 1, 40, 1)
        assert CLAIM["rescaling"].verdict(rescaling_metric(ridge)) == verdict


@pytest.fixture(scope="module")
def small_net():
    config = TrainConfig(data=LibraryConfig(), epochs=2, n_train=3000, batch_size=64, n_validation=300)
    return train(two_layer(n_hidden=16), config, seed=1)[0]


def test_measure_networks_reads_every_claim_with_controls(small_net):
    (result,) = measure_networks([small_net], LibraryConfig(), 3000, seed=4, control_seeds=[1])
    keys = {c.key for c in CLAIMS}
    assert set(result["claims"]) == keys
    assert set(result["controls"]) == {"untrained", "random"}
    assert all(set(control) == keys for control in result["controls"].values())
    assert result["controls"]["random"]["bandpass"] == pytest.approx(1.0, abs=0.2)  # white weights pass all
    with pytest.raises(ValueError, match="^control_seeds"):
        measure_networks([small_net], LibraryConfig(), 3000, seed=4, control_seeds=[1, 2])


def _record(name, seed, error, **claims):
    values = {c.key: (c.partly if c.lower_is_better else c.partly) for c in CLAIMS}  # all "partly"
    values.update(claims)
    return {"candidate": name, "seed": seed, "claims": values, "validation": {"median_rel_error": error}}


def test_select_ranks_by_holds_then_partly_then_error():
    bandpass = CLAIM["bandpass"]
    records = [_record("paper_reading", 0, 0.3), _record("paper_reading", 1, 0.3),
               _record("softplus_output", 0, 0.2), _record("softplus_output", 1, 0.2),
               _record("long_training", 0, 0.4, bandpass=bandpass.holds),
               _record("long_training", 1, 0.4, bandpass=bandpass.holds)]
    assert fidelity.select(records) == "long_training"  # one more claim holds, despite the larger error
    assert fidelity.select(records[:4]) == "softplus_output"  # a tie on verdicts: the lower error
    with pytest.raises(ValueError, match="^records"):
        fidelity.select([_record("anchor_2018", 0, 0.1)])  # the anchor is not a candidate


def test_candidates_differ_from_the_paper_reading_in_one_named_way():
    base = fidelity.CANDIDATES[0]
    assert base.name == "paper_reading" and base.architecture["arguments"]["output"] == "logsig"
    assert base.train.target == "max_0.75"
    names = [c.name for c in fidelity.CANDIDATES]
    assert len(set(names)) == len(names) and fidelity.ANCHOR.name not in names
    for item in fidelity.CANDIDATES[1:]:
        assert item.change and (item.train != base.train or item.architecture != base.architecture)
    with pytest.raises(ValueError, match="^name"):
        fidelity.candidate("nonsense")


def test_records_round_trip(tmp_path):
    path = tmp_path / "r.jsonl"
    assert fidelity.read_records(path) == []
    with pytest.raises(ValueError, match=f"^path: {path} holds no record of the fidelity study"):
        fidelity.paper_candidate(path)  # before the study there is no pick, and no silent substitute
    records = [_record("mean_one_targets", s, 0.2) for s in (0, 1)]
    fidelity.write_records(path, records)
    assert fidelity.read_records(path) == records
    assert fidelity.paper_candidate(path).name == "mean_one_targets"


def test_book_spec_is_one_source_for_both_profiles():
    full, smoke = book_spec("full"), book_spec("smoke")
    assert full.candidate == "paper_reading" and full.architecture["arguments"]["output"] == "logsig"
    assert fidelity.pick_spec("full").candidate == fidelity.paper_candidate().name
    assert book_spec("paper") == dataclasses.replace(full, profile="paper")
    assert book_spec("smoke", "softplus_output").architecture["arguments"]["output"] == "softplus"
    assert full.candidate == smoke.candidate and full.architecture == smoke.architecture
    assert smoke.train == dataclasses.replace(full.train, epochs=2, n_train=20_000, n_validation=1000)
    assert full.library == full.train.data
    assert not set(DEVELOPMENT_SEEDS) & set(CONFIRMATION_SEEDS)
    assert len(full.confirmation_seeds) >= 20
    with pytest.raises(ValueError, match="^profile"):
        book_spec("huge")
    with pytest.raises(ValueError, match="^name"):
        book_spec("full", "nonsense")
