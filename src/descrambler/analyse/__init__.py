"""The user's door: a measured DEER trace through the book's network.

Modules: `trace` (`analyse_trace`: load, predict, fit depth and background; the shipped measured traces),
`compare` (the trace against the training database, and the network against DeerLab's Tikhonov fit),
`report` (a figure, a text report and JSON). DeerLab's fit itself is `descrambler.deer.reference`.
"""

from ..deer.metrics import moments as moments
from ..deer.reference import TikhonovFit, tikhonov_fit
from .compare import Comparison, Coverage, compare, comparison_markdown, coverage
from .compare import central_width as central_width
from .report import plot_analysis, report, save_plot
from .report import report_json as report_json
from .trace import Analysis, DepthFit, analyse_trace, fit_depth_and_background, kuprov_trace

#: The public names (`moments`, `central_width` and `report_json` stay importable from here as before;
#: `moments` is `descrambler.deer.moments`).
__all__ = ["analyse_trace", "Analysis", "kuprov_trace", "fit_depth_and_background", "DepthFit", "tikhonov_fit",
           "TikhonovFit", "coverage", "Coverage", "compare", "Comparison", "comparison_markdown", "plot_analysis",
           "save_plot", "report"]
