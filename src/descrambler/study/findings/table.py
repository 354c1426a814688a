"""The findings table: one row per claim of the paper, a metric, thresholds fixed in advance with their
reasons, and verdicts computed from the measured values of several independently trained networks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

VERDICTS = ("holds", "partly", "does not hold")
#: The final verdict of a claim that a null control (an untrained net, random weights) reaches as well.
NOT_SPECIFIC = "not specific: a null control too"


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


#: The paper's readings of the two-layer net (Figs. 2-4 and their text), fixed before the confirmation networks were
#: trained. Group embedding, which the paper shows for a three-layer DEERNet, is
#: `descrambler.study.findings.embedding.GROUP_EMBEDDING` (chapter 10).
#: Every metric is computed on the exact descrambler's result (`descrambler.study.findings.reproduction`).
CLAIMS: tuple[Claim, ...] = (
    Claim("bandpass", "a bandpass filter (low-pass part)",
          "the first layer's response to input frequencies, summed over all link channels (no descrambler "
          "changes it), falls 10 dB below its peak well before the Nyquist frequency: a low-pass filter that "
          "removes high-frequency noise",
          "upper -10 dB edge of the input-frequency response, in units of the Nyquist frequency",
          "Fig. 2, third panel", 0.6, 0.9, True,
          "the highest dipolar frequency of the training distances, nu(rmin), lies at 0.50 Nyquist and the "
          "paper's replica low-pass filter stops at 0.3: an edge within 0.6 is a low-pass filter near the signal "
          "band; up to 0.9 a weak one; a layer that passes everything (as an untrained one) has its edge at 1",
          "the paper does not state its database; its band may follow a different distance range"),
    Claim("notch", "a notch filter",
          "zero input frequency (the non-oscillating baseline) is suppressed over all link channels, the "
          "constant one included, as the dark zero-frequency row of the paper's zoom",
          "response at zero input frequency over the mean of the 3 nearest frequencies, all link channels, dB",
          "Fig. 2, third and fourth panels", -10.0, -3.0, True,
          "-3 dB is the conventional (half-power) edge; -10 dB is a stop band an order of magnitude down",
          "traces boxed to [0, 1] carry a large mean level; how a net removes it depends on the normalisation"),
    Claim("rescaling", "a frequency-axis rescaling (cube root)",
          "within the filter band, the link frequency k* of maximum magnitude at each input frequency f grows "
          "as f^q with q = 1/3 (the paper's cubic overlay y = 0.05 x^3 read the other way): an equivalence "
          "test of q against 1/3",
          "largest distance of the 90 % confidence interval of q from 1/3 (input frequencies 1 to the upper "
          "-10 dB edge, link frequencies >= 1, linear magnitude)",
          "Fig. 2, fourth panel", 0.2, 0.35, True,
          "the paper's own Fig. 2 zoom, digitised, gives 0.17 to 0.18 with this reading (band of its own "
          "annotation, or the lower half of the zoom): 0.2 is the tightest margin its own figure passes; a margin "
          "of 0.2 cannot tell a cube root (1/3) from a square root (1/2) but excludes a linear map (1); 0.35 "
          "still excludes a linear map",
          "argmax per row is fragile where vertical stripes compete with the ridge (as in the paper's own zoom "
          "beyond 20 input bins)"),
    Claim("multiplexing", "frequency-division multiplexing",
          "right singular vectors 9-13 of the descrambled second layer (what it expects to receive) are "
          "sinusoids, more so than those of a random matrix of the same norm descrambled the same way",
          "median sinusoid R^2 of right singular vectors 9-13, minus the same for random W2 controls",
          "Fig. 4, upper right", 0.1, 0.03, False,
          "the descrambler itself turns random matrices into near-sinusoids (R^2 0.8-0.97), so only the excess "
          "over that control can be the network's; 0.1 is a tenth of the full R^2 scale, 0.03 a trace of it",
          "the second-layer signals include the bias (the reference leaves it out)"),
    Claim("chebyshev", "a map from harmonic functions into Chebyshev polynomials",
          "left singular vectors 2-5 of the descrambled second layer (what it sends out) are distorted "
          "Chebyshev polynomials T1-T4, fitted the reference's way (Legendre polynomials and cosines are reported "
          "beside them); the harmonic end of the map is the multiplexing row",
          "median R^2 of left singular vectors 2-5 against T1-T4 (mean-removed vector, scaled T)",
          "Fig. 4, lower right", 0.8, 0.5, False,
          "'distorted' polynomials: 0.8 leaves a fifth of the variation to the distortion; 0.5 is a loose likeness",
          "left singular vectors do not depend on the descrambler: this is a property of W2 and the output layer"),
    Claim("spectral_filtering", "spectral filtering regularisation",
          "the output signals (second-layer outputs over the library, their mean removed) are smooth: the "
          "polynomial degree that holds 90 % of their energy is far below what the 256-point grid could hold",
          "polynomial degree holding 90 % of the centred output-signal energy, over the grid's 256 points",
          "Fig. 4 and the text", 0.125, 0.25, True,
          "a degree up to 32 (an eighth of the grid) is a strong restriction; up to 64 a weak one; white signals "
          "need about 230 (0.9 of the grid)",
          "the effective ranks of W1 and W2 (the paper's second piece of evidence) are reported beside it"),
    Claim("fast_slow", "faster oscillations to shorter distances",
          "along the descrambled second layer, rows at short distances vary fast across the link dimension and "
          "rows at long distances slowly (the paper's 'fast' and 'slow' lines)",
          "Spearman correlation of each row's link-frequency centroid with its distance",
          "Fig. 3", -0.5, -0.2, True,
          "-0.5 is a clear monotone trend, -0.2 a weak one; a random matrix gives about 0",
          "the rows' link-frequency content is set by the descrambler's order, the exact optimum here"),
    Claim("orthogonality", "approximately orthogonal rows and columns of W2",
          "the Gram matrix of the descrambled second layer over the link dimension is nearly diagonal",
          "off-diagonal share of ||B^T B||_F^2 for B = W2 P2^T",
          "Fig. 4, upper left", 0.2, 0.4, True,
          "0.2 leaves four fifths of the Gram energy on the diagonal; a random 256 x 80 matrix gives about 0.24",
          "the output-side Gram matrix B B^T (256 x 256, rank 80) cannot be diagonal; its share is reported"),
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


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of `header` and `rows` (cells as text); pipes inside cells are escaped."""
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)]) + "\n"


def final_verdict(row: FindingRow, controls: Sequence[FindingRow] = ()) -> str:
    """The claim's verdict over the trained nets, or NOT_SPECIFIC when a null control's median reaches a
    verdict at least as good (then the pattern does not need training, or the descrambler makes it)."""
    rank = VERDICTS.index
    if row.verdict != VERDICTS[2] and any(rank(c.verdict) <= rank(row.verdict) for c in controls):
        return NOT_SPECIFIC
    return row.verdict


def markdown(rows: Sequence[FindingRow], controls: Mapping[str, Sequence[FindingRow]] | None = None) -> str:
    """The findings table as Markdown; `controls` (name -> rows of `findings_table` for that null control,
    in the order of `rows`) add a column each and decide the final verdict (`final_verdict`)."""
    controls = dict(controls or {})
    if any(len(control) != len(rows) for control in controls.values()):
        raise ValueError("controls: need one row per claim for every control")
    cells = []
    for i, row in enumerate(rows):
        n = len(row.values)
        spread = f"{row.median:.3g} ({row.low:.3g} to {row.high:.3g})" if n > 1 else f"{row.median:.3g}"
        control_cells = [f"{c[i].median:.3g} ({c[i].verdict})" for c in controls.values()]
        cells.append([row.claim.claim, row.claim.figure, row.claim.metric, row.claim.threshold, spread,
                      f"{row.count('holds')} of {n} (partly: {row.count('partly')})", *control_cells,
                      f"**{final_verdict(row, [c[i] for c in controls.values()])}**"])
    return markdown_table(["claim", "rests on", "metric", "thresholds", "median (range)", "holds in",
                   *(f"{name} (median)" for name in controls), "verdict"], cells)


def values_markdown(rows: Sequence[FindingRow], labels: Sequence[str]) -> str:
    """Each network's metric value and verdict, one column per network (`labels` name the columns)."""
    if any(len(row.values) != len(labels) for row in rows):
        raise ValueError(f"labels: need one label per network ({len(rows[0].values)}), got {len(labels)}")
    return markdown_table(["claim", *labels], [[row.claim.claim, *(f"{v:.3g} ({verdict})" for v, verdict in
                                                           zip(row.values, row.verdicts))] for row in rows])


def claims_markdown(claims: Sequence[Claim] = CLAIMS) -> str:
    """The claims with their readings, metrics, thresholds and the reasons for them, as Markdown."""
    return markdown_table(["claim", "reading tested", "metric", "thresholds", "why these thresholds"],
                  [[c.claim, c.reading, c.metric, c.threshold, c.reason] for c in claims])
