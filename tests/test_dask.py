"""Extraction on Dask: a LocalCluster of 2 worker processes on this machine (mgc.features.extract).

The cluster is started once for the module (about 10 s on a loaded 2-core machine); each
test makes its own dataset and store. The tests that use it are ``slow`` (2-3 min in all).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import write_tiny_dataset
from mgc.dataset import find_tracks
from mgc.errors import DatasetError, ParameterError
from mgc.features import STUDY_PARAMS, extract, extract_dataset
from mgc.features.store import FeatureStore, store_dir

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def data(tmp_path) -> Path:
    """3 classes x 3 clips of 6.2 s, and one corrupt file among them."""
    root = write_tiny_dataset(tmp_path / "data", per_class=3, seconds=6.2)
    (root / "genres" / "noise" / "noise.00077.wav").write_bytes(b"RIFF but not audio" * 50)
    return root


@pytest.mark.slow
def test_dask_gives_the_local_features_to_the_bit_and_skips_the_corrupt_file(client, data, tmp_path):
    local = extract_dataset(data, cache_dir=tmp_path / "local", workers=2)
    calls = []
    on_dask = extract_dataset(
        data, cache_dir=tmp_path / "dask", scheduler=client, on_progress=lambda *a: calls.append(a)
    )
    np.testing.assert_array_equal(on_dask.X, local.X)
    for name in ("y", "track_ids", "segment_index"):
        np.testing.assert_array_equal(getattr(on_dask, name), getattr(local, name), err_msg=name)
    assert [s.track_id for s in on_dask.skipped] == ["noise.00077"]
    assert on_dask.skipped[0].reason == local.skipped[0].reason
    assert "not a readable audio file" in local.skipped[0].reason
    assert on_dask.cache_stats == {"cached": 0, "extracted": 10, "cache_problem": ""}
    assert calls[0][:2] == (0, 10) and calls[-1][:2] == (10, 10) and len(calls) == 11
    # the workers wrote the store; the failure is stored too, so a warm run (here, local) reads everything
    store = FeatureStore(store_dir(tmp_path / "dask", find_tracks(data).genres_dir, STUDY_PARAMS), STUDY_PARAMS)
    assert store.status() == {"exists": True, "files": 10, "failed": 1}
    warm = extract_dataset(data, cache_dir=tmp_path / "dask", workers=1)
    assert warm.cache_stats["cached"] == 10
    np.testing.assert_array_equal(warm.X, local.X)


@pytest.mark.slow
def test_dask_without_the_store_sends_the_rows_back(client, data, tmp_path):
    local = extract_dataset(data, use_cache=False, workers=1)
    fs = extract_dataset(data, use_cache=False, scheduler=client)
    np.testing.assert_array_equal(fs.X, local.X)
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_only_its_tracks(client, tmp_path):
    root = write_tiny_dataset(tmp_path / "data", per_class=6, seconds=30.0)  # 18 tracks of 10 segments
    reference = extract_dataset(root, use_cache=False, workers=1)
    before = client.run(os.getpid)
    killed = []

    def kill_one(done, total, message):
        if done >= 1 and not killed:
            busy = [addr for addr, keys in client.processing().items() if keys]
            assert busy, "no worker had a track in flight"
            os.kill(before[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    fs = extract_dataset(root, cache_dir=tmp_path / "c", scheduler=client, on_progress=kill_one)
    assert killed and fs.skipped == []
    np.testing.assert_array_equal(fs.X, reference.X)
    np.testing.assert_array_equal(fs.track_ids, reference.track_ids)
    client.wait_for_workers(2, timeout=60)
    assert before[killed[0]] not in client.run(os.getpid).values()  # it did die (its nanny started another)


def _die(path, rel, size, mtime_ns, params, store_root, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_track_that_kills_its_worker_each_time_is_reported_not_stored(client, data, tmp_path, monkeypatch):
    """After Dask's allowed failures a track is a skipped row saying so, and is not stored (the next run retries)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    monkeypatch.setattr(extract, "_task", _die)
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0
    try:
        with pytest.raises(DatasetError, match="no track .* could be read") as e:
            extract_dataset(data, classes=["clicks"], cache_dir=tmp_path / "c", scheduler=client)
    finally:
        scheduler.allowed_failures = allowed
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert "its Dask worker died each time it ran" in str(e.value) and "KilledWorker" in str(e.value)
    store = FeatureStore(store_dir(tmp_path / "c", find_tracks(data).genres_dir, STUDY_PARAMS), STUDY_PARAMS)
    assert store.records() == []
    client.wait_for_workers(2, timeout=60)


def _die_in_a_batch(task, items, params, store_root):
    """Kill the worker running a batch of several tracks that holds clicks.00001; run single tracks as usual."""
    if len(items) > 1 and any(rel.endswith("clicks.00001.wav") for _, rel, _, _ in items):
        os.kill(os.getpid(), signal.SIGKILL)
    from mgc.features import extract as on_the_worker  # its own module: the real tasks

    return on_the_worker._tasks(task, items, params, store_root)


@pytest.mark.slow
def test_batches_of_tracks_give_the_same_features_and_a_dead_batch_is_retried_track_by_track(
    client, data, tmp_path, monkeypatch
):
    """Several tracks per task (as large runs get): progress per track, the local features to the bit; a batch
    whose worker died (here at once: no allowed failures) is run again one track per task."""
    import cloudpickle

    local = extract_dataset(data, cache_dir=tmp_path / "local", workers=2)
    monkeypatch.setattr(extract, "_tracks_per_task", lambda tracks, slots: 4)
    calls = []
    batched = extract_dataset(
        data, cache_dir=tmp_path / "batched", scheduler=client, on_progress=lambda *a: calls.append(a)
    )
    np.testing.assert_array_equal(batched.X, local.X)
    np.testing.assert_array_equal(batched.track_ids, local.track_ids)
    assert [s.track_id for s in batched.skipped] == ["noise.00077"]
    tracks = {f"{Path(p).parent.name}/{Path(p).name}" for p in batched.track_paths.values()}
    assert [c[0] for c in calls] == list(range(11)) and {c[2] for c in calls[1:]} == tracks | {"noise/noise.00077.wav"}

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(extract, "_tasks", _die_in_a_batch)
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0
    before = client.run(os.getpid)
    try:
        fs = extract_dataset(data, cache_dir=tmp_path / "retried", scheduler=client)
    finally:
        scheduler.allowed_failures = allowed
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != set(before.values())  # a worker did die
    assert [s.track_id for s in fs.skipped] == ["noise.00077"]
    np.testing.assert_array_equal(fs.X, local.X)


def test_scheduler_values_that_cannot_be_used(data, tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match=r"scheduler='threads' must be None .* 'processes' .* 'tcp://host:8786'"):
        extract_dataset(data, use_cache=False, scheduler="threads")
    monkeypatch.setattr(extract, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ParameterError, match=r"scheduler='tcp://127.0.0.1:9': no Dask scheduler answered"):
        extract_dataset(data, use_cache=False, scheduler="tcp://127.0.0.1:9")


@pytest.mark.slow
def test_cli_extract_on_a_dask_scheduler_address(client, data, tmp_path):
    out = tmp_path / "F.npz"
    address = client.cluster.scheduler_address
    r = subprocess.run(
        [sys.executable, "-m", "mgc", "extract", "--data", str(data), "--out", str(out), "--scheduler", address],
        cwd=ROOT,
        env={**os.environ, "MGC_ARTIFACTS": str(tmp_path / "art")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "skipped files: 1" in r.stdout and "noise/noise.00077.wav" in r.stdout
    with np.load(out, allow_pickle=False) as z:
        assert z["X"].shape == (18, 130, 13)
    assert len(list((tmp_path / "art" / "cache").glob("store-*/entries/*/*.json"))) == 10


def _children() -> set[int]:
    """Process ids of this process's children (of any of its threads)."""
    kids = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            kids |= {int(k) for k in (task / "children").read_text().split()}
        except OSError:
            continue
    return kids


@pytest.mark.slow
def test_processes_starts_a_local_cluster_for_the_call_and_closes_it(data, tmp_path):
    before = _children()
    local = extract_dataset(data, use_cache=False, workers=1)
    fs = extract_dataset(data, cache_dir=tmp_path / "c", scheduler="processes", workers=2)
    np.testing.assert_array_equal(fs.X, local.X)
    assert [s.track_id for s in fs.skipped] == ["noise.00077"]
    assert _children() <= before  # its cluster process (and with it the workers) is gone


@pytest.mark.slow
def test_the_cluster_process_holds_the_scheduler_and_takes_the_callers_dask_settings():
    """scheduler='processes' runs the scheduler outside the driver, configured as the caller's Dask is."""
    import dask

    from mgc.features.cluster import QUIET_DASK, SHORT_LOGS, ClusterProcess

    with dask.config.set({"distributed.scheduler.allowed-failures": 7}):
        cluster = ClusterProcess(2)
    try:
        client = cluster.client
        assert client.run_on_scheduler(os.getpid) == cluster.pid != os.getpid()
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) == 7
        workers = client.run(os.getpid)
        assert len(workers) == 2 and os.getpid() not in workers.values()
        # Dask's developer logs kept short, in the driver's client and in the scheduler: their memory is bounded
        short = SHORT_LOGS["distributed.admin.low-level-log-length"]
        assert client.scheduler_comm.recent_message_log.maxlen == short < 1000
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_log.maxlen) == short
        tick = QUIET_DASK["distributed.admin.tick.interval"]  # the cluster's own settings reach its workers
        assert set(client.run(lambda: __import__("dask").config.get("distributed.admin.tick.interval")).values()) == {
            tick
        }
    finally:
        cluster.close()
    assert cluster.pid not in _children()
    with pytest.raises(ProcessLookupError):
        os.kill(cluster.pid, 0)
    cluster.close()  # twice is fine


def test_a_cluster_of_no_workers_is_refused():
    from mgc.features.cluster import ClusterProcess

    with pytest.raises(ParameterError, match=r"workers=0 must be a positive integer"):
        ClusterProcess(0)


@pytest.mark.slow
def test_embeddings_run_on_the_spawned_workers(client, tmp_path):
    """The tagger's TensorFlow on Dask workers (spawned, never forked): the local embeddings, bad file skipped."""
    from mgc.features import EMBEDDING_PARAMS

    root = write_tiny_dataset(tmp_path / "data", per_class=1, seconds=6.2)
    (root / "genres" / "tones" / "tones.00099.wav").write_bytes(b"RIFF nothing")
    local = extract_dataset(root, params=EMBEDDING_PARAMS, use_cache=False)
    fs = extract_dataset(root, params=EMBEDDING_PARAMS, cache_dir=tmp_path / "c", scheduler=client)
    assert fs.X.shape == local.X.shape == (6, 1506) and [s.track_id for s in fs.skipped] == ["tones.00099"]
    np.testing.assert_allclose(fs.X, local.X, rtol=1e-5, atol=1e-5)
    assert any("tensorflow" in mods for mods in client.run(lambda: list(__import__("sys").modules)).values())
