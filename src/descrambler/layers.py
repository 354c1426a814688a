"""Descrambling a layer of any PyTorch network: forward hooks, streamed Gram matrices, descrambled weights.

`descramble_layer(model, "encoder.fc2", batches)` taps a module of someone else's model (by dotted
name or by the module object) with a forward hook while the batches stream through, accumulates the
Gram matrix S S^T of its signals in float64 (S is never held in memory), finds the descrambler P with
`descrambler.groups.descramble`, and returns the module's weight read through it:

- `where="output"`: the module's output (for an `nn.Linear`, its pre-activation signals W x + b); P
  acts on the output side, read P W (as the paper reads its first layer, P1 W1);
- `where="input"`: the module's input (for the Linear after an activation, the activation's output);
  P acts on the input side, read W P^T (as the paper reads its second layer, W2 P2^T).

Signals of shape (batch, features) give one example per row; for more dimensions (a convolution's
(batch, channels, ...) output) the channels are the neurons and every position is an example.
`check_invariance` rotates a hidden layer between two Linear modules of any model and measures the
change of its output: zero to rounding for the exact symmetries (signed permutations of an odd
activation), nonzero for general rotations.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from ._validate import as_array, choice
from .groups import DescrambleResult, descramble
from .groups.objective import check_orthogonal

__all__ = ["descramble_layer", "LayerDescrambling", "layer_gram", "check_invariance",
           "InvarianceReport", "rotate_hidden_layer"]

WHERE = ("output", "input")


class _Stop(Exception):
    """Raised inside a hook to end the forward pass once the tapped module has run."""


def find_module(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """(dotted name, module) of `layer` in `model`, given by dotted name ("encoder.fc2", "0") or object."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    named = dict(model.named_modules())
    if isinstance(layer, nn.Module):
        name = next((n for n, m in named.items() if m is layer), None)
        if name is None:
            raise ValueError(f"layer: the module {type(layer).__name__} is not part of the model")
        return name, layer
    if not isinstance(layer, str) or layer not in named or layer == "":
        names = ", ".join(n for n in named if n)[:300]
        raise ValueError(f"layer: expected the dotted name of a module of the model ({names}), got {layer!r}")
    return layer, named[layer]


def _as_neurons_by_examples(signal: torch.Tensor) -> torch.Tensor:
    """(examples, neurons), float64: rows of a (batch, features) signal; channel vectors of (batch, C, ...)."""
    if signal.ndim < 2:
        raise ValueError(f"layer: its signal has shape {tuple(signal.shape)}; need (batch, features, ...)")
    if signal.ndim > 2:
        signal = signal.movedim(1, -1).reshape(-1, signal.shape[1])
    return signal.detach().to(torch.float64)


def _batch_input(batch):
    """The model input of one batch: the batch itself, or the first item of a (inputs, targets) pair."""
    if isinstance(batch, (tuple, list)) and batch:
        batch = batch[0]
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if not isinstance(batch, torch.Tensor):
        raise ValueError("batches: expected tensors or arrays (or (inputs, targets) pairs), "
                         f"got {type(batch).__name__}")
    return batch


def layer_gram(model: nn.Module, layer: str | nn.Module, batches: Iterable, where: str = "output") -> np.ndarray:
    """The Gram matrix S S^T of the signals at a module's output or input, streamed over batches.

    Each batch goes through the model in evaluation mode without gradients, on the device of its
    parameters, and the forward pass stops once `layer` has run. Signals of shape (batch, features)
    give one example per row; for more dimensions (a convolution's (batch, channels, ...) output)
    the channels are the neurons and every position is an example.

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch model.
    layer : str or torch.nn.Module
        The tapped module, by dotted name ("encoder.fc2", "0") or as the module object.
    batches : iterable
        Input tensors or arrays, or (inputs, targets) pairs (a DataLoader); wrap a single tensor as
        ``[x]``.
    where : {"output", "input"}, default "output"
        Tap the module's output or its input.

    Returns
    -------
    numpy.ndarray
        S S^T, float64, (neurons, neurons).

    Raises
    ------
    ValueError
        If `model` is not a torch module, `layer` is not one of its modules or did not run,
        `where` is unknown, or `batches` is not an iterable of batches or holds none (the message
        starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> from descrambler.layers import layer_gram
    >>> layer_gram(model, "0", [x[:32], x[32:]]).shape
    (80, 80)
    """
    name, module = find_module(model, layer)
    choice(where, "where", WHERE)
    if isinstance(batches, (torch.Tensor, np.ndarray, str, bytes)) or not isinstance(batches, Iterable):
        raise ValueError("batches: expected an iterable of batches (a list of tensors, a generator, a DataLoader); "
                         "wrap a single tensor as [x]")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None else torch.float32
    total: list[torch.Tensor] = []

    def hook(_module, inputs, output):
        signal = _as_neurons_by_examples(inputs[0] if where == "input" else output)
        product = signal.T @ signal
        if total:
            total[0] += product
        else:
            total.append(product)
        raise _Stop

    was_training = model.training
    handle = module.register_forward_hook(hook)
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                try:
                    model(_batch_input(batch).to(device=device, dtype=dtype))
                except _Stop:
                    continue
                raise ValueError(f"layer: {name!r} did not run in the forward pass")
    finally:
        handle.remove()
        model.train(was_training)
    if not total:
        raise ValueError("batches: holds no batch")
    return total[0].cpu().numpy()


@dataclasses.dataclass(frozen=True)
class LayerDescrambling:
    """A layer of a model descrambled: the descrambler P, how it was found, and the weight read through it.

    Returned by `descramble_layer`; `P` (property) is ``result.P``.

    Attributes
    ----------
    layer : str
        Dotted name of the module in the model.
    where : str
        "output" or "input": where the signals were tapped.
    result : DescrambleResult
        The descrambling (P, objective, bound, ...).
    weight : numpy.ndarray or None
        The module's weight W (out_features, in_features), float64, or None for a module without a
        2-D weight.
    descrambled : numpy.ndarray or None
        P W for `where="output"`, W P^T for `where="input"`; None without a weight.

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> from descrambler.layers import descramble_layer
    >>> read = descramble_layer(model, "0", [x])
    >>> read.P.shape, read.descrambled.shape, read.where
    ((80, 80), (80, 256), 'output')
    """

    layer: str
    where: str
    result: DescrambleResult
    weight: np.ndarray | None
    descrambled: np.ndarray | None

    @property
    def P(self) -> np.ndarray:
        """The descrambler (neurons x neurons, orthogonal)."""
        return self.result.P


def descramble_layer(model: nn.Module, layer: str | nn.Module, batches: Iterable, where: str = "output",
                     method: str = "exact", **options) -> LayerDescrambling:
    """Descramble the signals at a module of any PyTorch model and read its weight through P.

    Taps `layer` with a forward hook while the batches stream through, accumulates S S^T in float64
    (`layer_gram`; S is never held in memory), finds P with ``descrambler.groups.descramble(gram,
    method, gram=True, **options)`` and reads the module's weight: `where="output"` (for an
    `nn.Linear`, its pre-activation signals W x + b) gives P W, as the paper reads its first layer
    (P1 W1); `where="input"` (for the Linear after an activation, the activation's output) gives
    W P^T, as the paper reads its second layer (W2 P2^T).

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch model.
    layer : str or torch.nn.Module
        The module, by dotted name or as the object.
    batches : iterable
        Input tensors or arrays, or (inputs, targets) pairs (see `layer_gram`).
    where : {"output", "input"}, default "output"
        Tap the module's output or its input.
    method : {"exact", "cayley"}, default "exact"
        Passed to `descrambler.groups.descramble`.
    **options
        Further keyword arguments of `descrambler.groups.descramble` (derivative, guess, ...).

    Returns
    -------
    LayerDescrambling
        P, the descrambling result, and the weight before and after.

    Raises
    ------
    ValueError
        If an argument is invalid as in `layer_gram` or `descrambler.groups.descramble`, or the
        module's weight does not act on the tapped signals (the message starts with the argument's
        name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> from descrambler.layers import descramble_layer
    >>> read = descramble_layer(model, model[2], [x], where="input")  # the second Linear: W2 P2^T
    >>> read.layer, read.descrambled.shape
    ('2', (256, 80))
    """
    name, module = find_module(model, layer)
    gram = layer_gram(model, module, batches, where)
    result = descramble(gram, method, gram=True, **options)
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        return LayerDescrambling(name, where, result, None, None)
    W = weight.detach().cpu().double().numpy()
    expected = W.shape[0] if where == "output" else W.shape[1]
    if expected != result.P.shape[0]:
        raise ValueError(f"layer: {name!r} has a weight of shape {W.shape}, which does not act on its "
                         f"{result.P.shape[0]} {where} signals")
    return LayerDescrambling(name, where, result, W, result.P @ W if where == "output" else W @ result.P.T)


@dataclasses.dataclass(frozen=True)
class InvarianceReport:
    """Change of a model's output when its hidden layer between `first` and `second` is rotated by P.

    Returned by `check_invariance`.

    Attributes
    ----------
    first, second : str
        Dotted names of the two Linear modules around the hidden layer.
    max_abs : float
        Largest absolute change of the output.
    max_rel : float
        `max_abs` over the largest absolute output (float64 evaluation; inf for an all-zero output).
    inputs : int
        Number of inputs evaluated.

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> import numpy as np
    >>> from descrambler.groups import signed_permutation_matrix
    >>> from descrambler.layers import check_invariance
    >>> P = signed_permutation_matrix(np.roll(np.arange(80), 1), np.ones(80))
    >>> report = check_invariance(model, P, "0", "2", x)
    >>> report.max_rel < 1e-12, report.inputs
    (True, 64)
    """

    first: str
    second: str
    max_abs: float
    max_rel: float
    inputs: int


def rotate_hidden_layer(model: nn.Module, P: ArrayLike, first: str | nn.Module, second: str | nn.Module) -> nn.Module:
    """A float64 copy of a model whose hidden layer between two Linear modules is rotated by P.

    `first`'s weight and bias become P W and P b, `second`'s weight W P^T. The activation between
    them commutes with this only for signed permutations (an odd activation).

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch model (not modified).
    P : array_like
        Orthogonal (h, h) matrix, h the width of the hidden layer.
    first, second : str or torch.nn.Module
        The `nn.Linear` modules before and after the hidden layer, by dotted name or object.

    Returns
    -------
    torch.nn.Module
        The rotated copy, float64.

    Raises
    ------
    ValueError
        If a module is not part of the model or not an `nn.Linear`, their widths do not match, or
        `P` is not orthogonal of that size (the message starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> import numpy as np
    >>> from descrambler.layers import rotate_hidden_layer
    >>> rotate_hidden_layer(model, np.eye(80), "0", "2")[0].weight.dtype
    torch.float64
    """
    names = [find_module(model, m)[0] for m in (first, second)]
    rotated = copy.deepcopy(model).double()
    a, b = (find_module(rotated, n)[1] for n in names)
    for module, name in ((a, names[0]), (b, names[1])):
        if not isinstance(module, nn.Linear):
            raise ValueError(f"layer: {name!r} is a {type(module).__name__}, not an nn.Linear")
    if a.out_features != b.in_features:
        raise ValueError(f"layer: {names[0]!r} has {a.out_features} outputs "
                         f"but {names[1]!r} takes {b.in_features} inputs")
    Pt = torch.as_tensor(check_orthogonal(P, a.out_features), dtype=torch.float64)
    with torch.no_grad():
        a.weight.copy_(Pt @ a.weight)
        if a.bias is not None:
            a.bias.copy_(Pt @ a.bias)
        b.weight.copy_(b.weight @ Pt.T)
    return rotated


def check_invariance(model: nn.Module, P: ArrayLike, first: str | nn.Module, second: str | nn.Module,
                     inputs: ArrayLike) -> InvarianceReport:
    """Rotate a hidden layer by P and measure the change of the model's output.

    Zero to rounding for the exact symmetries (signed permutations of an odd activation), nonzero for
    general rotations. Rotates with `rotate_hidden_layer`; evaluates in float64 and evaluation mode.

    Parameters
    ----------
    model : torch.nn.Module
        Any PyTorch model.
    P : array_like
        Orthogonal (h, h) matrix.
    first, second : str or torch.nn.Module
        The `nn.Linear` modules before and after the hidden layer.
    inputs : array_like
        A batch of inputs, (batch, ...).

    Returns
    -------
    InvarianceReport
        The largest absolute and relative change of the output.

    Raises
    ------
    ValueError
        If an argument is invalid as in `rotate_hidden_layer`, or `inputs` is not a non-empty finite
        batch (the message starts with the argument's name).

    Examples
    --------
    >>> import torch
    >>> from descrambler.deer import make_library
    >>> from descrambler.nets import two_layer
    >>> _ = torch.manual_seed(0)
    >>> model, x = two_layer(), make_library(64).traces
    >>> import numpy as np
    >>> from descrambler.groups import random_rotation
    >>> from descrambler.layers import check_invariance
    >>> P = random_rotation(80, np.random.default_rng(0))  # not a symmetry of tanh
    >>> check_invariance(model, P, "0", "2", x).max_rel > 1e-3
    True
    """
    rotated = rotate_hidden_layer(model, P, first, second)
    x = torch.as_tensor(as_array(inputs, "inputs"), dtype=torch.float64)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"inputs: expected a batch (batch, ...), got shape {tuple(x.shape)}")
    original = copy.deepcopy(model).double().eval()
    rotated.eval()
    with torch.no_grad():
        before, after = original(x), rotated(x)
    change = float((after - before).abs().max())
    scale = float(before.abs().max())
    return InvarianceReport(find_module(model, first)[0], find_module(model, second)[0], change,
                            change / scale if scale > 0 else float("inf"), int(x.shape[0]))
