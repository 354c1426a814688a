"""Face of `descrambler.study.spec`, kept so that the documented path `descrambler.spec` works."""

from .study.spec import (
                         CONFIRMATION_SEEDS,
                         CONFIRMATION_SEEDS_100,
                         DESCRAMBLE_SEED,
                         DEVELOPMENT_SEEDS,
                         PROFILES,
                         SMOKE_SIZES,
                         BookSpec,
                         book_spec,
)

__all__ = ["BookSpec", "book_spec", "PROFILES", "DEVELOPMENT_SEEDS", "CONFIRMATION_SEEDS", "CONFIRMATION_SEEDS_100",
           "DESCRAMBLE_SEED", "SMOKE_SIZES"]
