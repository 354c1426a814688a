"""The book's studies: which network, how it is read, and what it shows. Imported by nothing below it.

Modules: `pipelines` (the candidate training pipelines, as data), `spec` (the book's networks and seeds),
`findings` (each claim of the paper as a measurement, and the verdict table), `fidelity` (which pipeline
reproduces the paper: the pre-registered study and its records), `replica` (the paper's rational replica),
`ensemble` (the findings over many networks), `deeper` (chapter 10), `denoising` (chapter 11),
`paper_figures` (the paper's Fig. 2, digitised).
"""
