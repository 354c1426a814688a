"""Tests of descrambler.layers: descrambling a layer of any PyTorch model through forward hooks."""

import numpy as np
import pytest
import torch
from torch import nn

from descrambler.groups import descramble, signed_permutation_matrix
from descrambler.layers import check_invariance, descramble_layer, find_module, layer_gram
from descrambler.nets import gram as sequential_gram
from descrambler.nets import two_layer


class Encoder(nn.Module):
    """Someone else's model: nested modules with their own names, not an nn.Sequential."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.ModuleDict({"fc1": nn.Linear(12, 6), "fc2": nn.Linear(6, 5)})
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.tanh(self.encoder["fc1"](x))
        return self.head(torch.tanh(self.encoder["fc2"](h)))


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Encoder()


X = torch.from_numpy(np.random.default_rng(1).random((40, 12), dtype=np.float32))


def test_gram_of_a_nested_layer_matches_the_signals(model):
    with torch.no_grad():
        pre = model.encoder["fc2"](torch.tanh(model.encoder["fc1"](X))).double()
        post1 = torch.tanh(model.encoder["fc1"](X)).double()
    batches = [X[:15], X[15:]]
    np.testing.assert_allclose(layer_gram(model, "encoder.fc2", batches), (pre.T @ pre).numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer_gram(model, model.encoder["fc2"], batches, where="input"),
                               (post1.T @ post1).numpy(), rtol=1e-6)


def test_a_dataloader_of_pairs_streams_like_a_list(model):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, torch.zeros(40)), batch_size=7)
    # the float32 forward pass in batches of 7 and of 40 may round differently (BLAS blocking differs by
    # CPU): the Grams agree to float32 rounding of O(1) values, not to the last bit
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(layer_gram(model, "encoder.fc1", loader), layer_gram(model, "encoder.fc1", [X]),
                               rtol=16 * eps, atol=16 * eps)


def test_agrees_with_the_books_wiretap_on_a_two_layer_net():
    torch.manual_seed(2)
    net = two_layer(n_in=12, n_hidden=6, n_out=4)
    x = X.numpy()
    hooked = layer_gram(net, "1", [X], where="output")  # the tanh module's output: post-activation
    np.testing.assert_allclose(hooked, sequential_gram(net, x, 1, where="post", bias=True), rtol=1e-6)


def test_descramble_layer_reads_the_weight_on_the_right_side(model):
    out = descramble_layer(model, "encoder.fc1", [X])
    W1 = model.encoder["fc1"].weight.detach().double().numpy()
    np.testing.assert_allclose(out.descrambled, out.P @ W1)
    expected = descramble(layer_gram(model, "encoder.fc1", [X]), "exact", gram=True).P
    np.testing.assert_allclose(out.P, expected)
    inner = descramble_layer(model, "encoder.fc2", [X], where="input")
    W2 = model.encoder["fc2"].weight.detach().double().numpy()
    np.testing.assert_allclose(inner.descrambled, W2 @ inner.P.T)
    assert out.layer == "encoder.fc1" and inner.where == "input"


def test_a_convolution_descrambles_its_channels():
    torch.manual_seed(3)
    conv = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Tanh())
    x = torch.rand(5, 2, 20)
    gram = layer_gram(conv, "0", [x])
    with torch.no_grad():
        s = conv[0](x).double().movedim(1, -1).reshape(-1, 4)
    np.testing.assert_allclose(gram, (s.T @ s).numpy(), rtol=1e-6)
    result = descramble_layer(conv, "1", [x])  # a module without a weight: P only
    assert result.descrambled is None and result.P.shape == (4, 4)


def test_signed_permutations_are_exact_symmetries_and_rotations_are_not(model):
    rng = np.random.default_rng(4)
    P = signed_permutation_matrix(rng.permutation(6), rng.choice([-1.0, 1.0], 6))
    exact = check_invariance(model, P, "encoder.fc1", "encoder.fc2", X.numpy())
    assert exact.max_rel < 1e-12 and exact.inputs == 40
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert check_invariance(model, Q, "encoder.fc1", "encoder.fc2", X.numpy()).max_rel > 1e-3


def test_every_hidden_layer_of_a_deeper_sequential():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 10), nn.Tanh(), nn.Linear(10, 5))
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, (20, 16))
    for first, second, width in (("0", "2", 12), ("2", "4", 10)):
        P = signed_permutation_matrix(rng.permutation(width), rng.choice([-1.0, 1.0], width))
        report = check_invariance(net, P, first, second, x)
        assert report.max_abs < 1e-12 and (report.first, report.second) == (first, second)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    assert check_invariance(net, Q, net[0], net[2], x).max_rel > 1e-3


@pytest.mark.parametrize("call, message", [
    (lambda m: find_module(m, "encoder.fc9"), r"^layer: expected the dotted name of a module"),
    (lambda m: find_module(m, nn.Linear(2, 2)), r"^layer: the module Linear is not part of the model"),
    (lambda m: find_module("not a model", "x"), r"^model: expected a torch.nn.Module"),
    (lambda m: layer_gram(m, "encoder.fc1", X), r"^batches: expected an iterable of batches"),
    (lambda m: layer_gram(m, "encoder.fc1", []), r"^batches: holds no batch"),
    (lambda m: layer_gram(m, "encoder.fc1", ["text"]), r"^batches: expected tensors or arrays"),
    (lambda m: layer_gram(m, "encoder.fc1", [X], where="middle"), r"^where:"),
    (lambda m: check_invariance(m, np.eye(6), "encoder.fc1", "head", X.numpy()),
     r"^layer: 'encoder.fc1' has 6 outputs"),
    (lambda m: check_invariance(m, np.ones((6, 6)), "encoder.fc1", "encoder.fc2", X.numpy()), r"^P:"),
    (lambda m: check_invariance(m, np.eye(6), "encoder.fc1", "encoder.fc2", np.ones(12)), r"^inputs: expected a batch"),
    (lambda m: check_invariance(m, np.eye(5), "encoder.fc2", "encoder.fc1", X.numpy()),
     r"^layer: 'encoder.fc2' has 5 outputs"),
    (lambda m: check_invariance(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), np.eye(3), "0", "1", np.ones((2, 3))),
     r"^layer: '1' is a Tanh, not an nn.Linear"),
])
def test_bad_input_names_the_argument(model, call, message):
    with pytest.raises(ValueError, match="^" + message):
        call(model)


def test_a_layer_that_does_not_run_is_reported(model):
    unused = nn.Linear(3, 3)
    model.spare = unused
    with pytest.raises(ValueError, match=r"^layer: 'spare' did not run in the forward pass"):
        layer_gram(model, "spare", [X])
