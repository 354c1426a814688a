"""Tests of descrambler.nets model files (safetensors with their record inside, a JSON copy beside) and the
train_or_load cache."""

import json
import pickle
import warnings

import numpy as np
import pytest
import torch

from descrambler.deer import DEFAULT_TRAIN_CONFIG, LibraryConfig
from descrambler.nets import TrainConfig, deep, denoiser, load, predict, save, train_or_load, two_layer
from descrambler.nets import modelfile
from descrambler.nets.modelfile import read_record, sidecar_path

X = np.random.default_rng(0).random((6, 256), dtype=np.float32)


def outputs(model):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = two_layer(output="linear")
    path = tmp_path / "m.safetensors"
    metadata = {"seed": 3, "metrics": {"median_rel_error": np.float64(0.5)}, "train_config": DEFAULT_TRAIN_CONFIG}
    save(model, path, metadata)
    return model, path


@pytest.mark.parametrize("builder", [lambda: two_layer(output="logsig"), lambda: deep(hidden=(32, 16)),
                                     lambda: denoiser(hidden=(20,))])
def test_save_then_load_gives_identical_outputs(tmp_path, builder):
    torch.manual_seed(1)
    model = builder()
    model.train()
    model(torch.rand(64, 256))  # moves batch-norm running statistics away from their start
    save(model, tmp_path / "net.safetensors")
    loaded = load(tmp_path / "net.safetensors")
    assert not loaded.training and loaded.architecture == model.architecture
    np.testing.assert_array_equal(outputs(loaded), outputs(model))


def test_sidecar_records_architecture_versions_and_metadata(saved):
    model, path = saved
    record = json.loads(sidecar_path(path).read_text())
    assert record["architecture"] == model.architecture
    assert len(record["sha256"]) == 64
    assert {"descrambler", "torch", "safetensors"} <= set(record["versions"])
    assert record["metadata"]["seed"] == 3
    assert record["metadata"]["train_config"]["data"]["n_time"] == 256
    assert load(path).metadata["metrics"]["median_rel_error"] == 0.5


def test_load_never_unpickles(saved, monkeypatch):
    _, path = saved

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    load(path)


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:len(data) // 2], "content hash mismatch"),  # truncated inside the weights
    (lambda data: data[:5], "not a readable safetensors file"),  # truncated inside the header
    (lambda data: data[:-100] + bytes(b ^ 0xFF for b in data[-100:]), "content hash mismatch"),  # corrupted
    (lambda data: b"", "not a readable safetensors file"),
])
def test_damaged_files_raise(saved, damage, message):
    _, path = saved
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=f"^path: .*{message}"):
        load(path)


def rewrite_record(path, change):
    """Change the record inside the safetensors header of `path` (the tensors stay as they are)."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    record = json.loads(header["__metadata__"]["descrambler"])
    change(record)
    header["__metadata__"]["descrambler"] = json.dumps(record)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + size:])


def test_wrong_hash_raises(saved):
    _, path = saved
    rewrite_record(path, lambda record: record.update(tensors_sha256="0" * 64))
    with pytest.raises(ValueError, match="^path: content hash mismatch"):
        load(path)


@pytest.mark.parametrize("writer", [
    lambda model, path: torch.save(model.state_dict(), path),
    lambda model, path: torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False),
    lambda model, path: path.write_bytes(pickle.dumps({"weights": [1, 2, 3]})),
])
def test_pickle_files_are_refused(saved, writer):
    model, path = saved
    writer(model, path)
    with pytest.raises(ValueError, match="^path: .* is a pickle or torch.save file; descrambler never unpickles"):
        load(path)


def test_the_sidecar_is_only_a_copy(saved):
    model, path = saved
    sidecar = sidecar_path(path)
    sidecar.write_text("{not json")
    np.testing.assert_array_equal(outputs(load(path)), outputs(model))
    sidecar.unlink()
    np.testing.assert_array_equal(outputs(load(path)), outputs(model))
    with pytest.raises(ValueError, match="^path: no such model file"):
        load(path.with_name("absent.safetensors"))


@pytest.mark.parametrize("step", ["weights", "sidecar"])
def test_an_interrupted_save_leaves_the_old_model_or_the_new_one(saved, monkeypatch, step):
    old, path = saved
    torch.manual_seed(5)
    new = two_layer(output="linear")
    writer = "write_bytes" if step == "weights" else "write_text"
    original = getattr(modelfile, writer)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(modelfile, writer, interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(new, path, {"seed": 5})
    monkeypatch.setattr(modelfile, writer, original)
    loaded = load(path)  # before the weights: the old model; after them: the new one, whatever the sidecar says
    np.testing.assert_array_equal(outputs(loaded), outputs(old if step == "weights" else new))
    assert loaded.metadata["seed"] == (3 if step == "weights" else 5)


@pytest.mark.parametrize("change, message", [
    (lambda r: r["architecture"]["arguments"].update(n_hidden=81), "the weights in .* do not fit the architecture"),
    (lambda r: r["architecture"]["arguments"].update(n_hidden=10 ** 12), "asks for a layer wider than"),
    (lambda r: r.update(architecture={"name": "deep", "arguments": {"hidden": [4] * 100_000}}),
     "asks for 100000 hidden layers"),
    (lambda r: r.update(architecture={"name": "deep", "arguments": {"hidden": "many"}}), "hidden layers"),
    (lambda r: r.update(architecture={"name": "nope", "arguments": {}}),
     "has a bad architecture .*unknown value 'nope'"),
    (lambda r: r.update(architecture=[1, 2]), "no architecture arguments"),
    (lambda r: r.update(format="descrambler-model/1"), "holds no descrambler-model/2 record"),
    (lambda r: r.pop("metadata"), "lacks metadata"),
])
def test_records_asking_for_the_wrong_or_absurd_sizes_are_refused_before_building(saved, monkeypatch, change, message):
    _, path = saved
    rewrite_record(path, change)
    monkeypatch.setattr(modelfile, "load_tensors",
                        lambda data: pytest.fail("tensors read before the record was checked"))
    with pytest.raises(ValueError, match=f"^(path: .*)?{message}"):
        load(path)


def test_non_finite_weights_are_refused(tmp_path):
    model = two_layer()
    with torch.no_grad():
        model[0].weight[3, 7] = float("nan")
    save(model, tmp_path / "nan.safetensors")
    with pytest.raises(ValueError,
                       match=r"^path: .* holds non-finite weights .* in 0.weight: the training .* diverged"):
        load(tmp_path / "nan.safetensors")


def test_a_safetensors_file_without_a_record_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="^path: .* holds no descrambler-model/2 record in its header"):
        read_record(tmp_path / "other.safetensors")


def test_save_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="^model: not built by descrambler.nets"):
        save(torch.nn.Sequential(torch.nn.Linear(3, 3)), tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="^metadata: cannot be written as JSON"):
        save(two_layer(), tmp_path / "x.safetensors", {"bad": object()})
    with pytest.raises(ValueError, match="^metadata: expected a dict"):
        save(two_layer(), tmp_path / "x.safetensors", [1])
    assert not (tmp_path / "x.safetensors").exists()  # nothing written on failure


TINY = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
TINY_NET = {"name": "two_layer", "arguments": {"n_hidden": 8}}


def test_train_or_load_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    model, info = train_or_load(seed=2, architecture=TINY_NET, config=TINY)
    assert not info["from_cache"] and info["seed"] == 2 and "median_rel_error" in info["metrics"]
    again, cached = train_or_load(seed=2, architecture=TINY_NET, config=TINY)
    assert cached["from_cache"] and cached["cache_key"] == info["cache_key"]
    np.testing.assert_array_equal(predict(again, X), predict(model, X))
    _, other = train_or_load(seed=3, architecture=TINY_NET, config=TINY)
    assert not other["from_cache"] and other["path"] != info["path"]


def test_train_or_load_retrains_a_corrupted_or_mismatched_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    model, info = train_or_load(seed=0, architecture=TINY_NET, config=TINY)
    path = info["path"]
    with open(path, "r+b") as stream:
        stream.seek(-8, 2)
        stream.write(b"\xff" * 8)
    with pytest.warns(UserWarning, match="unusable cached model, retraining: path: content hash mismatch"):
        retrained, again = train_or_load(seed=0, architecture=TINY_NET, config=TINY)
    assert not again["from_cache"]
    np.testing.assert_array_equal(predict(retrained, X), predict(model, X))  # same seed, same weights
    _, other = train_or_load(seed=1, architecture=TINY_NET, config=TINY)  # put seed 1's files at seed 0's path
    for suffix in ("", ".json"):
        with open(other["path"] + suffix, "rb") as source, open(path + suffix, "wb") as target:
            target.write(source.read())
    with pytest.warns(UserWarning, match="written for another request"):
        _, replaced = train_or_load(seed=0, architecture=TINY_NET, config=TINY)
    assert not replaced["from_cache"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train_or_load(seed=0, architecture=TINY_NET, config=TINY)[1]["from_cache"]


def test_cache_key_depends_on_every_input(monkeypatch):
    from descrambler.nets import cache

    key = cache.cache_key({"name": "two_layer", "arguments": {}}, TINY, 0)
    assert key != cache.cache_key({"name": "two_layer", "arguments": {}}, TINY, 1)
    assert key != cache.cache_key({"name": "two_layer", "arguments": {"n_hidden": 8}}, TINY, 0)
    longer = TrainConfig(data=LibraryConfig(), epochs=2)
    assert key != cache.cache_key({"name": "two_layer", "arguments": {}}, longer, 0)
    monkeypatch.setattr(cache, "__version__", "9.9")
    assert key != cache.cache_key({"name": "two_layer", "arguments": {}}, TINY, 0)
    monkeypatch.undo()
    monkeypatch.setattr(cache, "source_hash", lambda modules=(): "changed code")
    assert key != cache.cache_key({"name": "two_layer", "arguments": {}}, TINY, 0)


def test_many_networks_train_in_parallel_like_one_at_a_time(tmp_path, monkeypatch):
    from descrambler.nets import train_or_load, train_or_load_many

    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "parallel"))
    config = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
    architecture = {"name": "two_layer", "arguments": {"n_hidden": 6}}
    many = train_or_load_many([3, 4], architecture, config, workers=2)
    assert [info["from_cache"] for _, info in many] == [False, False]
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "serial"))
    for seed, (model, _) in zip([3, 4], many):
        alone, _ = train_or_load(seed, architecture, config)
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), alone.state_dict().values()))
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "parallel"))
    again = train_or_load_many([4, 3], architecture, config, workers=2)  # a rerun continues from the cache
    assert [info["from_cache"] for _, info in again] == [True, True]
    with pytest.raises(ValueError, match="^seeds"):
        train_or_load_many([], architecture, config)
    with pytest.raises(ValueError, match="^workers"):
        train_or_load_many([1], architecture, config, workers=0)


def _from_cache_in_a_process(folder: str) -> bool:
    import os

    os.environ["DESCRAMBLER_CACHE"] = folder
    return train_or_load(seed=4, architecture=TINY_NET, config=TINY)[1]["from_cache"]


def test_two_processes_asking_for_the_same_network_train_it_once(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        flags = list(pool.map(_from_cache_in_a_process, [str(tmp_path)] * 2))
    assert sorted(flags) == [False, True]  # one trained it, the other waited for the lock and loaded it
    assert len(list(tmp_path.glob("*.safetensors"))) == 1


@pytest.mark.parametrize("many", [False, True])
def test_an_unusable_cache_folder_is_found_before_training(tmp_path, monkeypatch, many):
    from descrambler.nets import cache, train_or_load_many

    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "a_file" / "cache"))
    monkeypatch.setattr(cache, "train", lambda *a, **k: pytest.fail("trained before the cache folder was checked"))
    with pytest.raises(ValueError, match=r"^cache: cannot create the model cache folder .*set DESCRAMBLER_CACHE"):
        if many:
            train_or_load_many([1, 2], TINY_NET, TINY, workers=2)
        else:
            train_or_load(seed=1, architecture=TINY_NET, config=TINY)


def test_a_header_size_whose_low_byte_is_the_pickle_opcode_still_loads(tmp_path):
    """Regression: a header of 0x..80 bytes starts the file with 0x80, the first byte of a pickle."""
    model = two_layer(n_hidden=4)
    path = tmp_path / "m.safetensors"
    for pad in range(400):
        save(model, path, {"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    np.testing.assert_array_equal(outputs(load(path)), outputs(model))
