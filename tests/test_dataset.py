"""Unit tests of mgc.dataset: GTZAN layouts on disk, and the three splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import ff_track_ids, make_ff_features
from mgc.dataset import (
    EVALUATE_ON,
    MIN_TEST_TRACKS,
    SPLITS,
    THIN_CLASS_TRACKS,
    fault_filtered_lists,
    find_tracks,
    make_split,
    protocol_label,
    refit_split,
    suggested_split,
    thin_classes,
    track_folds,
)
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
        "blues.00000",
        "blues.00001",
        "jazz.00000",
        "jazz.00001",
        "rock.00000",
        "rock.00001",
    ]
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
    y, ids = _table(n_classes=4)  # the track split tests 3 tracks per class: 12 >= MIN_TEST_TRACKS
    a = make_split(name, y=y, track_ids=ids, seed=3)
    b = make_split(name, y=y, track_ids=ids, seed=3)
    c = make_split(name, y=y, track_ids=ids, seed=4)
    for pa, pb in zip(_parts(a), _parts(b), strict=True):
        np.testing.assert_array_equal(pa, pb)
    assert any(not np.array_equal(pa, pc) for pa, pc in zip(_parts(a), _parts(c), strict=True))
    assert a.settings["seed"] == 3


@pytest.mark.parametrize("name", ["segment", "track"])
def test_splits_partition_the_rows(name):
    y, ids = _table(n_classes=4)
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
    y, ids = _table(n_classes=4, tracks_per_class=12)
    s = make_split("track", y=y, track_ids=ids, seed=1)
    sides = [set(ids[p]) for p in _parts(s)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    # per class: 12 -> 3 test, round(0.2 * 9) = 2 val, 7 train
    for part, want in zip(_parts(s), (7, 2, 3), strict=True):
        for c in range(4):
            assert len(set(ids[part][y[part] == c])) == want
        assert len(part) == 4 * want * 10  # every segment of a chosen track comes along
    assert s.label == "track"


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


def _faulty_jazz() -> str:
    lists = fault_filtered_lists()
    return sorted({f"jazz.{i:05d}" for i in range(100)} - set().union(*lists.values()))[0]  # in none of the lists


def _ids_of(fs, rows) -> set[str]:
    return set(fs.track_ids[rows].tolist())


def test_fault_filtered_split_uses_the_lists_when_the_test_list_is_there():
    faulty = _faulty_jazz()
    fs = make_ff_features({"blues": (3, 2, 6), "jazz": (2, 2, 5)}, extra=[("jazz", faulty)])  # 11 test-list tracks
    s = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=0, classes=fs.classes)
    lists = fault_filtered_lists()
    assert _ids_of(fs, s.train) == set(fs.track_ids) & lists["train"] and len(_ids_of(fs, s.train)) == 5
    assert _ids_of(fs, s.validation) == set(fs.track_ids) & lists["validation"] and len(_ids_of(fs, s.validation)) == 4
    assert _ids_of(fs, s.test) == set(fs.track_ids) & lists["test"] and len(_ids_of(fs, s.test)) == 11
    assert faulty not in set(fs.track_ids[np.concatenate(_parts(s))])  # left out everywhere
    assert s.settings["evaluated_on"] == "test" and s.label == "fault-filtered"
    # no randomness: neither the seed nor the validation fraction changes anything
    s2 = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=99, validation_size=0.5)
    for a, b in zip(_parts(s), _parts(s2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fault_filtered_without_the_test_list_is_tested_on_valid():
    fs = make_ff_features({"blues": (10, 6, 2), "jazz": (5, 5, 1)})  # 3 test-list tracks: fewer than 10
    s = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=0, classes=fs.classes)
    lists = fault_filtered_lists()
    train, val, test = (_ids_of(fs, p) for p in _parts(s))
    assert test == set(fs.track_ids) & lists["validation"] and len(test) == 11  # the valid list is the test part
    assert (train | val) == set(fs.track_ids) & lists["train"]  # validation comes from the train list
    assert not (train & val) and not (train & test) and not (val & test)
    # grouped by track and stratified: round(0.2 * 10) = 2 blues and round(0.2 * 5) = 1 jazz track held out
    assert sorted(t.split(".")[0] for t in val) == ["blues", "blues", "jazz"]
    assert all((fs.track_ids == t).sum() == len(np.flatnonzero(np.isin(fs.track_ids[s.validation], [t]))) for t in val)
    assert not set(fs.track_ids[np.concatenate(_parts(s))]) & lists["test"]  # test-list tracks are left unused
    assert s.settings == {
        "lists": "Kereliuk, Sturm & Larsen (2015)",
        "evaluated_on": "valid",
        "validation_size": 0.2,
        "unused_test_list_tracks": 3,
        "seed": 0,
    }
    assert s.label == "fault-filtered (tested on valid)"
    # the validation draw is seeded
    again = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=0)
    np.testing.assert_array_equal(again.validation, s.validation)
    others = [make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=k).validation for k in range(1, 6)]
    assert any(not np.array_equal(o, s.validation) for o in others)
    np.testing.assert_array_equal(make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, seed=1).test, s.test)


@pytest.mark.parametrize("n_test, expected", [(9, "valid"), (MIN_TEST_TRACKS, "test")])
def test_auto_tests_on_the_test_list_from_ten_of_its_tracks(n_test, expected):
    fs = make_ff_features({"rock": (5, 10, n_test)})
    s = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids)
    assert s.settings["evaluated_on"] == expected
    assert len(_ids_of(fs, s.test)) == 10 if expected == "valid" else n_test


def test_evaluate_on_can_be_forced():
    fs = make_ff_features({"blues": (5, 6, 7), "jazz": (5, 5, 5)})  # 12 test-list and 11 valid-list tracks
    on_valid = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, evaluate_on="valid")
    assert on_valid.label == "fault-filtered (tested on valid)"
    assert _ids_of(fs, on_valid.test) == set(fs.track_ids) & fault_filtered_lists()["validation"]
    assert on_valid.settings["unused_test_list_tracks"] == 12
    on_test = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, evaluate_on="test")
    assert on_test.label == "fault-filtered" and len(_ids_of(fs, on_test.test)) == 12
    few = make_ff_features({"blues": (5, 6, 2), "jazz": (5, 5, 1)})
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=few.y, track_ids=few.track_ids, evaluate_on="test", classes=few.classes)
    assert "the 'fault-filtered' split tests only 3 track(s) (blues 2, jazz 1)" in str(e.value)
    with pytest.raises(ParameterError, match="evaluate_on='train' is not one of auto, test, valid"):
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, evaluate_on="train")
    assert EVALUATE_ON == ("auto", "test", "valid")


def test_a_test_part_of_fewer_than_ten_tracks_is_refused_with_the_counts_per_class():
    assert MIN_TEST_TRACKS == 10
    y, ids = _table(tracks_per_class=12)  # the track split tests 3 + 3 + 3 tracks
    with pytest.raises(DatasetError) as e:
        make_split("track", y=y, track_ids=ids, classes=("blues", "jazz", "rock"))
    msg = str(e.value)
    assert msg.startswith("the 'track' split tests only 9 track(s) (blues 3, jazz 3, rock 3): fewer than 10")
    assert "Add tracks, or use another split" in msg and "valid list" not in msg
    # without class names the message counts by class index
    with pytest.raises(DatasetError, match=r"tests only 9 track\(s\) \(0 3, 1 3, 2 3\)"):
        make_split("track", y=y, track_ids=ids)
    # the segment split tests (almost) every track: never refused, however small
    small_y, small_ids = _table(tracks_per_class=2)
    assert make_split("segment", y=small_y, track_ids=small_ids).sizes()["test"] == 15


def test_a_fault_filtered_test_part_of_nine_valid_tracks_is_refused():
    fs = make_ff_features({"blues": (5, 4, 0), "jazz": (5, 5, 0)})
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, classes=fs.classes)
    msg = str(e.value)
    assert "the 'fault-filtered (tested on valid)' split tests only 9 track(s) (blues 4, jazz 5)" in msg
    assert "fault-filtered tests on its valid list when the test list is missing" in msg


def test_fault_filtered_with_train_tracks_only_names_the_empty_part():
    lists = fault_filtered_lists()
    train_ids = sorted(lists["train"])[:20]
    ids = np.repeat(train_ids, 10)
    y = np.zeros(len(ids), dtype=int)
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=y, track_ids=ids)
    msg = str(e.value)
    # tested on valid (no test-list track): the valid list would be the test part, and it is empty
    assert "'fault-filtered' split leaves its test part empty" in msg
    assert "none of this dataset's 20 tracks is in the fault-filtered valid list" in msg
    assert "'track' split" in msg


def test_fault_filtered_without_gtzan_ids_names_both_lists():
    y, ids = _table(n_classes=4)
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=y, track_ids=ids)
    msg = str(e.value)
    assert "48 tracks" in msg and "GTZAN track ids such as blues.00012 are needed" in msg


def test_too_few_train_list_tracks_for_validation_are_not_called_missing():
    fs = make_ff_features({"blues": (2, 6, 0), "jazz": (2, 5, 0)})  # round(0.2 * 2) = 0 validation tracks per class
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids)
    assert "validation part empty" in str(e.value)
    assert "none of this dataset's" not in str(e.value)  # 4 of its 15 tracks ARE in the train list


def test_refit_split_trains_on_every_track_of_its_twin():
    fs = make_ff_features({"blues": (4, 6, 1), "jazz": (4, 5, 0)})
    twin = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, classes=fs.classes)
    tracks = {
        p: sorted(_ids_of(fs, rows)) for p, rows in zip(("train", "validation", "test"), _parts(twin), strict=True)
    }
    r = refit_split(track_ids=fs.track_ids, twin_tracks=tracks, twin_id="twin-run", name="fault-filtered")
    assert r.name == "fault-filtered" and r.settings == {"refit_of": "twin-run"}
    assert r.label == "fault-filtered (refit on train + valid)"
    np.testing.assert_array_equal(r.train, np.sort(np.concatenate(_parts(twin))))
    assert r.train.dtype == np.int64 and len(r.validation) == 0 and len(r.test) == 0
    # the unused test-list track (blues, 1) is in no part of the twin, so not in the refit either
    assert not _ids_of(fs, r.train) & fault_filtered_lists()["test"]
    with pytest.raises(DatasetError, match="none of the 2 tracks of run 'twin-run' is in these features"):
        refit_split(
            track_ids=fs.track_ids,
            twin_tracks={"train": ["x.1"], "test": ["x.2"]},
            twin_id="twin-run",
            name="fault-filtered",
        )


def test_suggested_split_needs_ten_valid_or_test_list_tracks():
    rock = ff_track_ids("rock", "validation", 10) + ff_track_ids("rock", "train", 30)
    assert suggested_split(rock) == "fault-filtered"
    assert suggested_split(ff_track_ids("rock", "test", 10)) == "fault-filtered"
    assert suggested_split(ff_track_ids("rock", "validation", 9) + ff_track_ids("jazz", "test", 9)) == "track"
    assert suggested_split(ff_track_ids("rock", "train", 40)) == "track"
    assert suggested_split([f"c0.{i:05d}" for i in range(50)]) == "track"
    # unknown ids: study JSON features
    assert suggested_split(ff_track_ids("rock", "validation", 10) + [""]) == "segment"


def test_thin_classes_and_protocol_labels():
    assert THIN_CLASS_TRACKS == 3
    assert thin_classes({"a": 0, "b": 1, "c": 2, "d": 3, "e": 20}) == ["b", "c"]  # absent classes are not thin
    assert protocol_label("segment") == "segment" and protocol_label("track", {"seed": 1}) == "track"
    assert protocol_label("fault-filtered", {"evaluated_on": "test"}) == "fault-filtered"
    assert protocol_label("fault-filtered", {"evaluated_on": "valid"}) == "fault-filtered (tested on valid)"
    assert protocol_label("fault-filtered", {"refit_of": "x"}) == "fault-filtered (refit on train + valid)"


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
    assert set(SPLITS) == {"segment", "track", "fault-filtered", "fma-official"}


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
    assert all(np.array_equal(fa.test, fb.test) for fa, fb in zip(a, b, strict=True))
    assert any(not np.array_equal(fa.test, fc.test) for fa, fc in zip(a, c, strict=True))


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


def _old_track_folds_test_counts(tracks_per_class: int, n_folds: int) -> list[int]:
    """Test tracks per fold of one class as the hand-written folds dealt them (in turn), sorted."""
    return sorted(tracks_per_class // n_folds + (k < tracks_per_class % n_folds) for k in range(n_folds))


@pytest.mark.parametrize(("tracks_per_class", "n_folds"), [(12, 4), (11, 4), (7, 3), (5, 5), (23, 10)])
def test_track_folds_balance_each_class_as_the_hand_written_folds_did(tracks_per_class, n_folds):
    # tracks of equal length: scikit-learn's folds hold as many test tracks per class as dealing in turn did
    y, ids = _table(tracks_per_class=tracks_per_class)
    folds = track_folds(y=y, track_ids=ids, n_folds=n_folds, seed=5)
    for c in range(3):
        counts = sorted(len(set(ids[f.test][y[f.test] == c])) for f in folds)
        assert counts == _old_track_folds_test_counts(tracks_per_class, n_folds)
        for f in folds:  # validation: round(0.2 * the class's tracks outside the test part)
            rest = tracks_per_class - len(set(ids[f.test][y[f.test] == c]))
            assert len(set(ids[f.validation][y[f.validation] == c])) == int(round(0.2 * rest))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_track_folds_keep_their_properties_on_tracks_of_unequal_length(seed):
    rng = np.random.default_rng(seed)
    y, ids = [], []
    for c, n_tracks in enumerate((6, 9, 14, 5)):  # skewed classes, 5 to 10 segments per track
        for t in range(n_tracks):
            n = int(rng.integers(5, 11))
            y += [c] * n
            ids += [f"c{c}.{t:05d}"] * n
    y, ids = np.array(y), np.array(ids)
    order = rng.permutation(len(y))  # rows in any order
    y, ids = y[order], ids[order]
    folds = track_folds(y=y, track_ids=ids, n_folds=5, validation_size=0.25, seed=seed)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(y)))  # every row, so every track, tested exactly once
    fold_of = {}
    for k, f in enumerate(folds):
        for t in set(ids[f.test]):
            assert fold_of.setdefault(t, k) == k  # no track split across test folds
        sides = [set(ids[p]) for p in _parts(f)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert sorted(np.concatenate(_parts(f)).tolist()) == list(range(len(y)))
        assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in _parts(f))
        assert set(y[f.test]) == {0, 1, 2, 3}  # every fold tests every class
    for c in range(4):  # stratified: a class's test segments per fold differ by at most its longest track
        per_fold = [int(np.sum(y[f.test] == c)) for f in folds]
        longest = max(int(np.sum(ids == t)) for t in set(ids[y == c]))
        assert max(per_fold) - min(per_fold) <= longest
    again = track_folds(y=y, track_ids=ids, n_folds=5, validation_size=0.25, seed=seed)
    for a, b in zip(folds, again, strict=True):
        for pa, pb in zip(_parts(a), _parts(b), strict=True):
            np.testing.assert_array_equal(pa, pb)


def test_a_refit_of_a_twin_tested_on_the_test_list_leaves_that_list_out():
    tracks = {"train": ["blues.00001"], "validation": ["blues.00002"], "test": ["blues.00003"]}
    ids = np.array(["blues.00001", "blues.00002", "blues.00003"])
    on_test = refit_split(track_ids=ids, twin_tracks=tracks, twin_id="t", name="fault-filtered", tested_on_valid=False)
    assert on_test.train.tolist() == [0, 1]  # train + valid: the test list stays held out
    on_valid = refit_split(track_ids=ids, twin_tracks=tracks, twin_id="t", name="fault-filtered")
    assert on_valid.train.tolist() == [0, 1, 2]  # the twin's test part was the valid list: it joins


def test_faulty_tracks_are_the_gtzan_tracks_in_no_fault_filtered_list():
    from mgc.config import GTZAN_GENRES
    from mgc.dataset import fault_filtered_lists, faulty_tracks

    every = [f"{g}.{i:05d}" for g in GTZAN_GENRES for i in range(100)]
    faulty = faulty_tracks(every)
    listed = set().union(*fault_filtered_lists().values())
    assert len(faulty) == len(every) - len(listed & set(every))
    assert faulty and not faulty & listed
    # other collections' names are never faulty, whatever they are absent from
    assert faulty_tracks(["a.00001", "song-3", "jazz.1", "rock.000001"]) == set()
