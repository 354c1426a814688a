"""Fully connected DEERNet architectures as `Network`s (an `nn.Sequential` that records how it was built).

Every builder records its name and arguments in `model.architecture` so that a model file can
rebuild the network (`descrambler.nets.modelfile`). Hidden layer k (1-based) is the output of the
k-th `nn.Linear` (see `descrambler.nets.wiretap`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._validate import choice, positive_int

#: Output activations a builder accepts; "logsig" is the logistic sigmoid (MATLAB's name, the paper's word).
OUTPUTS = ("linear", "logsig", "softplus")
#: Hidden activations a builder accepts.
ACTIVATIONS = ("tanh", "softplus", "sigmoid", "relu")


class Network(nn.Sequential):
    """A network built by `two_layer`, `deep` or `denoiser`: an `nn.Sequential` that knows how it was built.

    Parameters
    ----------
    *modules : torch.nn.Module
        The layers, in order.
    architecture : dict or None, default None
        {"name", "arguments"}: the builder and its arguments (`build` rebuilds the network from it); None
        for a slice of a network (`net[:2]`), which no builder makes.

    Attributes
    ----------
    architecture : dict or None
        As given.
    metadata : dict
        What `train_or_load` or `load` recorded about its training (configuration, seed, metrics,
        history); empty for a network that was only built.

    Examples
    --------
    >>> from descrambler.nets import two_layer
    >>> net = two_layer(n_hidden=8)
    >>> net.architecture["name"], net.metadata
    ('two_layer', {})
    """

    def __init__(self, *modules: nn.Module, architecture: dict | None = None):
        super().__init__(*modules)
        self.architecture = architecture
        self.metadata: dict = {}


class MeanNormalise(nn.Module):
    """Divide each output row by its mean (production DEERNet's last layer): rows have mean 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / x.mean(dim=-1, keepdim=True)


def _activation(name: str, argument: str) -> nn.Module | None:
    modules = {"linear": None, "tanh": nn.Tanh, "softplus": nn.Softplus, "sigmoid": nn.Sigmoid,
               "logsig": nn.Sigmoid, "relu": nn.ReLU}
    choice(name, argument, modules)
    return None if modules[name] is None else modules[name]()


def _widths(hidden, argument: str) -> tuple[int, ...]:
    if isinstance(hidden, (int, str)) or not isinstance(hidden, Sequence) or len(hidden) == 0:
        raise ValueError(f"{argument}: expected a non-empty sequence of layer widths, got {hidden!r}")
    return tuple(positive_int(width, argument) for width in hidden)


def _stack(name: str, arguments: dict, widths: Sequence[int], activation: str, output: str, *,
           bias: bool = True, batch_norm: bool = False, mean_normalise: bool = False) -> Network:
    """Linear layers between consecutive `widths`, each followed by [BatchNorm] and its activation."""
    modules: list[nn.Module] = []
    n_layers = len(widths) - 1
    for k in range(n_layers):
        modules.append(nn.Linear(widths[k], widths[k + 1], bias=bias))
        if batch_norm:
            modules.append(nn.BatchNorm1d(widths[k + 1]))
        last = k == n_layers - 1
        module = _activation(output if last else activation, "output" if last else "activation")
        if module is not None:
            modules.append(module)
    if mean_normalise:
        modules.append(MeanNormalise())
    return Network(*modules, architecture={"name": name, "arguments": arguments})


def two_layer(n_in: int = 256, n_hidden: int = 80, n_out: int = 256, output: str = "logsig") -> Network:
    """The paper's analysed DEERNet: Linear(n_in, n_hidden) + tanh + Linear(n_hidden, n_out) + `output`.

    The default output is the paper's: "fully connected > sigmoidal function > fully connected >
    logsig function > vector regression" (the logistic sigmoid keeps the output, a probability
    density, positive). "softplus" (the production DEERNet's output) and "linear" are variants.

    Parameters
    ----------
    n_in : int, default 256
        Inputs: points of a trace.
    n_hidden : int, default 80
        Hidden neurons.
    n_out : int, default 256
        Outputs: points of a distance distribution.
    output : {"logsig", "softplus", "linear"}, default "logsig"
        Output activation (one of OUTPUTS; "logsig" is the logistic sigmoid).

    Returns
    -------
    Network
        The untrained network; `model.architecture` records the builder and its arguments.

    Raises
    ------
    ValueError
        If a width is not a positive integer or `output` is unknown (the message starts with the
        argument's name).

    Examples
    --------
    >>> from descrambler.nets import two_layer
    >>> model = two_layer()
    >>> model.architecture["arguments"]
    {'n_in': 256, 'n_hidden': 80, 'n_out': 256, 'output': 'logsig'}
    """
    widths = [positive_int(n, name) for n, name in ((n_in, "n_in"), (n_hidden, "n_hidden"), (n_out, "n_out"))]
    choice(output, "output", OUTPUTS)
    arguments = {"n_in": widths[0], "n_hidden": widths[1], "n_out": widths[2], "output": output}
    return _stack("two_layer", arguments, widths, "tanh", output)


def deep(n_in: int = 256, hidden: Sequence[int] = (256,) * 5, n_out: int = 256, activation: str = "softplus",
         output: str = "softplus", bias: bool = False, batch_norm: bool = True,
         mean_normalise: bool = True) -> Network:
    """A deep fully connected DEERNet; the defaults are the production DEERNet (dist_net.m).

    Defaults: six Linear layers of width 256 without bias, each followed by BatchNorm1d and softplus,
    then division by the output mean. The three-layer DEERNet of the paper (architecture
    undocumented) is, for example, ``deep(hidden=(80, 80), activation="tanh", bias=True,
    batch_norm=False, mean_normalise=False)``: three Linear layers, tanh between them.

    Parameters
    ----------
    n_in : int, default 256
        Inputs: points of a trace.
    hidden : sequence of int, default (256, 256, 256, 256, 256)
        Widths of the hidden layers (at least one).
    n_out : int, default 256
        Outputs: points of a distance distribution.
    activation : {"softplus", "tanh", "sigmoid", "relu"}, default "softplus"
        Hidden activation (one of ACTIVATIONS).
    output : {"softplus", "logsig", "linear"}, default "softplus"
        Output activation (one of OUTPUTS).
    bias : bool, default False
        Whether the Linear layers have a bias.
    batch_norm : bool, default True
        BatchNorm1d after every Linear layer.
    mean_normalise : bool, default True
        Divide each output row by its mean (rows have mean 1).

    Returns
    -------
    Network
        The untrained network, with `model.architecture`.

    Raises
    ------
    ValueError
        If a width is not a positive integer, `hidden` is empty, an activation is unknown or a flag
        is not a bool (the message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.nets import deep
    >>> model = deep(hidden=(80, 80), activation="tanh", bias=True, batch_norm=False,
    ...              mean_normalise=False)
    >>> sum(type(m).__name__ == "Linear" for m in model)
    3
    """
    widths = [positive_int(n_in, "n_in"), *_widths(hidden, "hidden"), positive_int(n_out, "n_out")]
    choice(activation, "activation", ACTIVATIONS)
    choice(output, "output", OUTPUTS)
    for flag, name in ((bias, "bias"), (batch_norm, "batch_norm"), (mean_normalise, "mean_normalise")):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}: expected True or False, got {flag!r}")
    arguments = {"n_in": widths[0], "hidden": list(widths[1:-1]), "n_out": widths[-1], "activation": activation,
                 "output": output, "bias": bias, "batch_norm": batch_norm, "mean_normalise": mean_normalise}
    return _stack("deep", arguments, widths, activation, output, bias=bias, batch_norm=batch_norm,
                  mean_normalise=mean_normalise)


def denoiser(n_in: int = 256, hidden: Sequence[int] = (256,), activation: str = "tanh") -> Network:
    """A fully connected denoising net: noisy boxed traces (batch, n_in) to clean traces (batch, n_in).

    Linear layers through `hidden` with `activation`, linear output (clean traces, boxed by the
    noisy trace's range, can leave [0, 1] slightly). Train it with ``TrainConfig(target="clean")``.

    Parameters
    ----------
    n_in : int, default 256
        Points of a trace (inputs and outputs).
    hidden : sequence of int, default (256,)
        Widths of the hidden layers (at least one).
    activation : {"tanh", "softplus", "sigmoid", "relu"}, default "tanh"
        Hidden activation (one of ACTIVATIONS).

    Returns
    -------
    Network
        The untrained network, with `model.architecture`.

    Raises
    ------
    ValueError
        If a width is not a positive integer, `hidden` is empty or `activation` is unknown (the
        message starts with the argument's name).

    Examples
    --------
    >>> from descrambler.nets import denoiser
    >>> denoiser(hidden=(64,))[0].out_features
    64
    """
    widths = [positive_int(n_in, "n_in"), *_widths(hidden, "hidden"), positive_int(n_in, "n_in")]
    choice(activation, "activation", ACTIVATIONS)
    arguments = {"n_in": widths[0], "hidden": list(widths[1:-1]), "activation": activation}
    return _stack("denoiser", arguments, widths, activation, "linear")


#: Builders by the name recorded in `model.architecture`.
BUILDERS = {"two_layer": two_layer, "deep": deep, "denoiser": denoiser}


def build(architecture: dict) -> Network:
    """Rebuild a model (fresh weights) from a `model.architecture` record {"name", "arguments"}."""
    if not isinstance(architecture, dict) or set(architecture) != {"name", "arguments"}:
        raise ValueError(f"architecture: expected {{'name': ..., 'arguments': {{...}}}}, got {architecture!r}")
    choice(architecture["name"], "architecture", BUILDERS)
    try:
        return BUILDERS[architecture["name"]](**architecture["arguments"])
    except TypeError as error:
        raise ValueError(f"architecture: arguments do not fit {architecture['name']}: {error}") from None


def architecture_of(model: nn.Module) -> dict:
    """The {"name", "arguments"} record of a model built here; ValueError for any other model."""
    record = getattr(model, "architecture", None)
    if not isinstance(model, Network) or not isinstance(record, dict):
        raise ValueError("model: not built by descrambler.nets (two_layer, deep or denoiser), so it "
                         "cannot be rebuilt from a file")
    return record


def linear_layers(model: nn.Module) -> list[int]:
    """Indices, in `model`, of its `nn.Linear` modules (hidden layer k is entry k - 1)."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model: expected a torch.nn.Sequential, got {type(model).__name__}")
    indices = [i for i, module in enumerate(model) if isinstance(module, nn.Linear)]
    if not indices:
        raise ValueError("model: has no nn.Linear layer")
    return indices
