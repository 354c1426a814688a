"""Training many networks on a real Dask cluster on this machine (loopback only), against serial training."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from descrambler.__main__ import main
from descrambler.deer import LibraryConfig
from descrambler.nets import TrainConfig, cache, train, train_or_load_jobs, train_or_load_many
from descrambler.nets.architectures import build
from descrambler.nets.executors import training_executor

distributed = pytest.importorskip("distributed")

TINY_NET = {"name": "two_layer", "arguments": {"n_hidden": 8}}
TINY = TrainConfig(data=LibraryConfig(), epochs=1, n_train=1000, batch_size=100, n_validation=200)
#: Long enough (a few seconds) for a worker to be killed while it trains.
SLOWER = TrainConfig(data=LibraryConfig(), epochs=6, n_train=6000, batch_size=50, n_validation=200)


def _serial(architecture: dict, config: TrainConfig, seed: int) -> dict:
    model, _ = train(build(architecture), config, seed=seed)
    return model.state_dict()


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def cluster():
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None, silence_logs=40)
    with local, distributed.Client(local) as client:
        yield local, client


def test_a_local_cluster_trains_networks_bit_identical_to_serial_training(tmp_path, monkeypatch, cluster):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    local, _ = cluster
    trained = train_or_load_many([1, 2, 3], TINY_NET, TINY, workers=2, scheduler=local.scheduler_address)
    assert [info["from_cache"] for _, info in trained] == [False, False, False]
    for seed, (model, _) in zip([1, 2, 3], trained):
        assert _same(model.state_dict(), _serial(TINY_NET, TINY, seed)), seed
    again = train_or_load_many([1, 2, 3], TINY_NET, TINY, scheduler=local.scheduler_address)
    assert all(info["from_cache"] for _, info in again)


def test_a_worker_killed_while_training_is_survived_with_the_same_weights(cluster):
    local, client = cluster
    pids = list(client.run(os.getpid).values())
    with training_executor(local.scheduler_address, announce=False) as pool:
        future = pool.submit(cache.train_weights, build(TINY_NET).architecture, SLOWER, 7)
        deadline = time.monotonic() + 30
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        busy = [address for address, tasks in client.processing().items() if tasks]
        victim = client.run(os.getpid, workers=busy)[busy[0]]
        os.kill(victim, signal.SIGKILL)
        weights, record = future.result(timeout=120)
    assert victim in pids and record["epoch"] == list(range(1, SLOWER.epochs + 1))
    expected = _serial(TINY_NET, SLOWER, 7)
    assert _same({k: torch.from_numpy(v) for k, v in weights.items()}, expected)


def test_the_submitter_computes_the_keys_so_a_source_edit_retrains_nothing(tmp_path, monkeypatch):
    """Workers used to compute cache keys from the code at their own start; a source edit meanwhile made the
    submitter miss their files and train again. Now they only train: the submitter's keys hold."""
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "source_hash", lambda modules=(): "the code as the submitter saw it")
    monkeypatch.setattr(cache, "train", lambda *a, **k: pytest.fail("the submitter trained a network again"))
    trained = train_or_load_jobs([(TINY_NET, TINY, 4), (TINY_NET, TINY, 5)], workers=2)
    assert [info["from_cache"] for _, info in trained] == [False, False]
    assert all(info["cache_key"] == cache.cache_key(model.architecture, TINY, seed, "cpu")
               for (model, info), seed in zip(trained, [4, 5]))


def test_the_ensemble_command_trains_on_a_cluster_and_writes_the_same_table(tmp_path, monkeypatch, cluster,
                                                                            capsys):
    from descrambler.study import ensemble
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ensemble, "measure_networks", lambda models, *a, **k: [_fake_measure() for _ in models])
    local, _ = cluster
    here, there = tmp_path / "pool.csv", tmp_path / "dask.csv"
    assert main(["ensemble", "--nets", "2", "--profile", "smoke", "--out", str(here), "--workers", "2"]) == 0
    for path in tmp_path.joinpath("cache").glob("*.safetensors"):
        path.unlink()  # train again, on the cluster
    assert main(["ensemble", "--nets", "2", "--profile", "smoke", "--out", str(there),
                 "--scheduler", local.scheduler_address]) == 0
    assert here.read_text() == there.read_text()


def _fake_measure() -> dict:
    from descrambler.study.findings.table import CLAIMS
    keys = [claim.key for claim in CLAIMS]
    return {"claims": dict.fromkeys(keys, 0.5), "controls": {"untrained": dict.fromkeys(keys, 0.1),
                                                            "random": dict.fromkeys(keys, 0.2)}}


def test_a_bad_scheduler_address_is_one_line_within_seconds(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DESCRAMBLER_CACHE", str(tmp_path))
    started = time.monotonic()
    assert main(["ensemble", "--nets", "2", "--profile", "smoke", "--scheduler", "tcp://127.0.0.1:9"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: scheduler: cannot reach 'tcp://127.0.0.1:9'")
    assert time.monotonic() - started < 30
