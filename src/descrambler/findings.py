"""Face of `descrambler.study.findings`, kept so that the documented paths `descrambler.findings` and
`descrambler.findings.<module>` work: each submodule is the study's own module object, not a copy."""

import sys

from .study.findings import (
    analysis,
    embedding,
    first_layer,
    laplace,
    paper_layout,
    plots,
    readings,
    regularisation,
    reproduction,
    second_layer,
    spectra,
    table,
)

MODULES = {"analysis": analysis, "embedding": embedding, "first_layer": first_layer, "laplace": laplace,
           "paper_layout": paper_layout, "plots": plots, "readings": readings, "regularisation": regularisation,
           "reproduction": reproduction, "second_layer": second_layer, "spectra": spectra, "table": table}
for _name, _module in MODULES.items():
    sys.modules[f"{__name__}.{_name}"] = _module

__all__ = list(MODULES)
