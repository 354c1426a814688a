"""The DEER domain: simulation, measured traces, Bruker files, the DeerLab reference and DEERNet's measures.

Modules: `simulate` (the dipolar kernel, distance ranges, DEERNet's training library; times in us,
distances in nm), `traces` (a measured trace made ready for a network), `bruker` (BES3T .DSC/.DTA files),
`reference` (DeerLab's Tikhonov fit of a measured trace), `metrics` (the validation library, a network's
summary on it, the moments of a distribution, the book's default training).
"""

from .metrics import DEFAULT_TRAIN_CONFIG, evaluate, moments, validation_library
from .simulate import (
                       BLOCK_SIZE,
                       Library,
                       LibraryConfig,
                       dipolar_frequency,
                       dipolar_kernel,
                       dipolar_kernel_by_quadrature,
                       distance_range,
                       iter_library,
                       library_preset,
                       make_library,
)

__all__ = ["dipolar_frequency", "dipolar_kernel", "dipolar_kernel_by_quadrature", "distance_range",
           "LibraryConfig", "library_preset", "Library", "make_library", "iter_library", "BLOCK_SIZE",
           "validation_library", "evaluate", "moments", "DEFAULT_TRAIN_CONFIG"]
