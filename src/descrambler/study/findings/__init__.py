"""What the descrambled DEERNet shows (chapters 4 to 6): each claim of the paper as a measurement.

Modules: `spectra` (folded 2-D spectra of weight matrices), `first_layer` (notch, bandpass, frequency
ridge, multiplexing), `second_layer` (sinusoid and Chebyshev fits, singular-value pairing),
`regularisation` (the network's Jacobian against Tikhonov filters), `analysis` (wiretap, descramble and
measure a trained network), `table` (claims, thresholds, verdicts) and `plots` (the shared figures).
"""
