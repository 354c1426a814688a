"""Face of `descrambler.deer.bruker`, kept so that the documented path `descrambler.bruker` works."""

from .deer.bruker import BES3T, read_bes3t, read_descriptor

__all__ = ["read_bes3t", "BES3T", "read_descriptor"]
