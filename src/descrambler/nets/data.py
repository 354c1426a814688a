"""What `train` needs of a kind of training data, and how a data configuration is kept in a record.

`nets` knows no domain: a DEER library (`descrambler.deer.LibraryConfig`), speech-like frames
(`descrambler.signals.speech.SpeechConfig`), multi-exponential decays
(`descrambler.signals.laplace.LaplaceConfig`) or a user's own data are all frozen dataclasses that follow
the `TrainingData` protocol: they name the targets they offer, draw (inputs, targets) pairs from a seed,
and summarise a network on their fixed validation set. `TrainConfig(data=...)` takes any of them.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from torch import nn

from .metrics import relative_error
from .predict import outputs

__all__ = ["TrainingData", "data_to_dict", "data_from_dict", "distribution_targets", "clean_summary",
           "distribution_summary"]

#: Targets of data whose answers are distributions: as drawn (unit mean), or scaled to a peak of 0.75
#: (the 2018 DEERNet's sigmoid output).
DISTRIBUTION_TARGETS = ("distribution", "max_0.75")


@runtime_checkable
class TrainingData(Protocol):
    """A kind of training data: a frozen dataclass with these members.

    Attributes
    ----------
    targets : tuple of str
        The targets it offers, e.g. ("max_0.75", "distribution", "clean"); `TrainConfig.target` must be one.

    Examples
    --------
    >>> from descrambler.deer import LibraryConfig
    >>> from descrambler.nets import TrainingData
    >>> isinstance(LibraryConfig(), TrainingData), LibraryConfig.targets[0]
    (True, 'max_0.75')
    """

    targets: ClassVar[tuple[str, ...]]

    def training_pairs(self, n: int, seed: int, target: str) -> tuple[np.ndarray, np.ndarray]:
        """`n` training examples drawn from `seed`.

        Parameters
        ----------
        n : int
            Number of examples.
        seed : int
            Random seed (the same seed gives the same examples).
        target : str
            One of `targets`.

        Returns
        -------
        inputs, targets : numpy.ndarray
            float32, C-contiguous, (n, input width) and (n, output width).
        """

    def validation_summary(self, model: nn.Module, n: int, seed: int, target: str) -> dict:
        """A network's summary on `n` fixed validation examples drawn from `seed`.

        Parameters
        ----------
        model : torch.nn.Module
            The network being trained.
        n : int
            Number of validation examples.
        seed : int
            Their seed (never a training seed).
        target : str
            One of `targets`.

        Returns
        -------
        dict
            At least "median_rel_error" and "median_peak_error_nm" (nm; None without a distance axis).
        """


def data_to_dict(data: TrainingData) -> dict:
    """The configuration as JSON-ready fields, with its class under "kind" ("module:QualName")."""
    return {"kind": f"{type(data).__module__}:{type(data).__qualname__}", **dataclasses.asdict(data)}


def data_from_dict(fields: dict) -> TrainingData:
    """Inverse of `data_to_dict`. The class is imported when it lives in this package; a class of
    another package must already be imported (a record never imports code of its own choosing)."""
    if not isinstance(fields, dict) or not isinstance(fields.get("kind"), str) or ":" not in fields["kind"]:
        raise ValueError(f"data: expected fields with a 'kind' of the form 'module:Class', got {fields!r}")
    module_name, _, class_name = fields["kind"].partition(":")
    if module_name.split(".")[0] == __name__.split(".")[0]:
        module = importlib.import_module(module_name)
    elif module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        raise ValueError(f"data: kind {fields['kind']!r} is not imported; import {module_name} first")
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"data: kind {fields['kind']!r} is not a dataclass")
    data = cls(**{key: value for key, value in fields.items() if key != "kind"})
    if not isinstance(data, TrainingData):
        raise ValueError(f"data: kind {fields['kind']!r} does not follow the TrainingData protocol")
    return data


def distribution_targets(distributions: np.ndarray, target: str) -> np.ndarray:
    """Training targets from distributions (rows): as they are ("distribution") or scaled to a peak of
    0.75 ("max_0.75"); float32, C-contiguous."""
    if target == "max_0.75":
        distributions = distributions * (0.75 / distributions.max(axis=1, keepdims=True))
    return np.ascontiguousarray(distributions)


def clean_summary(model: nn.Module, noisy: np.ndarray, clean: np.ndarray) -> dict:
    """A denoiser's validation summary: the median of ||y_hat - y|| / ||y|| over the examples."""
    clean = clean.astype(np.float64)
    error = np.linalg.norm(outputs(model, noisy) - clean, axis=1) / np.linalg.norm(clean, axis=1)
    return {"median_rel_error": float(np.median(error)), "median_peak_error_nm": None}


def distribution_summary(predicted: np.ndarray, true: np.ndarray) -> dict:
    """The median relative error of predicted distributions, for data with no distance axis in nm."""
    return {"median_rel_error": float(np.median(relative_error(predicted, true))), "median_peak_error_nm": None}
