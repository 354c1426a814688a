"""Building, checking and timing the book: `build` (papermill, then Jupyter Book), `htmlcheck` (the
reader's check of the built HTML), `performance` (the Performance page's figure), `benchmarks` (the
`python -m descrambler bench` commands)."""
