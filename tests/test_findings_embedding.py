"""Tests of descrambler.study.findings.embedding: the group-embedding reading of a three-layer net's middle matrix."""

import numpy as np
import pytest
import torch

from descrambler.deer import LibraryConfig
from descrambler.study.deeper import three_layer_architecture
from descrambler.study.findings.embedding import (GROUP_EMBEDDING, band_share, embedding_markdown, embedding_rows,
                                            embedding_share, fourier_coordinates, fourier_gram, fourier_pairs,
                                            input_grams, known_representation, link_block_share,
                                            measure_group_embedding, middle_weights, read_middle)
from descrambler.study.findings.readings import random_like
from descrambler.groups import random_rotation
from descrambler.groups.objective import smoothness_eigen
from descrambler.nets import TrainConfig, two_layer
from descrambler.nets.architectures import build
from descrambler.study.spec import BookSpec


@pytest.mark.parametrize("reflections", [False, True])
def test_an_exact_representation_scores_one(reflections):
    B = known_representation(20, np.random.default_rng(0), reflections)
    result = embedding_share(B)
    assert result.share == pytest.approx(1.0)
    assert result.block_share == pytest.approx(1.0) and result.orthogonal_share == pytest.approx(1.0)


def test_blocks_that_are_not_rotations_score_below_their_block_share():
    n = 20
    F = np.zeros((n, n))
    for i, j in fourier_pairs(n):
        F[i:j + 1, i:j + 1] = np.array([[1.0, 0.0], [0.0, 0.1]])  # a squeeze, far from a scaled rotation
    T = smoothness_eigen(n)[1]
    result = embedding_share(T @ F @ T.T)
    assert result.block_share == pytest.approx(1.0)
    assert result.orthogonal_share == pytest.approx(1.21 / 2 / 1.01)  # (1 + 0.1)^2 / 2 of 1 + 0.01
    np.testing.assert_allclose(fourier_coordinates(T @ F @ T.T), F, atol=1e-12)


@pytest.mark.parametrize("hide", ["rotation", "signed permutation"])
def test_a_hidden_representation_is_found_again_by_descrambling(hide):
    # W2 = Q_out B Q_in^T with the input signals Q_in S: descrambling both sides recovers the representation
    rng = np.random.default_rng(1)
    n = 40
    B = known_representation(n, rng)
    if hide == "rotation":
        Q_in, Q_out = random_rotation(n, rng), random_rotation(n, rng)
    else:
        Q_in, Q_out = (np.eye(n)[rng.permutation(n)] * rng.choice([-1, 1], n) for _ in range(2))
    W2 = Q_out @ B @ Q_in.T
    gram_in = Q_in @ fourier_gram(n, 3.0, rng) @ Q_in.T
    assert embedding_share(W2).share < 0.2
    reading = read_middle(W2, gram_in)
    assert reading.share.share > 0.99
    assert GROUP_EMBEDDING.verdict(reading.share.share) == "holds"
    np.testing.assert_allclose(reading.B, reading.P_out @ W2 @ reading.P_in.T)
    np.testing.assert_allclose(reading.s, np.linalg.svd(B, compute_uv=False), atol=1e-10)


def test_a_random_matrix_scores_low_raw_and_below_partly_after_descrambling():
    rng = np.random.default_rng(2)
    n = 80
    raw = [embedding_share(rng.standard_normal((n, n))).share for _ in range(5)]
    assert np.mean(raw) == pytest.approx(2 / n, rel=0.5)
    descrambled = []
    for efold in (0.5, 1.0, 2.0, 15.0):  # the descrambler alone lifts a random matrix, most for steep spectra
        gram_in = fourier_gram(n, efold, rng)
        W = rng.standard_normal((n, n))
        descrambled.append(read_middle(W, gram_in).share.share)
    assert max(descrambled) > 3 * np.mean(raw)  # why the random control is needed
    assert max(descrambled) < GROUP_EMBEDDING.partly  # why the thresholds lie where they do
    assert GROUP_EMBEDDING.verdict(max(descrambled)) == "does not hold"


def test_link_coordinate_variants_on_known_matrices():
    n = 12
    assert link_block_share(np.eye(n)) == pytest.approx(1.0) and band_share(np.eye(n), 0) == pytest.approx(1.0)
    shift = np.roll(np.eye(n), 1, axis=1)  # a cyclic shift: next to the diagonal, wrapping around
    assert band_share(shift, 1) == pytest.approx(1.0) and band_share(shift, 0) == 0.0
    assert link_block_share(shift) == pytest.approx(0.5)  # half of its entries fall inside the 2 x 2 blocks
    far = np.roll(np.eye(n), n // 2, axis=1)
    assert link_block_share(far) == 0.0 and band_share(far, 3) == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: embedding_share(np.ones((3, 4))), "B: expected a square"),
    (lambda: embedding_share(np.zeros((4, 4))), "B: has zero norm"),
    (lambda: fourier_pairs(2), "n: need at least 3"),
    (lambda: fourier_pairs(0), "n: must be a positive integer"),
    (lambda: read_middle(np.eye(4), np.eye(5)), "gram_in: expected shape"),
    (lambda: read_middle(np.ones((4, 3)), np.eye(3)), "gram_in: expected shape"),
    (lambda: link_block_share(np.eye(3), 4), "B: expected a square matrix of at least 4"),
    (lambda: link_block_share(np.eye(3), 0), "size:"),
    (lambda: band_share(np.eye(3), -1), "half_width:"),
    (lambda: band_share(np.ones((2, 3))), "B: expected a square"),
    (lambda: middle_weights(two_layer()), "model: expected three Linear layers"),
    (lambda: middle_weights(build({"name": "deep", "arguments": {"hidden": [8, 6]}})), "model: the middle weight"),
    (lambda: input_grams([], 10, LibraryConfig(), 0), "models: need at least one"),
    (lambda: embedding_rows({"trained": [0.1]}), "values: missing"),
    (lambda: known_representation(2, np.random.default_rng(0)), "n: need at least 3"),
    (lambda: known_representation(6, 0), "rng: expected a numpy Generator"),
    (lambda: fourier_gram(6, 0.0, np.random.default_rng(0)), "efold: must be finite and > 0"),
    (lambda: fourier_gram(6, 1.0, None), "rng: expected a numpy Generator"),
])
def test_bad_input_raises_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_input_grams_match_the_wiretap_of_one_library():
    torch.manual_seed(0)
    model = build(three_layer_architecture(6))
    config = LibraryConfig()
    (gram,) = input_grams([model], 3000, config, seed=5)
    from descrambler.deer import make_library
    with torch.no_grad():
        x = torch.from_numpy(make_library(3000, config, seed=5).traces)
        s = torch.tanh(model[0](x)).double().numpy()
    np.testing.assert_allclose(gram, s.T @ s, rtol=1e-9)


def test_measure_group_embedding_returns_one_value_per_seed(monkeypatch, tmp_path):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    train = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    spec = BookSpec("smoke", "tiny", three_layer_architecture(8), train, (0,), (3, 4), n_traces=3000)
    values = measure_group_embedding(spec, spec.confirmation_seeds, workers=1, progress=False)
    assert values["seeds"] == [3, 4]
    for name in ("trained", "untrained", "random"):
        assert len(values[name]) == 2 and all(0 < v <= 1 for v in values[name])
        assert [r.share.share for r in values["readings"][name]] == values[name]
    assert values["trained"] != values["untrained"]
    rows, controls = embedding_rows(values)
    assert rows[0].values == values["trained"] and set(controls) == {"untrained", "random W2"}
    table = embedding_markdown(values)
    assert GROUP_EMBEDDING.claim in table and "untrained (median)" in table


def test_the_random_control_has_the_norm_of_the_trained_matrix():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((8, 8)) * 3
    assert np.linalg.norm(random_like(W, rng)) == pytest.approx(np.linalg.norm(W))
