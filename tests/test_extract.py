"""Unit tests of mgc.features.extract and mgc.features.store (dataset-scale extraction), and of the CLI.

Datasets are written at test time (tests/conftest.py); most tests use clips of a few
seconds so the whole file stays fast on a shared CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import write_tiny_dataset
from mgc import audio
from mgc.dataset import find_tracks, make_split
from mgc.errors import ArtifactError, DatasetError, ParameterError
from mgc.features import STUDY_PARAMS, FeatureSet, Skipped, cache, extract, extract_dataset, track_segments
from mgc.features.extract import extract_source
from mgc.features.store import FeatureStore, store_dir

ROOT = Path(__file__).resolve().parents[1]
SR = 22050


@pytest.fixture
def small(tmp_path) -> Path:
    """3 classes x 2 clips of 6.2 s (2 segments each), private to the test."""
    return write_tiny_dataset(tmp_path / "small", per_class=2, seconds=6.2)


def _store(root: Path, cache_dir: Path) -> FeatureStore:
    return FeatureStore(store_dir(cache_dir, find_tracks(root).genres_dir, STUDY_PARAMS), STUDY_PARAMS)


def _entry_files(store: FeatureStore) -> dict[str, int]:
    """Every file of the store's entries -> its modification time."""
    return {str(p.relative_to(store.root)): p.stat().st_mtime_ns for p in (store.root / "entries").glob("*/*")}


def _no_extraction(monkeypatch):
    """Make any attempt to extract a file fail the test."""

    def boom(path, params):
        raise AssertionError(f"{path} was extracted, but should have come from the cache")

    monkeypatch.setattr(extract, "_worker", boom)


# --------------------------------------------------------------------------- #
# extract_dataset on the tiny dataset
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def tiny_features(tiny_dataset, tmp_path_factory):
    calls = []
    fs = extract_dataset(
        tiny_dataset, cache_dir=tmp_path_factory.mktemp("cache"), on_progress=lambda *a: calls.append(a)
    )
    return fs, calls


def test_tiny_dataset_shapes_dtypes_and_labels(tiny_features):
    fs, _ = tiny_features
    assert fs.classes == ("clicks", "noise", "tones")
    assert fs.X.shape == (420, 130, 13) and fs.X.dtype == np.float32
    assert fs.y.shape == (420,) and fs.y.dtype == np.int64
    assert fs.track_ids.shape == (420,) and fs.track_ids.dtype.kind == "U"
    assert fs.segment_index.dtype == np.int64
    assert fs.n_tracks == 42 and fs.skipped == []
    assert fs.counts() == {c: {"tracks": 14, "segments": 140} for c in fs.classes}
    # each row's label is its track's folder, and a track's rows are its segments 0..9 in order
    for tid in np.unique(fs.track_ids):
        rows = fs.track_ids == tid
        assert {fs.classes[i] for i in fs.y[rows]} == {tid.split(".")[0]}
        np.testing.assert_array_equal(fs.segment_index[rows], np.arange(10))
    assert np.all(np.isfinite(fs.X))
    assert fs.cache_stats == {"cached": 0, "extracted": 42, "cache_problem": ""}
    assert len(fs.track_paths) == 42 and all(Path(p).is_file() for p in fs.track_paths.values())
    assert fs.fingerprint == find_tracks(fs.source).fingerprint()


def test_tiny_dataset_rows_are_the_track_segments_of_each_file(tiny_features):
    fs, _ = tiny_features
    tid = "tones.00002"
    X, seg = track_segments(audio.load(fs.track_paths[tid]))
    np.testing.assert_allclose(fs.X[fs.track_ids == tid], X, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(fs.segment_index[fs.track_ids == tid], seg)


def test_progress_reaches_the_total(tiny_features):
    _, calls = tiny_features
    assert calls[0][:2] == (0, 42)
    assert calls[-1][:2] == (42, 42)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_classes_filter_and_unknown_class(small, tmp_path):
    fs = extract_dataset(small, classes=["tones", "noise"], cache_dir=tmp_path / "c", workers=1)
    assert fs.classes == ("noise", "tones")
    assert set(fs.track_ids) == {"noise.00000", "noise.00001", "tones.00000", "tones.00001"}
    assert {fs.classes[i] for i in fs.y[fs.track_ids == "tones.00000"]} == {"tones"}
    with pytest.raises(DatasetError, match=r"\['jazz'\].*clicks, noise, tones"):
        extract_dataset(small, classes=["jazz"], cache_dir=tmp_path / "c")


def test_bad_files_are_skipped_with_reasons(small, tmp_path, monkeypatch):
    (small / "genres" / "tones" / "tones.00099.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    sf.write(small / "genres" / "noise" / "noise.00098.wav", np.full(SR, 0.2, np.float32), SR)
    fs = extract_dataset(small, cache_dir=tmp_path / "c", workers=1)
    assert all(isinstance(s, Skipped) for s in fs.skipped)
    reasons = {s.track_id: s for s in fs.skipped}
    assert set(reasons) == {"tones.00099", "noise.00098"}
    assert reasons["tones.00099"].path == "tones/tones.00099.wav"
    assert "not a readable audio file" in reasons["tones.00099"].reason
    short = reasons["noise.00098"].reason
    assert "1.00 s" in short and "shorter than one 3.00-s segment" in short
    assert fs.n_tracks == 6 and fs.X.shape == (12, 130, 13)
    assert {r["track_id"] for r in fs.skipped_table()} == {"tones.00099", "noise.00098"}
    # failures are cached too: a warm run does not retry them
    _no_extraction(monkeypatch)
    warm = extract_dataset(small, cache_dir=tmp_path / "c", workers=1)
    assert {s.track_id: s.reason for s in warm.skipped} == {k: s.reason for k, s in reasons.items()}


def test_no_readable_track_is_a_dataset_error(tmp_path):
    d = tmp_path / "genres" / "x"
    d.mkdir(parents=True)
    (d / "x.00000.wav").write_bytes(b"garbage" * 100)
    with pytest.raises(DatasetError, match="no track .* could be read"):
        extract_dataset(tmp_path, cache_dir=tmp_path / "c", workers=1)


# --------------------------------------------------------------------------- #
# The cache
# --------------------------------------------------------------------------- #
def test_second_run_reads_only_the_cache(small, tmp_path, monkeypatch):
    cdir = tmp_path / "c"
    cold = extract_dataset(small, cache_dir=cdir, workers=1)
    assert cold.cache_stats == {"cached": 0, "extracted": 6, "cache_problem": ""}
    store = _store(small, cdir)
    files = _entry_files(store)
    assert len([f for f in files if f.endswith(".json")]) == 6 and len([f for f in files if f.endswith(".npy")]) == 6
    _no_extraction(monkeypatch)
    warm = extract_dataset(small, cache_dir=cdir, workers=1)
    assert warm.cache_stats == {"cached": 6, "extracted": 0, "cache_problem": ""}
    np.testing.assert_array_equal(warm.X, cold.X)
    np.testing.assert_array_equal(warm.track_ids, cold.track_ids)
    np.testing.assert_array_equal(warm.segment_index, cold.segment_index)
    assert _entry_files(store) == files  # nothing changed: nothing rewritten
    assert store.status() == {"exists": True, "files": 6, "failed": 0}


def test_entries_are_memory_mapped_npy_without_pickle(small, tmp_path):
    cdir = tmp_path / "c"
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    store = _store(small, cdir)
    rec, problem = store.record("tones/tones.00001.wav")
    assert problem == "" and rec.rows == 2 and rec.error == ""
    X = store.rows_of(rec)
    assert isinstance(X, np.memmap) and not X.flags.writeable
    np.testing.assert_array_equal(X, fs.X[fs.track_ids == "tones.00001"])
    with open(store.root / "entries" / rec.data[:2] / rec.data, "rb") as f:
        assert np.lib.format.read_magic(f) == (1, 0)
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    assert shape == (2, 130, 13) and dtype == np.float32


def test_use_cache_false_neither_reads_nor_writes(small, tmp_path):
    cdir = tmp_path / "c"
    fs = extract_dataset(small, cache_dir=cdir, use_cache=False, workers=1)
    assert fs.cache_stats["extracted"] == 6 and not cdir.exists()


def test_touched_or_changed_file_is_extracted_again_alone(small, tmp_path):
    cdir = tmp_path / "c"
    first = extract_dataset(small, cache_dir=cdir, workers=1)
    f = small / "genres" / "noise" / "noise.00001.wav"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    touched = extract_dataset(small, cache_dir=cdir, workers=1)
    assert touched.cache_stats == {"cached": 5, "extracted": 1, "cache_problem": ""}
    np.testing.assert_array_equal(touched.X, first.X)

    g = small / "genres" / "tones" / "tones.00000.wav"
    t = np.arange(int(6.2 * SR)) / SR
    sf.write(g, (0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32), SR, subtype="PCM_16")
    changed = extract_dataset(small, cache_dir=cdir, workers=1)
    assert changed.cache_stats == {"cached": 5, "extracted": 1, "cache_problem": ""}
    rows = changed.track_ids == "tones.00000"
    assert not np.allclose(changed.X[rows], first.X[first.track_ids == "tones.00000"])
    np.testing.assert_array_equal(changed.X[~rows], first.X[first.track_ids != "tones.00000"])
    np.testing.assert_allclose(changed.X[rows], track_segments(audio.load(g))[0], atol=1e-4, rtol=0)
    # the rows of the file's earlier version are gone: one .npy per entry
    assert len(list((_store(small, cdir).root / "entries").glob("*/*.npy"))) == 6

    sf.write(small / "genres" / "clicks" / "clicks.00007.wav", np.full(int(3.1 * SR), 0.1, np.float32), SR)
    added = extract_dataset(small, cache_dir=cdir, workers=1)
    assert added.cache_stats == {"cached": 6, "extracted": 1, "cache_problem": ""}
    assert added.n_tracks == 7


def test_damaged_entries_are_reported_and_rebuilt(small, tmp_path, monkeypatch):
    cdir = tmp_path / "c"
    cold = extract_dataset(small, cache_dir=cdir, workers=1)
    store = _store(small, cdir)
    garbage, truncated = store.record("noise/noise.00000.wav")[0], store.record("clicks/clicks.00001.wav")[0]
    store._json(garbage.path).write_bytes(np.random.default_rng(0).bytes(300))
    npy = store._json(truncated.path).with_name(truncated.data)
    npy.write_bytes(npy.read_bytes()[: npy.stat().st_size // 2])
    rebuilt = extract_dataset(small, cache_dir=cdir, workers=1)
    assert rebuilt.cache_stats["extracted"] == 2 and rebuilt.cache_stats["cached"] == 4
    assert "2 damaged store entries" in rebuilt.cache_stats["cache_problem"]
    np.testing.assert_array_equal(rebuilt.X, cold.X)
    _no_extraction(monkeypatch)
    again = extract_dataset(small, cache_dir=cdir, workers=1)
    assert again.cache_stats == {"cached": 6, "extracted": 0, "cache_problem": ""}


def test_foreign_entries_are_rebuilt(small, tmp_path):
    """An entry of other parameters, and one that belongs to another file, are not used."""
    cdir = tmp_path / "c"
    cold = extract_dataset(small, cache_dir=cdir, workers=1)
    store = _store(small, cdir)
    a, b = "tones/tones.00000.wav", "tones/tones.00001.wav"
    rec = json.loads(store._json(a).read_text())
    rec["params"] = "0123456789abcdef"
    store._json(a).write_text(json.dumps(rec))
    store._json(b).write_text(store._json("noise/noise.00000.wav").read_text())  # another file's entry
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert fs.cache_stats["extracted"] == 2 and "2 damaged store entries" in fs.cache_stats["cache_problem"]
    np.testing.assert_array_equal(fs.X, cold.X)


def test_store_marked_with_other_parameters_is_remarked(small, tmp_path):
    cdir = tmp_path / "c"
    extract_dataset(small, cache_dir=cdir, workers=1)
    marker = _store(small, cdir).root / "STORE.json"
    meta = json.loads(marker.read_text())
    meta["params"]["n_mfcc"] = 20
    marker.write_text(json.dumps(meta))
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert "other parameters" in fs.cache_stats["cache_problem"]
    assert json.loads(marker.read_text())["params"] == STUDY_PARAMS.to_dict()


class _Trap:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


def _pickle_npz(path: Path, sentinel: Path, key: str, **extra) -> None:
    """An .npz whose array ``key`` is a pickled object that, once unpickled, writes ``sentinel``."""
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(sentinel)
    with open(path, "wb") as f:
        np.savez(f, **extra, **{key: trap})


def test_store_is_loaded_without_pickle(small, tmp_path):
    cdir = tmp_path / "c"
    extract_dataset(small, cache_dir=cdir, workers=1)
    store = _store(small, cdir)
    rec = store.record("tones/tones.00000.wav")[0]
    npy = store._json(rec.path).with_name(rec.data)
    sentinel = tmp_path / "PICKLE-WAS-LOADED"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(sentinel)
    with open(npy, "wb") as f:
        np.save(f, trap, allow_pickle=True)
    np.load(npy, allow_pickle=True)  # the trap itself works when pickle is allowed
    assert sentinel.exists()
    sentinel.unlink()

    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert not sentinel.exists()
    assert "damaged" in fs.cache_stats["cache_problem"] and fs.cache_stats["extracted"] == 1
    assert np.load(npy, allow_pickle=False).dtype == np.float32  # rebuilt as plain rows


def _legacy_cache(small, cdir) -> Path:
    """The single-file cache of earlier versions, made from a fresh extraction."""
    fs = extract_dataset(small, use_cache=False, workers=1)
    entries = {}
    for t in find_tracks(small).tracks:
        rel, st = find_tracks(small).relpath(t), t.path.stat()
        rows = fs.track_ids == t.track_id
        entries[rel] = cache.Entry(st.st_size, st.st_mtime_ns, fs.X[rows], fs.segment_index[rows])
    path = cache.cache_file(cdir, find_tracks(small).genres_dir, STUDY_PARAMS)
    cache.write(path, entries, STUDY_PARAMS)
    return path


def test_old_single_file_cache_is_migrated_then_removed(small, tmp_path, monkeypatch):
    cdir = tmp_path / "c"
    old = _legacy_cache(small, cdir)
    reference = extract_dataset(small, use_cache=False, workers=1)
    _no_extraction(monkeypatch)
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert fs.cache_stats == {"cached": 6, "extracted": 0, "cache_problem": ""}
    np.testing.assert_array_equal(fs.X, reference.X)
    assert not old.exists() and _store(small, cdir).status()["files"] == 6


def test_damaged_old_cache_is_reported_removed_and_rebuilt(small, tmp_path):
    cdir = tmp_path / "c"
    old = _legacy_cache(small, cdir)
    old.write_bytes(old.read_bytes()[:500])
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert "not migrated" in fs.cache_stats["cache_problem"] and "damaged" in fs.cache_stats["cache_problem"]
    assert fs.cache_stats["extracted"] == 6 and not old.exists()


def test_old_cache_is_loaded_without_pickle(small, tmp_path):
    cdir = tmp_path / "c"
    path = cache.cache_file(cdir, find_tracks(small).genres_dir, STUDY_PARAMS)
    path.parent.mkdir(parents=True)
    sentinel = tmp_path / "PICKLE-WAS-LOADED"
    meta = {"format": cache.FORMAT, "version": cache.VERSION, "params": STUDY_PARAMS.to_dict()}
    _pickle_npz(path, sentinel, "paths", meta=np.array(json.dumps(meta)))
    fs = extract_dataset(small, cache_dir=cdir, workers=1)
    assert not sentinel.exists()
    assert "damaged" in fs.cache_stats["cache_problem"] and fs.cache_stats["extracted"] == 6


def test_extraction_status_counts_the_store_and_an_old_cache(small, tmp_path):
    from mgc.features import extraction_status

    cdir = tmp_path / "c"
    empty = extraction_status(find_tracks(small), cache_dir=cdir)
    assert empty["failed"] is None and "empty" in empty["text"]
    old = _legacy_cache(small, cdir)
    assert extraction_status(find_tracks(small), cache_dir=cdir)["text"].startswith("Feature cache: 6 of 6 files")
    old.unlink()
    (small / "genres" / "tones" / "tones.00099.wav").write_bytes(b"not audio" * 100)
    extract_dataset(small, cache_dir=cdir, workers=1)
    state = extraction_status(find_tracks(small), cache_dir=cdir)
    assert state["failed"] == 1 and state["text"].startswith("Feature cache: 7 of 7 files extracted, 1 of them")


# --------------------------------------------------------------------------- #
# The store as a streaming source
# --------------------------------------------------------------------------- #
def test_source_serves_the_rows_of_the_table(small, tmp_path):
    (small / "genres" / "tones" / "tones.00099.wav").write_bytes(b"not audio" * 100)
    fs = extract_dataset(small, cache_dir=tmp_path / "c", workers=1)
    src = extract_source(small, cache_dir=tmp_path / "c", workers=1)
    assert len(src) == len(fs.X) == 12 and src.shape == (12, 130, 13) and src.classes == fs.classes
    np.testing.assert_array_equal(src.y, fs.y)
    np.testing.assert_array_equal(src.track_ids, fs.track_ids)
    np.testing.assert_array_equal(src.segment_index, fs.segment_index)
    assert [s.track_id for s in src.skipped] == ["tones.00099"]
    order = np.random.default_rng(1).permutation(len(src))[:7]
    np.testing.assert_array_equal(src.rows(order), fs.X[order])
    np.testing.assert_array_equal(src.rows([3, 3, 0]), fs.X[[3, 3, 0]])
    assert src.rows([]).shape == (0, 130, 13)
    with pytest.raises(ParameterError, match=r"indices must lie in 0\.\.11; got 0\.\.12"):
        src.rows([0, 12])
    # without the store the rows are held in memory, and served alike
    mem = extract_source(small, use_cache=False, workers=1)
    assert mem.store is None
    np.testing.assert_array_equal(mem.rows(order), fs.X[order])


def test_source_keeps_a_bounded_number_of_maps_open(small, tmp_path):
    extract_dataset(small, cache_dir=tmp_path / "c", workers=1)
    src = extract_source(small, cache_dir=tmp_path / "c", workers=1)
    src.store._max_open = 2
    src.store._maps.clear()
    full = src.all_rows()
    np.testing.assert_array_equal(src.rows(np.arange(len(src))[::-1]), full[::-1])
    assert len(src.store._maps) <= 2


def test_a_failed_store_write_keeps_the_rows(small, tmp_path, monkeypatch):
    calls = []

    def refuse(self, rel, **kw):
        calls.append(rel)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FeatureStore, "put", refuse)
    with pytest.warns(RuntimeWarning, match="could not write the feature cache"):
        fs = extract_dataset(small, cache_dir=tmp_path / "c", workers=1)
    assert len(calls) >= 6 and fs.X.shape == (12, 130, 13)
    assert "6 files will be extracted again" in fs.cache_stats["cache_problem"]


@pytest.fixture(scope="module")
def by_workers(tmp_path_factory):
    root = write_tiny_dataset(tmp_path_factory.mktemp("workers"), per_class=2, seconds=6.2)
    return extract_dataset(root, use_cache=False, workers=1), extract_dataset(root, use_cache=False, workers=2)


def test_workers_1_and_2_agree(by_workers):
    one, two = by_workers
    for name in ("y", "track_ids", "segment_index"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    assert one.classes == two.classes
    np.testing.assert_allclose(one.X, two.X, atol=1e-4, rtol=0)


def test_workers_1_and_2_give_identical_arrays(by_workers):
    one, two = by_workers
    np.testing.assert_array_equal(one.X, two.X)


# --------------------------------------------------------------------------- #
# FeatureSet files
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small_features(tmp_path_factory) -> FeatureSet:
    """Features of a small dataset with one unreadable file (shared: do not modify)."""
    root = write_tiny_dataset(tmp_path_factory.mktemp("small-features"), per_class=2, seconds=6.2)
    (root / "genres" / "tones" / "tones.00099.wav").write_bytes(b"not audio" * 100)
    return extract_dataset(root, use_cache=False, workers=1)


def test_feature_set_save_load_roundtrip(small_features, tmp_path):
    fs = small_features
    out = fs.save(tmp_path / "out" / "features.npz")
    assert out.is_file() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    with np.load(out, allow_pickle=False) as z:
        assert {"X", "y", "track_ids", "segment_index", "classes"} <= set(z.files)
        np.testing.assert_array_equal(z["X"], fs.X)
        np.testing.assert_array_equal(z["y"], fs.y)
        np.testing.assert_array_equal(z["track_ids"], fs.track_ids)
        np.testing.assert_array_equal(z["segment_index"], fs.segment_index)
        assert tuple(z["classes"].tolist()) == fs.classes
    back = FeatureSet.load(out)
    for name in ("X", "y", "track_ids", "segment_index"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fs, name), err_msg=name)
    assert back.classes == fs.classes and back.params == fs.params
    assert back.fingerprint == fs.fingerprint and back.source == fs.source
    assert back.skipped == fs.skipped and back.skipped[0].track_id == "tones.00099"
    # a loaded table keeps its tracks whole: the track split groups them (1 test track per class), and so
    # refuses this small table, counting its test tracks per class
    with pytest.raises(DatasetError, match=r"'track' split tests only 3 track\(s\) \(clicks 1, noise 1, tones 1\)"):
        make_split(
            "track", y=back.y, track_ids=back.track_ids, test_size=0.5, validation_size=0.0, classes=back.classes
        )


def test_save_needs_npz(small_features, tmp_path):
    with pytest.raises(ParameterError, match="must end in .npz"):
        small_features.save(tmp_path / "features.h5")


def test_load_rejects_garbage_and_pickles(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="bad.npz"):
        FeatureSet.load(bad)
    sentinel = tmp_path / "PICKLE-WAS-LOADED"
    trap = tmp_path / "trap.npz"
    _pickle_npz(
        trap,
        sentinel,
        "track_ids",
        X=np.zeros((1, 130, 13), np.float32),
        y=np.zeros(1, np.int64),
        segment_index=np.zeros(1, np.int64),
        classes=np.array(["a"]),
    )
    with pytest.raises(ArtifactError, match="trap.npz"):
        FeatureSet.load(trap)
    assert not sentinel.exists()


def test_load_rejects_inconsistent_tables(small_features, tmp_path):
    fs = small_features
    out = tmp_path / "x.npz"
    np.savez(
        out, X=fs.X, y=fs.y[:-1], track_ids=fs.track_ids, segment_index=fs.segment_index, classes=np.array(fs.classes)
    )
    with pytest.raises(ArtifactError, match="differ in length"):
        FeatureSet.load(out)
    np.savez(
        out, X=fs.X, y=fs.y + 5, track_ids=fs.track_ids, segment_index=fs.segment_index, classes=np.array(fs.classes)
    )
    with pytest.raises(ArtifactError, match="labels"):
        FeatureSet.load(out)


def test_study_json_roundtrip(small_features, tmp_path):
    fs = small_features
    path = fs.to_study_json(tmp_path / "data.json")
    data = json.loads(path.read_text())
    assert set(data) == {"mapping", "labels", "mfcc"}
    assert data["mapping"] == list(fs.classes)
    assert np.asarray(data["mfcc"]).shape == fs.X.shape
    back = FeatureSet.from_study_json(path)
    np.testing.assert_array_equal(back.X, fs.X)  # float32 -> JSON float -> float32 is exact
    np.testing.assert_array_equal(back.y, fs.y)
    assert back.classes == fs.classes and back.params == STUDY_PARAMS
    assert back.track_ids.shape == fs.y.shape and set(back.track_ids.tolist()) == {""}
    assert set(back.segment_index.tolist()) == {-1}
    # without track ids only the segment split works
    with pytest.raises(DatasetError, match="track id"):
        make_split("track", y=back.y, track_ids=back.track_ids)
    assert make_split("segment", y=back.y, track_ids=back.track_ids).sizes()["test"] == 3


def test_study_json_mapping_paths_become_class_names(tmp_path):
    path = tmp_path / "study.json"
    X = np.random.default_rng(0).standard_normal((4, 130, 13)).astype(np.float32)
    path.write_text(
        json.dumps(
            {"mapping": ["genres_original/blues", "genres_original/rock"], "labels": [0, 1, 1, 0], "mfcc": X.tolist()}
        )
    )
    fs = FeatureSet.from_study_json(path)
    assert fs.classes == ("blues", "rock")
    np.testing.assert_array_equal(fs.X, X)


@pytest.mark.parametrize(
    "text", ["{not json", '{"mapping": ["a"], "labels": [0]}', '{"mapping": ["a"], "labels": [0], "mfcc": [1, 2]}']
)
def test_study_json_errors(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ArtifactError, match="bad.json"):
        FeatureSet.from_study_json(path)


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
def _cli(*args, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "mgc", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_help_lists_the_commands():
    r = _cli("--help")
    assert r.returncode == 0, r.stderr
    for command in ("info", "extract", "demo-data", "train", "evaluate", "classify"):
        assert command in r.stdout


def test_cli_extract_writes_the_arrays(small, tmp_path):
    (small / "genres" / "tones" / "tones.00099.wav").write_bytes(b"not audio" * 100)
    out = tmp_path / "F.npz"
    r = _cli("extract", "--data", small, "--out", out, "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "skipped files: 1" in r.stdout and "tones/tones.00099.wav" in r.stdout
    with np.load(out, allow_pickle=False) as z:
        assert z["X"].shape == (12, 130, 13) and z["X"].dtype == np.float32
        assert z["y"].shape == (12,) and z["track_ids"].shape == (12,) and z["segment_index"].shape == (12,)
        assert z["classes"].tolist() == ["clicks", "noise", "tones"]
    # the CLI used the artifacts folder of this test for its store (MGC_ARTIFACTS)
    assert list((Path(os.environ["MGC_ARTIFACTS"]) / "cache").glob("store-*/entries/*/*.npy"))


def test_cli_info_lists_classes_and_unreadable_files(small):
    (small / "genres" / "noise" / "noise.00042.wav").write_bytes(b"\x00" * 64)
    r = _cli("info", small)
    assert r.returncode == 0, r.stderr
    for c in ("clicks", "noise", "tones"):
        assert c in r.stdout
    assert "7 tracks, 3 classes" in r.stdout
    assert "unreadable files: 1" in r.stdout and "noise/noise.00042.wav" in r.stdout


@pytest.mark.parametrize("command", ["info", "extract"])
def test_cli_missing_folder_is_exit_2_with_one_line(tmp_path, command):
    missing = tmp_path / "no-such-folder"
    args = [missing] if command == "info" else ["--data", missing, "--out", tmp_path / "F.npz"]
    r = _cli(command, *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:") and "no-such-folder" in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in r.stderr
