"""Descrambler groups for neural network interpretation, reproduced on DEERNet.

Submodules: `deer` (DEER simulation and training library), `nets` (networks,
training, wiretaps, model files), `groups` (descramblers), `findings` (what the
descrambled DEERNet shows), `book` (executes the notebooks and builds the book).
"""

__version__ = "0.1.0"
