"""The findings table: one row per claim of the paper, a metric, thresholds fixed in advance with their
reasons, and verdicts computed from the measured values of several independently trained networks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

VERDICTS = ("holds", "partly", "does not hold")


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim of the paper read as a measurement: `holds` and `partly` are thresholds on `metric`;
    `reason` explains the thresholds, `differences` what in our set-up differs from the paper's in a way
    that could make the claim fail here."""

    key: str
    claim: str
    reading: str
    metric: str
    figure: str
    holds: float
    partly: float
    lower_is_better: bool
    reason: str
    differences: str = ""

    def verdict(self, value: float) -> str:
        """'holds', 'partly' or 'does not hold' for a measured value (NaN: does not hold)."""
        if value is None or not np.isfinite(value):
            return VERDICTS[2]
        passes = (lambda limit: value <= limit) if self.lower_is_better else (lambda limit: value >= limit)
        return VERDICTS[0] if passes(self.holds) else VERDICTS[1] if passes(self.partly) else VERDICTS[2]

    @property
    def threshold(self) -> str:
        """The thresholds as text, e.g. '<= -10 (holds), <= -3 (partly)'."""
        sign = "<=" if self.lower_is_better else ">="
        return f"{sign} {self.holds:g} holds; {sign} {self.partly:g} partly"


CLAIMS: tuple[Claim, ...] = (
    Claim("bandpass", "a bandpass filter",
          "the first layer passes the dipolar frequencies of the training distances and attenuates the "
          "frequencies above them (above nu(rmin) only the weak parallel-orientation shoulders of the "
          "shortest distances remain, up to 2 nu(rmin), the Nyquist frequency)",
          "mean energy per input-frequency bin above nu(rmin) over that inside [nu(rmax), nu(rmin)], dB",
          "chapter 4, input-frequency energy", -10.0, -3.0, True,
          "-3 dB is the conventional (half-power) band edge; -10 dB is a stop band an order of magnitude down",
          "the pass band follows the training data (time grid, distance range, noise); the paper's output "
          "layer and training schedule are not stated"),
    Claim("notch", "a notch filter",
          "zero input frequency is suppressed in every descrambled link channel except the constant one",
          "energy per bin at zero input frequency over its 3 nearest neighbours, link frequencies >= 1, dB",
          "chapter 4, folded 2-D spectrum", -10.0, -3.0, True,
          "the same half-power and order-of-magnitude levels as for the bandpass",
          "the notch appears only where the descrambler gathers the mean-level response into one link channel; "
          "the paper's figure comes from its optimiser's stopping point, not the exact optimum"),
    Claim("rescaling", "a frequency-axis rescaling",
          "the ridge of the folded spectrum, input frequency against link frequency, follows the cubic curve the "
          "reference script draws over its figure (an empirical curve, which the reference relates to the "
          "r^-3 law of the dipolar frequency)",
          "|exponent - 3| of the power-law fit of the ridge",
          "chapter 4, ridge of the folded spectrum", 0.5, 1.5, True,
          "within half a power of the cube it holds; an exponent of at least 1.5 is still a clearly non-linear "
          "rescaling, so partly; an exponent near 1 (no rescaling) or no ridge does not hold",
          "the reference draws its cube by eye on its own network at its optimiser's stopping point; we fit the "
          "ridge of the exact optimum over significant link frequencies only, and our output layer differs"),
    Claim("multiplexing", "frequency-division multiplexing",
          "different link-frequency channels carry different, little-overlapping input-frequency bands",
          "mean overlap of the channels' input-frequency profiles over that of randomly rotated layers",
          "chapter 4, channel profiles", 0.5, 0.8, True,
          "half the overlap of a scrambled layer is a clear separation; 0.8 is a visible but weak one",
          "the paper's evidence for multiplexing was not available to us: our reading may not be the paper's"),
    Claim("group_embedding", "group embedding",
          "the singular values of the second layer come in near-degenerate pairs, which descrambling shows "
          "as cos/sin pairs: two-dimensional representations of a rotation group",
          "mean relative gap within pairs over that between pairs of the first 20 singular values",
          "chapter 5, singular values and right singular vectors", 0.5, 0.8, True,
          "pairs twice as tight as the spacing between them are clearly paired; 1 is a smooth decay",
          "the paper's evidence was not available to us; cos/sin pairs of descrambled vectors come from the "
          "periodic smoothness operator's paired Fourier modes whatever the network, so we test the singular "
          "values, which the descrambler cannot change"),
    Claim("spectral_filtering", "spectral filtering regularisation",
          "the net's Jacobian acts in the DEER kernel's singular bases like a Tikhonov-regularised inverse",
          "median R^2 of scaled Tikhonov filter factors fitted to the Jacobian's filter factors",
          "chapter 5, filter factors", 0.9, 0.7, False,
          "R^2 of 0.9 leaves a tenth of the variation unexplained; 0.7 is a rough likeness",
          "the network also removes the background and undoes the boxing of each trace, which a kernel inverse "
          "does not; the paper's evidence for this claim was not available to us"),
    Claim("harmonic_to_chebyshev", "a map from harmonic functions into Chebyshev polynomials",
          "right singular vectors 9-13 of the descrambled second layer are sinusoids (largely guaranteed by "
          "the descrambler itself, chapter 5) and left singular vectors 1-5 span the polynomials of degree "
          "< 5 (the span of T0..T4)",
          "smaller of: median sinusoid R^2 of right vectors 9-13, polynomial share of the span of left vectors 1-5",
          "chapter 5, singular vectors", 0.9, 0.7, False,
          "both ends of the map must be what the paper names; 0.9 and 0.7 as for the other fits",
          "the output layer: the 2018 DEERNet used a logistic sigmoid with targets scaled to a maximum of 0.75, "
          "which bounds and smooths what the second layer writes; our default output differs"),
)


@dataclasses.dataclass
class FindingRow:
    """One claim measured over several networks."""

    claim: Claim
    values: list[float]
    verdicts: list[str]
    median: float
    low: float
    high: float
    verdict: str

    def count(self, verdict: str = "holds") -> int:
        """In how many networks the claim got `verdict`."""
        return self.verdicts.count(verdict)


def findings_table(values: Mapping[str, Sequence[float]], claims: Sequence[Claim] = CLAIMS) -> list[FindingRow]:
    """Rows of the table from measured `values` (claim key -> one value per network). The overall
    verdict is the verdict of the median value; the per-network verdicts give the counts."""
    rows = []
    for claim in claims:
        if claim.key not in values:
            raise ValueError(f"values: no measurements for claim {claim.key!r}")
        measured = [float(v) for v in values[claim.key]]
        if not measured:
            raise ValueError(f"values: the list for claim {claim.key!r} is empty")
        worst = np.inf if claim.lower_is_better else -np.inf  # a failed measurement counts as the worst value
        ranked = np.array([v if np.isfinite(v) else worst for v in measured])
        median = float(np.median(ranked))
        rows.append(FindingRow(claim, measured, [claim.verdict(v) for v in measured], median,
                               float(ranked.min()), float(ranked.max()), claim.verdict(median)))
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; pipes inside cells are escaped."""
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)]) + "\n"


def markdown(rows: Sequence[FindingRow]) -> str:
    """The findings table as Markdown."""
    cells = []
    for row in rows:
        n = len(row.values)
        spread = f"{row.median:.3g} ({row.low:.3g} to {row.high:.3g})" if n > 1 else f"{row.median:.3g}"
        cells.append([row.claim.claim, row.claim.figure, row.claim.metric, row.claim.threshold, spread,
                      f"{row.count('holds')} of {n} (partly: {row.count('partly')})", f"**{row.verdict}**"])
    return _table(["claim", "rests on", "metric", "thresholds", "median (range)", "holds in", "verdict"], cells)


def values_markdown(rows: Sequence[FindingRow], labels: Sequence[str]) -> str:
    """Each network's metric value and verdict, one column per network (`labels` name the columns)."""
    if any(len(row.values) != len(labels) for row in rows):
        raise ValueError(f"labels: need one label per network ({len(rows[0].values)}), got {len(labels)}")
    return _table(["claim", *labels], [[row.claim.claim, *(f"{v:.3g} ({verdict})" for v, verdict in
                                                           zip(row.values, row.verdicts))] for row in rows])


def claims_markdown(claims: Sequence[Claim] = CLAIMS) -> str:
    """The claims with their readings, metrics, thresholds and the reasons for them, as Markdown."""
    return _table(["claim", "reading tested", "metric", "thresholds", "why these thresholds"],
                  [[c.claim, c.reading, c.metric, c.threshold, c.reason] for c in claims])
