"""DEERNet networks: architectures, training from a random start, metrics, wiretaps, model files.

Modules: `architectures` (two_layer, deep, denoiser), `training` (TrainConfig, train), `predict`,
`band` (an ensemble's mean distribution and 95 % band, and the band's coverage),
`metrics` (relative error, peak error, the validation library), `wiretap` (inner signals, streamed
Gram matrices), `modelfile` (safetensors with their record inside), `cache` (train_or_load,
train_or_load_many, train_or_load_jobs).
"""

from .architectures import Network, deep, denoiser, two_layer
from .band import BandCoverage, EnsemblePrediction, band_coverage, predict_band
from .cache import DEFAULT_ARCHITECTURE, train_or_load, train_or_load_jobs, train_or_load_many
from .data import TrainingData
from .metrics import VALIDATION_SEED, peak_error, relative_error, summary, unit_sum
from .modelfile import load, save
from .predict import predict
from .training import TrainConfig, TrainingDiverged, TrainingRecord, train
from .wiretap import gram, wiretap

__all__ = ["Network", "two_layer", "deep", "denoiser", "TrainConfig", "TrainingDiverged", "TrainingRecord",
           "TrainingData",
           "DEFAULT_ARCHITECTURE", "train", "predict", "predict_band", "EnsemblePrediction", "band_coverage",
           "BandCoverage", "wiretap", "gram", "save", "load", "train_or_load", "train_or_load_many",
           "train_or_load_jobs", "relative_error", "peak_error", "summary", "unit_sum", "VALIDATION_SEED"]
