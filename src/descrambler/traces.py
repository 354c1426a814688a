"""Face of `descrambler.deer.traces`, kept so that the documented path `descrambler.traces` works."""

from .deer.traces import MeasuredTrace, load_trace

__all__ = ["load_trace", "MeasuredTrace"]
