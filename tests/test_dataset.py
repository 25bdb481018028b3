"""Unit tests of mgc.dataset: GTZAN layouts on disk, and the three splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mgc.dataset import SPLITS, find_tracks, fault_filtered_lists, make_split, track_folds
from mgc.errors import DatasetError, ParameterError

SR = 22050


def _wav(path: Path, seconds: float = 0.1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.full(int(SR * seconds), 0.1, np.float32), SR)
    return path


def _make(folder: Path, classes=("rock", "blues", "jazz"), per_class: int = 2) -> None:
    for c in classes:  # written out of order on purpose
        for i in range(per_class):
            _wav(folder / c / f"{c}.{i:05d}.wav")


# --------------------------------------------------------------------------- #
# find_tracks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("layout", ["genres", "genres_original", "Data/genres_original", "."])
def test_find_tracks_in_each_layout(tmp_path, layout):
    root = tmp_path / "ds"
    _make(root / layout)
    ds = find_tracks(root)
    assert ds.genres_dir == (root / layout).resolve()
    assert ds.classes == ("blues", "jazz", "rock")
    assert [t.track_id for t in ds.tracks] == [
        "blues.00000", "blues.00001", "jazz.00000", "jazz.00001", "rock.00000", "rock.00001"]
    assert all(t.track_id.startswith(t.label + ".") for t in ds.tracks)
    assert all(t.path.is_file() and t.path.parent.name == t.label for t in ds.tracks)
    assert ds.counts() == {"blues": 2, "jazz": 2, "rock": 2}
    assert ds.relpath(ds.tracks[0]) == "blues/blues.00000.wav"


def test_class_names_come_from_folders_not_from_gtzan(tmp_path):
    _make(tmp_path / "genres", classes=("zouk", "Ambient", "chiptune"), per_class=1)
    ds = find_tracks(tmp_path)
    assert ds.classes == ("Ambient", "chiptune", "zouk")  # sorted as strings


def test_first_matching_layout_wins(tmp_path):
    _make(tmp_path / "genres", classes=("a",), per_class=1)
    _make(tmp_path / "genres_original", classes=("b",), per_class=1)
    assert find_tracks(tmp_path).classes == ("a",)


def test_non_audio_files_and_folders_are_ignored(tmp_path):
    genres = tmp_path / "genres"
    _make(genres, classes=("blues", "rock"), per_class=1)
    (genres / "blues" / "README.txt").write_text("notes")
    (genres / "blues" / "features.csv").write_text("a,b\n")
    (genres / "blues" / ".DS_Store").write_bytes(b"\x00")
    _wav(genres / "blues" / ".hidden.wav")
    (genres / "blues" / "folder.wav").mkdir()  # a folder with an audio ending
    (genres / "docs").mkdir()
    (genres / "docs" / "index.html").write_text("<p>")
    _wav(genres / ".trash" / "x.wav")
    (genres / "top-level.wav").write_bytes(b"RIFF")
    ds = find_tracks(tmp_path)
    assert ds.classes == ("blues", "rock")
    assert [t.path.name for t in ds.tracks] == ["blues.00000.wav", "rock.00000.wav"]
    assert ds.ignored == []


def test_every_audio_ending_is_found_case_insensitively(tmp_path):
    d = tmp_path / "genres" / "mixed"
    for i, ext in enumerate(["wav", "AU", "flac", "ogg", "Mp3", "aiff"]):
        (d).mkdir(parents=True, exist_ok=True)
        (d / f"mixed.{i:05d}.{ext}").write_bytes(b"x")  # find_tracks never decodes
    ds = find_tracks(tmp_path)
    assert len(ds.tracks) == 6


def test_duplicate_stems_keep_one_file_and_report_the_other(tmp_path):
    genres = tmp_path / "genres"
    _make(genres, classes=("blues",), per_class=2)
    _wav(genres / "blues" / "blues.00000.au")
    _wav(genres / "blues" / "blues.00001.flac")
    ds = find_tracks(tmp_path)
    assert [t.track_id for t in ds.tracks] == ["blues.00000", "blues.00001"]
    assert [t.path.suffix for t in ds.tracks] == [".wav", ".wav"]  # .wav ranks first
    assert len(ds.ignored) == 2
    assert any("blues.00000.au" in line and "blues.00000.wav" in line for line in ds.ignored)
    assert any("blues.00001.flac" in line for line in ds.ignored)


def test_fingerprint_follows_the_file_list(tmp_path):
    _make(tmp_path / "genres", per_class=1)
    before = find_tracks(tmp_path).fingerprint()
    assert before == find_tracks(tmp_path).fingerprint()
    _wav(tmp_path / "genres" / "rock" / "rock.00009.wav")
    assert find_tracks(tmp_path).fingerprint() != before


def test_missing_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        find_tracks(tmp_path / "nope")


def test_a_file_is_not_a_dataset_folder(tmp_path):
    f = _wav(tmp_path / "one.wav")
    with pytest.raises(DatasetError, match="not a folder"):
        find_tracks(f)


@pytest.mark.parametrize("fill", ["nothing", "class folders without audio", "audio but no class folder"])
def test_folder_without_a_dataset_is_a_dataset_error(tmp_path, fill):
    if fill == "class folders without audio":
        (tmp_path / "genres" / "blues").mkdir(parents=True)
        (tmp_path / "genres" / "blues" / "notes.txt").write_text("x")
    elif fill == "audio but no class folder":
        _wav(tmp_path / "blues.00000.wav")
    with pytest.raises(DatasetError) as e:
        find_tracks(tmp_path)
    msg = str(e.value)
    assert "no GTZAN-style dataset" in msg and "genres/<class>/" in msg and ".wav" in msg


# --------------------------------------------------------------------------- #
# Splits
# --------------------------------------------------------------------------- #
def _table(n_classes: int = 3, tracks_per_class: int = 12, segments: int = 10):
    y, ids = [], []
    for c in range(n_classes):
        for t in range(tracks_per_class):
            y += [c] * segments
            ids += [f"c{c}.{t:05d}"] * segments
    return np.array(y), np.array(ids)


def _parts(split):
    return split.train, split.validation, split.test


@pytest.mark.parametrize("name", ["segment", "track"])
def test_splits_are_reproducible_and_seeded(name):
    y, ids = _table()
    a = make_split(name, y=y, track_ids=ids, seed=3)
    b = make_split(name, y=y, track_ids=ids, seed=3)
    c = make_split(name, y=y, track_ids=ids, seed=4)
    for pa, pb in zip(_parts(a), _parts(b)):
        np.testing.assert_array_equal(pa, pb)
    assert any(not np.array_equal(pa, pc) for pa, pc in zip(_parts(a), _parts(c)))
    assert a.settings["seed"] == 3


@pytest.mark.parametrize("name", ["segment", "track"])
def test_splits_partition_the_rows(name):
    y, ids = _table()
    s = make_split(name, y=y, track_ids=ids)
    rows = np.concatenate(_parts(s))
    assert sorted(rows.tolist()) == list(range(len(y)))
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in _parts(s))


def test_segment_split_fractions():
    y, ids = _table()  # 360 rows
    s = make_split("segment", y=y, track_ids=ids)
    assert s.sizes() == {"test": 90, "validation": 54, "train": 216}  # 0.25, then 0.2 of 270
    assert s.settings["test_size"] == 0.25 and s.settings["validation_size"] == 0.2
    s2 = make_split("segment", y=y, track_ids=ids, test_size=0.1, validation_size=0.0)
    assert s2.sizes() == {"test": 36, "validation": 0, "train": 324}


def test_segment_split_puts_one_track_on_both_sides():
    """The study's protocol leaks: this is what the track split exists to avoid."""
    y, ids = _table()
    s = make_split("segment", y=y, track_ids=ids)
    assert set(ids[s.train]) & set(ids[s.test])


def test_segment_split_works_without_track_ids():
    y, _ = _table()
    s = make_split("segment", y=y, track_ids=np.full(len(y), ""))
    assert s.sizes()["test"] == 90


def test_track_split_keeps_tracks_whole_and_is_stratified():
    y, ids = _table(tracks_per_class=12)
    s = make_split("track", y=y, track_ids=ids, seed=1)
    sides = [set(ids[p]) for p in _parts(s)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    for part, want in zip(_parts(s), (7, 2, 3)):  # per class: 12 -> 3 test, round(0.2 * 9) = 2 val, 7 train
        for c in range(3):
            assert len(set(ids[part][y[part] == c])) == want
        assert len(part) == 3 * want * 10  # every segment of a chosen track comes along


def test_track_split_with_too_few_tracks_names_the_empty_part():
    y, ids = _table(tracks_per_class=1)
    with pytest.raises(DatasetError, match=r"'track' split leaves its test and validation part empty"):
        make_split("track", y=y, track_ids=ids)


@pytest.mark.parametrize("name", ["track", "fault-filtered"])
def test_track_based_splits_need_track_ids(name):
    y, ids = _table()
    ids[5] = ""
    with pytest.raises(DatasetError) as e:
        make_split(name, y=y, track_ids=ids)
    assert "track id" in str(e.value) and "'segment'" in str(e.value)


def test_fault_filtered_lists_are_embedded():
    lists = fault_filtered_lists()
    assert {k: len(v) for k, v in lists.items()} == {"train": 443, "validation": 197, "test": 290}
    assert not (lists["train"] & lists["validation"]) and not (lists["train"] & lists["test"])
    assert not (lists["validation"] & lists["test"])
    assert "blues.00029" in lists["train"] and "blues.00012" in lists["test"] and "blues.00000" in lists["validation"]


def test_fault_filtered_split_uses_the_lists():
    lists = fault_filtered_lists()
    every = {f"{g}.{i:05d}" for g in ("blues", "jazz") for i in range(100)}
    faulty = sorted(every - set().union(*lists.values()))[0]  # a track in none of the lists
    tracks = ["blues.00029", "blues.00012", "blues.00000", faulty, "blues.00012"]
    ids = np.repeat(tracks, 3)
    y = np.zeros(len(ids), dtype=int)
    s = make_split("fault-filtered", y=y, track_ids=ids, seed=0)
    assert set(ids[s.train]) == {"blues.00029"}
    assert set(ids[s.test]) == {"blues.00012"} and len(s.test) == 6
    assert set(ids[s.validation]) == {"blues.00000"}
    assert faulty not in set(ids[np.concatenate(_parts(s))])  # left out everywhere
    # no randomness: the seed changes nothing
    s2 = make_split("fault-filtered", y=y, track_ids=ids, seed=99)
    for a, b in zip(_parts(s), _parts(s2)):
        np.testing.assert_array_equal(a, b)


def test_fault_filtered_with_train_tracks_only_names_the_empty_parts():
    lists = fault_filtered_lists()
    train_ids = sorted(lists["train"])[:20]
    ids = np.repeat(train_ids, 10)
    y = np.zeros(len(ids), dtype=int)
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=y, track_ids=ids)
    msg = str(e.value)
    assert "'fault-filtered' split leaves its test and validation part empty" in msg
    assert "20 tracks" in msg and "'track' split" in msg


def test_fault_filtered_without_test_tracks_names_only_test():
    lists = fault_filtered_lists()
    ids = np.array(sorted(lists["train"])[:3] + sorted(lists["validation"])[:3])
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=np.zeros(len(ids), int), track_ids=ids)
    assert "leaves its test part empty" in str(e.value)


def test_unknown_split_and_bad_fractions_are_parameter_errors():
    y, ids = _table()
    with pytest.raises(ParameterError, match="split='random'"):
        make_split("random", y=y, track_ids=ids)
    with pytest.raises(ParameterError, match="test_size=1.0"):
        make_split("segment", y=y, track_ids=ids, test_size=1.0)
    with pytest.raises(ParameterError, match="validation_size=-0.1"):
        make_split("segment", y=y, track_ids=ids, validation_size=-0.1)
    with pytest.raises(ParameterError, match="rows"):
        make_split("segment", y=y, track_ids=ids[:-1])
    assert set(SPLITS) == {"segment", "track", "fault-filtered"}


def test_empty_table_is_a_dataset_error():
    with pytest.raises(DatasetError, match="empty"):
        make_split("segment", y=np.zeros(0, int), track_ids=np.zeros(0, str))


# --------------------------------------------------------------------------- #
# track_folds
# --------------------------------------------------------------------------- #
def test_track_folds_test_every_track_once_grouped_and_stratified():
    y, ids = _table(tracks_per_class=12)
    folds = track_folds(y=y, track_ids=ids, n_folds=4, seed=2)
    assert len(folds) == 4
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(y)))  # every row (so every track) tested exactly once
    for k, f in enumerate(folds):
        sides = [set(ids[p]) for p in _parts(f)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert sorted(np.concatenate(_parts(f)).tolist()) == list(range(len(y)))
        for c in range(3):  # 12 tracks per class: 3 test, round(0.2 * 9) = 2 validation, 7 train
            assert [len(set(ids[p][y[p] == c])) for p in _parts(f)] == [7, 2, 3]
        assert f.name == "track" and f.settings == {"fold": k, "n_folds": 4, "validation_size": 0.2, "seed": 2}


def test_track_folds_are_seeded():
    y, ids = _table(tracks_per_class=12)
    a, b, c = (track_folds(y=y, track_ids=ids, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(fa.test, fb.test) for fa, fb in zip(a, b))
    assert any(not np.array_equal(fa.test, fc.test) for fa, fc in zip(a, c))


def test_track_folds_refuse_too_few_tracks_and_bad_arguments():
    y, ids = _table(tracks_per_class=3)
    with pytest.raises(DatasetError, match="class 0 has 3 track.*n_folds=5"):
        track_folds(y=y, track_ids=ids, n_folds=5)
    for bad in (1, 2.5, True):
        with pytest.raises(ParameterError, match="n_folds"):
            track_folds(y=y, track_ids=ids, n_folds=bad)
    with pytest.raises(ParameterError, match="validation_size"):
        track_folds(y=y, track_ids=ids, n_folds=3, validation_size=1.5)
    with pytest.raises(DatasetError, match="track id"):
        track_folds(y=y, track_ids=np.full(len(y), ""), n_folds=3)
