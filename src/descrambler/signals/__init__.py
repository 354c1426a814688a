"""Other problems' data, each a `descrambler.nets.data.TrainingData` or a set of test signals.

Modules: `speech` (speech-like frames for the denoiser of chapter 11), `laplace` (multi-exponential decays,
the inverse Laplace transform of chapter 12), `toys` (smooth signals scrambled by a known rotation, for the
descramblers' tests, chapter 3 and the descramble benchmark).
"""
