"""The book's networks in one place: which network, how it is trained, on what, and with which seeds.

Every chapter reads `book_spec(profile)` instead of keeping its own copy of the training settings, so
chapters 4 onwards reuse chapter 2's cached network. The book's primary network is the paper's own
(a tanh link layer of 80 neurons, a logsig output, least squares), trained as we read the paper (the
fidelity study's candidate `paper_reading`). `book_spec(profile, "pick")` gives the candidate that the
study's pre-registered rule picked (`descrambler.fidelity.paper_candidate`), which chapter 7 confirms
next to it. The smoke profile trains the same pipelines with small sizes.

Seeds are split once, here: the development seeds are the networks looked at while the readings,
thresholds and the fidelity study were designed (chapters 2, 4 and 5 show seed 0, chapter 6 trains seeds 0
and 1); the confirmation seeds are used only by the findings chapter (and, as an ensemble, by chapter 9),
after the readings were fixed in code.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from ._validate import choice
from .deer import LibraryConfig
from .nets import TrainConfig, train_or_load, train_or_load_many

PROFILES = ("full", "smoke")
#: Networks looked at during development (the fidelity study trains the first two of them).
DEVELOPMENT_SEEDS = (0, 1)
#: Networks that decide the findings table; never used before the readings were fixed.
CONFIRMATION_SEEDS = tuple(range(1000, 1020))
#: The ensemble option: as many networks as DEERNet's ensemble (the paper's robustness statement).
CONFIRMATION_SEEDS_100 = tuple(range(1000, 1100))
#: Seed of the library streamed through the networks to descramble them (distinct from training seeds).
DESCRAMBLE_SEED = 2021


@dataclasses.dataclass(frozen=True)
class BookSpec:
    """The networks of one profile of the book.

    `architecture`: {"name", "arguments"} for `descrambler.nets.architectures.build`; `train`: how each
    network is trained (its `library` is the training database); `n_traces`: library traces streamed
    through a network to descramble it (seed `descramble_seed`); `candidate`: the fidelity study's name
    for this pipeline.
    """

    profile: str
    candidate: str
    architecture: dict
    train: TrainConfig
    development_seeds: tuple[int, ...]
    confirmation_seeds: tuple[int, ...]
    n_traces: int
    descramble_seed: int = DESCRAMBLE_SEED

    @property
    def library(self) -> LibraryConfig:
        """The training database (also the library the networks are descrambled on)."""
        return self.train.library

    def network(self, seed: int = 0, progress: bool | None = None) -> tuple[nn.Module, dict]:
        """The trained network of `seed` (from the model cache when present) and its metadata."""
        return train_or_load(seed=seed, architecture=self.architecture, config=self.train, progress=progress)

    def networks(self, seeds, workers: int | None = None, progress: bool | None = None) -> list[tuple[nn.Module, dict]]:
        """The trained networks of `seeds`, those missing from the cache trained in parallel processes."""
        return train_or_load_many(seeds, self.architecture, self.train, workers=workers, progress=progress)


#: Small sizes of the smoke profile: every chapter runs end to end in seconds.
SMOKE_SIZES = {"epochs": 2, "n_train": 20_000, "n_validation": 1000}


#: The fidelity study's candidate that is the book's primary network: the paper's network, our reading.
PRIMARY = "paper_reading"


def book_spec(profile: str = "full", candidate: str | None = None) -> BookSpec:
    """The book's networks for `profile` ("full" or "smoke"): the paper's network (`candidate` None), the
    fidelity study's pick ("pick"), or any candidate of `descrambler.fidelity` by name."""
    from . import fidelity  # the fidelity study imports this module's seeds

    choice(profile, "profile", PROFILES)
    if candidate == "pick":
        candidate = fidelity.paper_candidate()
    else:
        candidate = fidelity.candidate(PRIMARY if candidate is None else candidate)
    train = candidate.train
    if profile == "smoke":
        train = dataclasses.replace(train, **SMOKE_SIZES)
        return BookSpec(profile, candidate.name, candidate.architecture, train, DEVELOPMENT_SEEDS[:1],
                        CONFIRMATION_SEEDS[:2], n_traces=20_000)
    return BookSpec(profile, candidate.name, candidate.architecture, train, DEVELOPMENT_SEEDS,
                    CONFIRMATION_SEEDS, n_traces=1_000_000)
