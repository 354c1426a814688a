"""The findings table computes verdicts from thresholds; nothing is typed in."""

import math

import pytest

from descrambler.study.findings.table import (
    CLAIMS,
    NOT_SPECIFIC,
    Claim,
    claims_markdown,
    final_verdict,
    findings_table,
    markdown,
    values_markdown,
)

LOWER = Claim("x", "a claim", "reading", "metric", "figure", holds=-10, partly=-3, lower_is_better=True, reason="r")
HIGHER = Claim("y", "b claim", "reading", "metric", "figure", holds=0.9, partly=0.7, lower_is_better=False, reason="r")


@pytest.mark.parametrize("claim, value, verdict", [
    (LOWER, -12, "holds"), (LOWER, -10, "holds"), (LOWER, -5, "partly"), (LOWER, 0, "does not hold"),
    (HIGHER, 0.95, "holds"), (HIGHER, 0.8, "partly"), (HIGHER, 0.1, "does not hold"),
    (HIGHER, math.nan, "does not hold"), (LOWER, math.nan, "does not hold"),
])
def test_verdict_from_thresholds(claim, value, verdict):
    assert claim.verdict(value) == verdict


def test_table_counts_networks_and_uses_the_median():
    rows = findings_table({"x": [-12, -11, -4, 2, -15], "y": [0.95, math.nan, 0.5]}, claims=(LOWER, HIGHER))
    x, y = rows
    assert x.count("holds") == 3 and x.count("partly") == 1 and x.median == -11 and x.verdict == "holds"
    assert (x.low, x.high) == (-15, 2)
    assert y.count("holds") == 1 and y.verdict == "does not hold"  # the failed network counts as worst
    table = markdown(rows)
    assert "3 of 5 (partly: 1)" in table and "**holds**" in table and "1 of 3" in table


def test_the_paper_readings_with_reasons():
    # seven claims of the abstract: group embedding is read on a three-layer net (findings.embedding); the
    # bandpass stands for two (its low-pass part and the notch); Figs. 3 and 4 add fast/slow and orthogonality
    from descrambler.study.findings.embedding import GROUP_EMBEDDING

    assert len(CLAIMS) == 8 and len({c.key for c in CLAIMS}) == 8 and GROUP_EMBEDDING.key not in {c.key for c in CLAIMS}
    assert all(c.reason and c.reading and c.metric and c.differences for c in CLAIMS)
    for claim in CLAIMS:  # the "holds" threshold is stricter than "partly"
        assert (claim.holds <= claim.partly) if claim.lower_is_better else (claim.holds >= claim.partly)


def test_missing_or_empty_measurements_raise():
    with pytest.raises(ValueError, match="^values: no measurements for claim 'x'"):
        findings_table({}, claims=(LOWER,))
    with pytest.raises(ValueError, match="^values: the list for claim 'x' is empty"):
        findings_table({"x": []}, claims=(LOWER,))


def test_markdown_escapes_pipes_and_lists_networks():
    rows = findings_table({"x": [-12.0, 1.0]}, claims=(LOWER,))
    table = values_markdown(rows, ["seed 0", "seed 1"])
    assert "| a claim | -12 (holds) | 1 (does not hold) |" in table
    with pytest.raises(ValueError, match="^labels"):
        values_markdown(rows, ["seed 0"])
    piped = Claim("z", "c", "r", "|x - 3|", "f", 0.5, 1.5, True, "reason")
    assert "\\|x - 3\\|" in claims_markdown([piped])


def test_a_control_that_reaches_the_verdict_makes_it_not_specific():
    trained = findings_table({"x": [-12, -11, -15]}, claims=(LOWER,))
    weak = findings_table({"x": [0, 1, 2]}, claims=(LOWER,))
    strong = findings_table({"x": [-20, -20, -20]}, claims=(LOWER,))
    assert final_verdict(trained[0], [weak[0]]) == "holds"
    assert final_verdict(trained[0], [weak[0], strong[0]]) == NOT_SPECIFIC
    failing = findings_table({"x": [5, 6, 7]}, claims=(LOWER,))
    assert final_verdict(failing[0], [strong[0]]) == "does not hold"  # a failing claim stays failing
    table = markdown(trained, {"untrained": weak, "random": strong})
    assert "untrained (median)" in table and NOT_SPECIFIC in table
    with pytest.raises(ValueError, match="^controls"):
        markdown(trained, {"untrained": []})
