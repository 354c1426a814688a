"""Descrambler groups (chapter 3): find the group element P that makes a layer's inner signals smooth.

- `smoothness_objective`: the paper's normalised Tikhonov smoothness eta(P) (module `objective`);
- `descramble`: P in SO(n), by the paper's Cayley chart ("cayley": trust-region Newton-CG, or the
  reference's L-BFGS settings) or in closed form ("exact") (modules `solve`, `cayley`, `exact`);
- `diagonal_descramble`: the maximum-diagonality descrambler (module `diagonal`);
- `permutation_descramble`: the signed-permutation subgroup, exact symmetries of a tanh layer
  (module `permutation`);
- `second_layer_signals`, `second_layer_gram`: the paper's second-layer signals (module `network`).

Pure numpy and scipy: importing it does not load torch (the torch side is `descrambler.layers`).

Signals S have neurons in rows (n, N); every function that takes S also takes the Gram matrix
S S^T with `gram=True`. Every descrambler returns a `GroupResult` (module `result`): `DescrambleResult`
(smoothness), its subclass `PermutationResult` (with the order and signs of the signed permutation) or
`DiagonalResult` (diagonality).
"""

from .diagonal import DiagonalResult, diagonal_descramble
from .haar import random_rotation
from .network import second_layer_gram, second_layer_signals
from .objective import smoothness_objective
from .permutation import PermutationResult, permutation_descramble, signed_permutation_matrix, symmetry_between
from .result import GroupResult
from .solve import DescrambleResult, descramble

__all__ = [
    "GroupResult", "DescrambleResult", "PermutationResult", "DiagonalResult", "descramble",
    "diagonal_descramble", "permutation_descramble", "random_rotation", "second_layer_gram", "second_layer_signals",
    "signed_permutation_matrix", "smoothness_objective", "symmetry_between",
]
