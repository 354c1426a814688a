"""Tests of descrambler.nets.training: a short training learns, seeds reproduce, configurations are checked."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from descrambler.deer import DEFAULT_TRAIN_CONFIG, LibraryConfig, make_library
from descrambler.nets import TrainConfig, cache, denoiser, predict, relative_error, train, two_layer
from descrambler.nets.data import data_from_dict, distribution_targets
from descrambler.nets.metrics import VALIDATION_SEED
from descrambler.nets.training import library_seed, training_data
from descrambler.signals.laplace import LaplaceConfig, make_laplace
from descrambler.signals.speech import SpeechConfig, make_speech

SMALL = TrainConfig(data=LibraryConfig(), epochs=3, n_train=3000, batch_size=64, learning_rate=1e-2, n_validation=400)


@pytest.fixture(scope="module")
def trained():
    return train(two_layer(), SMALL, seed=5)


def test_short_training_lowers_validation_error(trained):
    _, history = trained
    errors = history.val_rel_error
    assert len(errors) == len(history.loss) == len(history.seconds) == SMALL.epochs
    assert errors[-1] < history.initial["median_rel_error"] - 0.1  # random start ~0.9, trained ~0.4
    assert history.loss[-1] < history.loss[0]
    assert history.final["median_rel_error"] == errors[-1]
    assert np.all(np.diff(history.seconds) > 0) and history.seconds_total >= history.seconds[-1]


def test_same_seed_gives_identical_weights(trained):
    model, _ = trained
    again, _ = train(two_layer(), SMALL, seed=5)
    first, second = model.state_dict(), again.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    other, _ = train(two_layer(), SMALL, seed=6)
    assert not torch.equal(other.state_dict()["0.weight"], first["0.weight"])


def test_incoming_weights_and_global_rng_do_not_matter(trained):
    model, _ = trained
    start = two_layer()
    with torch.no_grad():
        start[0].weight.fill_(3.0)
    state = torch.random.get_rng_state()
    again, _ = train(start, SMALL, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert torch.equal(again.state_dict()["2.weight"], model.state_dict()["2.weight"])


def test_fresh_data_and_schedules_run():
    config = dataclasses.replace(SMALL, epochs=2, n_train=1000, fresh_data=True, schedule="halving", halve_every=1)
    _, history = train(two_layer(n_hidden=8), config, seed=1)
    assert history.learning_rate == pytest.approx([1e-2, 5e-3])
    assert history.data_seconds[1] > history.data_seconds[0]  # a library per epoch


def test_denoiser_trains_on_clean_traces():
    config = dataclasses.replace(SMALL, epochs=2, target="clean")
    _, history = train(denoiser(hidden=(32,)), config, seed=0)
    assert history.val_rel_error[-1] < history.initial["median_rel_error"]
    assert history.val_peak_error_nm == [None, None]


def test_production_deernet_trains():
    from descrambler.nets import deep

    config = dataclasses.replace(SMALL, epochs=2, n_train=2000)
    model, history = train(deep(hidden=(64, 64)), config, seed=0)
    assert history.val_rel_error[-1] < history.initial["median_rel_error"]
    assert not torch.equal(model[1].running_mean, torch.zeros(64))  # batch norm saw the data


def test_targets():
    from descrambler.deer import make_library

    library = make_library(10, LibraryConfig(), seed=1)
    np.testing.assert_allclose(distribution_targets(library.distributions, "max_0.75").max(axis=1), 0.75, rtol=1e-6)
    np.testing.assert_array_equal(distribution_targets(library.distributions, "distribution"), library.distributions)
    _, clean = LibraryConfig().training_pairs(10, 1, "clean")
    np.testing.assert_array_equal(clean, library.clean)


def test_training_seeds_avoid_the_validation_seed():
    seeds = {library_seed(s, e) for s in range(20) for e in range(20)}
    assert len(seeds) == 400 and VALIDATION_SEED not in seeds


def test_config_round_trip():
    assert TrainConfig.from_dict(DEFAULT_TRAIN_CONFIG.to_dict()) == DEFAULT_TRAIN_CONFIG


def test_cuda_request_is_clear_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="device: 'cuda' requested but CUDA is not available"):
        train(two_layer(), SMALL, device="cuda")


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs: must be a positive integer"),
    ({"n_train": -5}, "n_train: must be a positive integer"),
    ({"batch_size": 1.5}, "batch_size: expected a positive integer"),
    ({"n_train": 100, "batch_size": 128}, "n_train: need at least one batch"),
    ({"learning_rate": 0.0}, "learning_rate: must be finite and > 0"),
    ({"weight_decay": -1e-6}, "weight_decay: expected a finite number >= 0"),
    ({"schedule": "linear"}, "schedule: unknown value"),
    ({"target": "peaks"}, "target: unknown value"),
    ({"fresh_data": "yes"}, "fresh_data: expected True or False"),
    ({"data": {}}, "data: expected a training-data dataclass"),
    ({"validation_seed": -1}, "validation_seed: expected a non-negative integer"),
])
def test_bad_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{"data": LibraryConfig(), **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed: expected a non-negative integer"),
    ({"device": "tpu"}, "device: "),
    ({"device": 3}, "device: expected 'cpu' or 'cuda'"),
    ({"config": {"epochs": 1}}, "config: expected a TrainConfig"),
])
def test_bad_train_arguments_raise(kwargs, message):
    arguments = {"config": SMALL, **kwargs}
    with pytest.raises(ValueError, match=message):
        train(two_layer(), **arguments)


def test_thread_count_does_not_change_the_weights_and_is_restored(trained):
    model, _ = trained
    before = torch.get_num_threads()
    two, history = train(two_layer(), SMALL, seed=5, threads=2)
    assert history.threads == 2 and torch.get_num_threads() == before
    # bit-identical on this project's CPU; where BLAS splits sums by thread (measured under MKL's AVX2 path:
    # 1e-6 of the largest weight after 3 epochs) the weights agree to a few thousand float32 epsilons
    for a, b in zip(model.state_dict().values(), two.state_dict().values()):
        assert float((a - b).abs().max()) <= 1e-4 * float(a.abs().max())
    with pytest.raises(ValueError, match="threads: must be a positive integer"):
        train(two_layer(), SMALL, threads=0)


def test_full_batch_lbfgs_learns():
    config = dataclasses.replace(SMALL, optimiser="lbfgs", epochs=3, lbfgs_iterations=10, n_train=2000)
    _, history = train(two_layer(n_hidden=16), config, seed=2)
    assert history.val_rel_error[-1] < history.initial["median_rel_error"] - 0.1
    assert history.learning_rate == [1.0, 1.0, 1.0]  # unused by L-BFGS, recorded as 1


def test_patience_stops_and_keeps_the_best_epoch():
    # a learning rate far too large makes the validation error worsen after the first epochs
    config = dataclasses.replace(SMALL, epochs=8, learning_rate=0.5, schedule="constant", patience=2)
    model, history = train(two_layer(n_hidden=8), config, seed=3)
    errors = history.val_rel_error
    best = history.best_epoch
    assert errors[best - 1] == min(errors)
    assert len(errors) == min(config.epochs, best + config.patience)
    assert history.final["median_rel_error"] == pytest.approx(min(errors))


@pytest.mark.parametrize("field, value", [("optimiser", "sgd"), ("patience", 0), ("lbfgs_iterations", 0)])
def test_bad_training_options_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(SMALL, **{field: value})


def test_training_benchmark_names_the_output_and_profile(tmp_path, monkeypatch):
    import argparse

    from descrambler.bookkit.benchmarks import training as bench

    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    (record,) = bench.run(parser.parse_args(["--profile", "smoke", "--out", str(tmp_path / "m.safetensors")]))
    assert record["output"] == record["architecture"]["arguments"]["output"] and record["profile"] == "smoke"
    assert record["seconds"] > 0 and 0 < record["median_rel_error"] < 1.5
    assert (tmp_path / "m.safetensors").exists()


SPEECH = TrainConfig(data=SpeechConfig(snr_db=(0.0, 5.0)), target="clean", epochs=2, n_train=2000, batch_size=64,
                     learning_rate=3e-3, n_validation=200)


def test_denoiser_trains_on_speech():
    model, history = train(denoiser(hidden=(32,)), SPEECH, seed=2)
    assert history.val_rel_error[-1] < history.initial["median_rel_error"] - 0.1
    assert history.val_peak_error_nm == [None, None]
    clean, noisy = make_speech(SPEECH.n_validation, SPEECH.data, SPEECH.validation_seed)
    y_hat = model(torch.from_numpy(noisy)).detach().numpy()
    error = np.linalg.norm(y_hat - clean, axis=1) / np.linalg.norm(clean, axis=1)
    assert history.final["median_rel_error"] == pytest.approx(float(np.median(error)), rel=1e-5)


def test_training_data_follows_config():
    deer = TrainConfig(data=LibraryConfig(), n_train=300, batch_size=100, target="max_0.75")
    x, y = training_data(deer, 9)
    library = make_library(300, deer.data, 9)
    np.testing.assert_array_equal(x, library.traces)
    np.testing.assert_array_equal(y, distribution_targets(library.distributions, "max_0.75"))
    x, y = training_data(SPEECH, 9)
    clean, noisy = make_speech(SPEECH.n_train, SPEECH.data, 9)
    np.testing.assert_array_equal(x, noisy)
    np.testing.assert_array_equal(y, clean)


def test_speech_config_round_trip_and_cache_key():
    assert TrainConfig.from_dict(json.loads(json.dumps(SPEECH.to_dict()))) == SPEECH
    assert SPEECH.to_dict()["data"]["kind"] == "descrambler.signals.speech:SpeechConfig"
    key = cache.cache_key({"name": "denoiser", "arguments": {}}, SPEECH, 0)
    louder = dataclasses.replace(SPEECH, data=SpeechConfig(snr_db=(5.0, 10.0)))
    assert key != cache.cache_key({"name": "denoiser", "arguments": {}}, louder, 0)
    on_deer = dataclasses.replace(SPEECH, data=LibraryConfig())
    assert key != cache.cache_key({"name": "denoiser", "arguments": {}}, on_deer, 0)
    assert cache.data_sources(SPEECH) == ("descrambler.signals.speech",)
    assert cache.data_sources(on_deer) == ("descrambler.deer.simulate", "descrambler.deer.metrics")


@pytest.mark.parametrize("kwargs, message", [
    ({"data": "speech"}, "^data: expected a training-data dataclass"),
    ({"data": {"snr_db": (0, 5)}}, "^data: expected a training-data dataclass"),
    ({"data": SpeechConfig()}, "^target: unknown value 'max_0.75'; expected one of 'clean'"),
])
def test_bad_data_config_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_train_config_needs_its_data():
    with pytest.raises(TypeError, match="data"):
        TrainConfig(epochs=3)


@pytest.mark.parametrize("fields, message", [
    ({"n_time": 8}, "^data: expected fields with a 'kind'"),
    ({"kind": "os:path"}, "^data: kind 'os:path' is not a dataclass"),
    ({"kind": "somewhere_else.data:Config"}, "^data: kind 'somewhere_else.data:Config' is not imported"),
    ({"kind": "descrambler.nets.training:TrainingRecord"}, "^data: kind .* does not follow the TrainingData"),
])
def test_bad_data_records_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        data_from_dict(fields)


def test_a_users_own_data_trains_through_the_protocol():
    """A frozen dataclass with targets, training_pairs and validation_summary is all `train` needs."""
    @dataclasses.dataclass(frozen=True)
    class Copy:
        width: int = 16
        targets = ("same",)

        def training_pairs(self, n, seed, target):
            x = np.random.default_rng(seed).standard_normal((n, self.width)).astype(np.float32)
            return x, x.copy()

        def validation_summary(self, model, n, seed, target):
            x, y = self.training_pairs(n, seed, target)
            error = relative_error(predict(model, x), y)
            return {"median_rel_error": float(np.median(error)), "median_peak_error_nm": None}

    config = TrainConfig(data=Copy(), target="same", epochs=3, n_train=2000, batch_size=50, n_validation=100)
    _, history = train(two_layer(16, 32, 16, output="linear"), config, seed=0)
    assert history.final["median_rel_error"] < history.initial["median_rel_error"]


def test_a_diverging_training_says_so_and_names_the_epoch():
    from descrambler.nets import TrainingDiverged

    config = TrainConfig(data=LibraryConfig(), epochs=3, n_train=512, batch_size=64, n_validation=100,
                         learning_rate=1e30,
                         target="distribution")
    with pytest.raises(TrainingDiverged,
                       match=r"^training diverged in epoch 1 of 3 .*lower learning_rate \(now 1e\+30\)"):
        train(two_layer(n_hidden=8, output="linear"), config, seed=0)


LAPLACE = TrainConfig(data=LaplaceConfig(n_time=64, n_tau=48, min_width=0.1), target="distribution", epochs=2,
                      n_train=3000, batch_size=64, n_validation=300)


def test_a_net_trains_on_decays():
    model, history = train(two_layer(64, 16, 48, output="softplus"), LAPLACE, seed=2)
    assert history.val_rel_error[-1] < history.initial["median_rel_error"] - 0.1
    assert history.val_peak_error_nm == [None, None]  # a peak error would be in decades of tau, not nm
    decays = make_laplace(LAPLACE.n_validation, LAPLACE.data, LAPLACE.validation_seed)
    error = relative_error(predict(model, decays.traces), decays.distributions)
    assert history.final["median_rel_error"] == pytest.approx(float(np.median(error)), rel=1e-9)


@pytest.mark.parametrize("target", ["distribution", "max_0.75"])
def test_training_data_of_decays_follows_config(target):
    config = dataclasses.replace(LAPLACE, target=target)
    x, y = training_data(config, 9)
    decays = make_laplace(config.n_train, config.data, 9)
    np.testing.assert_array_equal(x, decays.traces)
    np.testing.assert_array_equal(y, distribution_targets(decays.distributions, target))
    assert y.flags["C_CONTIGUOUS"] and y.dtype == np.float32


def test_laplace_config_round_trip_and_cache_key():
    assert TrainConfig.from_dict(json.loads(json.dumps(LAPLACE.to_dict()))) == LAPLACE
    architecture = {"name": "two_layer", "arguments": {"n_in": 64, "n_out": 48}}
    key = cache.cache_key(architecture, LAPLACE, 0)
    noisier = dataclasses.replace(LAPLACE, data=dataclasses.replace(LAPLACE.data, max_noise=0.05))
    assert key != cache.cache_key(architecture, noisier, 0)
    assert cache.data_sources(LAPLACE) == ("descrambler.signals.laplace",)


def test_decays_have_no_clean_target():
    with pytest.raises(ValueError, match="^target: unknown value 'clean'; expected one of 'max_0.75', 'distribution'"):
        TrainConfig(data=LaplaceConfig(), target="clean")


def test_the_training_record_is_typed_and_round_trips_through_the_model_cache(tmp_path, monkeypatch):
    from descrambler.nets import TrainingRecord, train_or_load

    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    tiny = TrainConfig(data=LibraryConfig(), epochs=2, n_train=1000, batch_size=100, n_validation=200)
    architecture = {"name": "two_layer", "arguments": {"n_hidden": 8}}
    _, fresh = train_or_load(3, architecture, tiny)
    _, cached = train_or_load(3, architecture, tiny)
    assert isinstance(fresh["history"], TrainingRecord) and cached["from_cache"]
    assert cached["history"] == fresh["history"] and cached["history"].epoch == [1, 2]
    with pytest.raises(ValueError, match=r"^fields: not fields of a training record: \['epochs'\]"):
        TrainingRecord.from_dict({"epochs": [1]})
    with pytest.raises(ValueError, match="^fields: expected a dict"):
        TrainingRecord.from_dict([1])
