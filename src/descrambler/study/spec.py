"""The book's networks in one place: which network, how it is trained, on what, and with which seeds.

Every chapter reads `book_spec(profile)` instead of keeping its own copy of the training settings, so
chapters 4 onwards reuse chapter 2's cached network. The book's primary network is the paper's own
(a tanh link layer of 80 neurons, a logsig output, least squares), trained as we read the paper (the
pipeline `paper_reading` of `descrambler.study.pipelines`); `book_spec(profile, name)` gives any other
pipeline by name. The fidelity study's pick is `descrambler.study.fidelity.pick_spec(profile)`: this module
depends on the pipelines (data), never on a study's records. Every spec of the book (chapters 10 and 11
too) is made by one factory, `make_spec`, from a pipeline and its sizes per profile.

Profiles: "full" (the book's sizes), "smoke" (small sizes: every chapter runs end to end in seconds) and
"paper" (the full networks; the book build then reads the findings on 100 networks per pipeline).

Seeds are split once, here: the development seeds are the networks looked at while the readings,
thresholds and the fidelity study were designed (chapters 2, 4 and 5 show seed 0, chapter 6 trains seeds 0
and 1); the confirmation seeds are used only by the findings chapter (and, as an ensemble, by chapter 9),
after the readings were fixed in code.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from collections.abc import Mapping

from .._validate import choice
from ..deer.simulate import LibraryConfig
from ..nets import TrainConfig, train_or_load, train_or_load_many
from .pipelines import Candidate, candidate

#: The book's profiles (see the module docstring); "paper" has the networks of "full".
PROFILES = ("full", "smoke", "paper")
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
        return self.train.data

    def network(self, seed: int = 0, progress: bool | None = None) -> tuple[nn.Module, dict]:
        """The trained network of `seed` (from the model cache when present) and its metadata."""
        return train_or_load(seed=seed, architecture=self.architecture, config=self.train, progress=progress)

    def networks(self, seeds, workers: int | None = None, progress: bool | None = None,
                 scheduler: str | None = None) -> list[tuple[nn.Module, dict]]:
        """The trained networks of `seeds`, those missing from the cache trained in parallel: local processes,
        or a Dask cluster (`scheduler`: "local-dask" or an address; see `descrambler.nets.executors`)."""
        return train_or_load_many(seeds, self.architecture, self.train, workers=workers, progress=progress,
                                  scheduler=scheduler)


#: Small sizes of the smoke profile: every chapter runs end to end in seconds.
SMOKE_SIZES = {"epochs": 2, "n_train": 20_000, "n_validation": 1000}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of a spec in one profile: how many development and confirmation seeds (the first of
    DEVELOPMENT_SEEDS and CONFIRMATION_SEEDS), traces streamed to descramble a network, and the changes to
    the pipeline's training (e.g. SMOKE_SIZES)."""

    development: int
    confirmation: int
    n_traces: int
    train: Mapping = dataclasses.field(default_factory=dict)


#: The sizes of the book's two-layer networks.
BOOK_SIZES = {"full": Sizes(2, 20, 1_000_000), "smoke": Sizes(1, 2, 20_000, SMOKE_SIZES)}


def make_spec(pipeline: Candidate, profile: str, sizes: Mapping[str, Sizes], descramble_seed: int = DESCRAMBLE_SEED,
              name: str | None = None) -> BookSpec:
    """The BookSpec of `pipeline` in `profile`, with `sizes["full"]` or `sizes["smoke"]` ("paper" has the
    full sizes); `name` names the spec (default: the pipeline's name)."""
    size = sizes["smoke" if choice(profile, "profile", PROFILES) == "smoke" else "full"]
    train = dataclasses.replace(pipeline.train, **size.train) if size.train else pipeline.train
    return BookSpec(profile, pipeline.name if name is None else name, pipeline.architecture, train,
                    DEVELOPMENT_SEEDS[:size.development], CONFIRMATION_SEEDS[:size.confirmation],
                    n_traces=size.n_traces, descramble_seed=descramble_seed)


#: The pipeline that is the book's primary network: the paper's network, our reading.
PRIMARY = "paper_reading"


def book_spec(profile: str = "full", name: str | None = None) -> BookSpec:
    """The book's networks for `profile`: the paper's network (`name` None) or the pipeline `name` of
    `descrambler.study.pipelines` (for the fidelity study's pick, see `descrambler.study.fidelity.pick_spec`)."""
    return make_spec(candidate(PRIMARY if name is None else name), profile, BOOK_SIZES)
