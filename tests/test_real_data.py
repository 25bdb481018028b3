"""Real-data tier: the GTZAN subset and librosa's recordings under ../shared/data.

Skipped with a clear reason (the ``shared_data`` fixture) when that folder is absent,
as it is in a user's clone. The subset holds all ten genres (282 files, 281 readable:
``jazz.00054.wav`` is corrupt), each track in the fault-filtered train or valid list but
for two test-list ones (``hiphop.00000``, ``pop.00000``). The extraction is cached in
pytest's cache folder (``.pytest_cache``) so that only the first run pays for it; the
cache checks every file's size and modification time, and the exactness test below
always recomputes. A quick MLP (3 epochs) trained under the fault-filtered protocol
checks the trust checks on real music, real speech, noise and a tone.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from mgc import audio
from mgc.analysis import classify, classify_signal
from mgc.dataset import fault_filtered_lists, find_tracks, make_split, suggested_split
from mgc.errors import AudioError, DatasetError
from mgc.features import clip_windows, extract_dataset, track_segments

pytestmark = pytest.mark.slow  # reads and extracts the real subset, and trains on it

SR = 22050
L = 66150


@pytest.fixture(scope="module")
def mini(shared_data) -> Path:
    return shared_data / "gtzan-mini"


@pytest.fixture(scope="module")
def mini_features(mini, pytestconfig, tmp_path_factory):
    try:
        cache_dir = pytestconfig.cache.mkdir("mgc-gtzan-mini-features")
    except AttributeError:  # the cache plugin is disabled (-p no:cacheprovider)
        cache_dir = tmp_path_factory.mktemp("gtzan-mini-cache")
    return extract_dataset(mini, cache_dir=cache_dir, workers=1)  # one worker: the machine's cores are shared


# --------------------------------------------------------------------------- #
# Decoding every container of the subset
# --------------------------------------------------------------------------- #
CONTAINER_FILES = [
    "genres/classical/classical.00030.flac",
    "genres/jazz/jazz.00000.flac",
    "genres/rock/rock.00000.flac",
    "genres/blues/blues.00000.au",
    "genres/disco/disco.00000.au",
    "genres/hiphop/hiphop.00000.au",
    "genres/metal/metal.00000.au",
    "genres/pop/pop.00000.au",
    "genres/reggae/reggae.00000.au",
    "genres/country/country.00000.wav",
    "extra/blues.00099.mp3",
]


@pytest.mark.parametrize("rel", CONTAINER_FILES)
def test_every_container_decodes_to_30s_mono_22050(mini, rel):
    d = audio.decode(mini / rel)
    assert d.sr == SR and d.native_sr == SR
    assert d.y.ndim == 1 and d.y.dtype == np.float32
    assert 29.9 <= d.duration <= 30.7
    assert np.all(np.isfinite(d.y)) and 0.05 < np.max(np.abs(d.y)) <= 1.0
    assert not d.truncated


def test_decode_from_bytes_matches_decode_from_path(mini):
    path = mini / "extra" / "blues.00099.mp3"
    np.testing.assert_array_equal(audio.load(path.read_bytes()), audio.load(path))


def test_the_corrupt_jazz_file_is_an_audio_error(mini):
    path = mini / "genres" / "jazz" / "jazz.00054.wav"
    assert path.stat().st_size > 0 and path.read_bytes()[:4] != b"RIFF"
    with pytest.raises(AudioError) as e:
        audio.decode(path)
    assert "jazz.00054.wav" in str(e.value) and "not a readable audio file" in str(e.value)
    with pytest.raises(AudioError, match="jazz.00054.wav"):
        audio.info(path)


def test_find_tracks_on_the_subset(mini):
    ds = find_tracks(mini)
    assert ds.genres_dir == (mini / "genres").resolve()
    assert ds.classes == ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
    # files on disk per genre (../shared/README.md: train + valid + other), the corrupt jazz file included
    assert ds.counts() == {
        "blues": 24,
        "classical": 68,
        "country": 14,
        "disco": 9,
        "hiphop": 10,
        "jazz": 60,
        "metal": 10,
        "pop": 11,
        "reggae": 8,
        "rock": 68,
    }
    assert len(ds.tracks) == 282


# --------------------------------------------------------------------------- #
# Extraction over the ten genres
# --------------------------------------------------------------------------- #
def test_extract_ten_genres(mini_features):
    fs = mini_features
    assert fs.classes == ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
    assert fs.n_tracks == 281
    assert fs.X.ndim == 3 and fs.X.shape[1:] == (130, 13) and fs.X.dtype == np.float32
    assert 2800 <= len(fs.X) <= 2810  # 10 segments per clip, minus clips a few ms short of 30 s
    assert {c: v["tracks"] for c, v in fs.counts().items()} == {
        "blues": 24,
        "classical": 68,
        "country": 14,
        "disco": 9,
        "hiphop": 10,
        "jazz": 59,
        "metal": 10,
        "pop": 11,
        "reggae": 8,
        "rock": 68,
    }
    assert [s.track_id for s in fs.skipped] == ["jazz.00054"]
    assert fs.skipped[0].path == "jazz/jazz.00054.wav"
    assert "not a readable audio file" in fs.skipped[0].reason
    assert np.all(np.isfinite(fs.X))
    for tid in np.unique(fs.track_ids):
        assert (fs.track_ids == tid).sum() >= 9


@pytest.mark.parametrize(
    "rel",
    [
        "genres/classical/classical.00030.flac",
        "genres/jazz/jazz.00000.flac",
        "genres/rock/rock.00000.flac",
    ],
)
def test_exact_against_librosa_on_real_clips(mini, rel):
    y, sr = librosa.load(mini / rel, sr=SR)
    assert sr == SR
    np.testing.assert_array_equal(audio.load(mini / rel), y)  # same decode as librosa's
    X, seg = track_segments(y)
    assert len(X) >= 9
    for row, d in zip(X, seg, strict=True):
        ref = librosa.feature.mfcc(y=y[d * L : (d + 1) * L], sr=SR, n_mfcc=13, n_fft=2048, hop_length=512).T
        tol = np.maximum(1e-4, 4 * np.spacing(np.abs(ref)))  # float32 ulps where |c0| is large
        diff = np.abs(row - ref)
        assert np.all(diff <= tol), f"{rel} segment {d}: worst {diff.max():.3g}"


def test_extracted_rows_equal_a_direct_computation(mini, mini_features):
    fs = mini_features
    path = mini / "genres" / "rock" / "rock.00000.flac"
    X, seg = track_segments(audio.load(path))
    rows = fs.track_ids == "rock.00000"
    np.testing.assert_array_equal(fs.segment_index[rows], seg)
    np.testing.assert_allclose(fs.X[rows], X, atol=1e-4, rtol=0)


def _tracks_per_class(fs, rows) -> dict[str, int]:
    ids = np.unique(fs.track_ids[rows])
    return {c: int(sum(t.split(".")[0] == c for t in ids)) for c in fs.classes}


def test_fault_filtered_split_on_the_subset_is_tested_on_valid(mini_features):
    fs = mini_features
    lists = fault_filtered_lists()
    ids = set(fs.track_ids)
    assert (len(ids & lists["train"]), len(ids & lists["validation"]), len(ids & lists["test"])) == (191, 88, 2)
    assert suggested_split(fs.track_ids) == "fault-filtered"
    s = make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, classes=fs.classes)
    assert s.label == "fault-filtered (tested on valid)" and s.settings["unused_test_list_tracks"] == 2
    # the valid list is the test part: 88 tracks of artists absent from the train list
    assert set(fs.track_ids[s.test]) == ids & lists["validation"]
    assert _tracks_per_class(fs, s.test) == {
        "blues": 1,
        "classical": 20,
        "country": 10,
        "disco": 8,
        "hiphop": 1,
        "jazz": 17,
        "metal": 6,
        "pop": 0,
        "reggae": 1,
        "rock": 24,
    }
    # validation: round(0.2 * n) of each genre's train-list tracks (jazz: 42 readable of 43)
    assert _tracks_per_class(fs, s.validation) == {
        "blues": 5,
        "classical": 10,
        "country": 1,
        "disco": 0,
        "hiphop": 2,
        "jazz": 8,
        "metal": 1,
        "pop": 2,
        "reggae": 1,
        "rock": 9,
    }
    assert len(set(fs.track_ids[s.train])) == 191 - 39
    assert not set(fs.track_ids[np.concatenate([s.train, s.validation, s.test])]) & lists["test"]


def test_fault_filtered_on_its_missing_test_list_is_refused_with_the_counts(mini_features):
    fs = mini_features
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, evaluate_on="test", classes=fs.classes)
    msg = str(e.value)
    assert "the 'fault-filtered' split tests only 2 track(s) (blues 0, classical 0, country 0" in msg
    assert "hiphop 1" in msg and "pop 1" in msg and "fewer than 10" in msg


def test_track_split_works_on_the_subset(mini_features):
    fs = mini_features
    s = make_split("track", y=fs.y, track_ids=fs.track_ids, seed=0, classes=fs.classes)
    sides = [set(fs.track_ids[p]) for p in (s.train, s.validation, s.test)]
    assert not (sides[0] & sides[2]) and not (sides[0] & sides[1]) and not (sides[1] & sides[2])
    # round(0.25 * n) per genre: 24 -> 6, 68 -> 17, 14 -> 4, 9 -> 2, 10 -> 2, 59 -> 15, 10 -> 2, 11 -> 3, 8 -> 2,
    # 68 -> 17
    assert _tracks_per_class(fs, s.test) == {
        "blues": 6,
        "classical": 17,
        "country": 4,
        "disco": 2,
        "hiphop": 2,
        "jazz": 15,
        "metal": 2,
        "pop": 3,
        "reggae": 2,
        "rock": 17,
    }


# --------------------------------------------------------------------------- #
# librosa's example recordings
# --------------------------------------------------------------------------- #
def _librosa_files(shared: Path) -> list[Path]:
    return sorted((shared / "librosa").glob("*.ogg"))


def test_librosa_examples_decode(shared_data):
    files = _librosa_files(shared_data)
    assert len(files) >= 10
    for f in files:
        d = audio.decode(f, max_duration=40.0)
        assert d.sr == SR and d.y.ndim == 1 and np.all(np.isfinite(d.y)), f.name
        assert d.duration > 2.0, f.name
        audio.check_signal(d.y, sr=SR, name=f.name)  # none of them is silent


def test_trumpet_is_shorter_than_two_segments(shared_data):
    path = shared_data / "librosa" / "sorohanro_-_solo-trumpet-06.ogg"
    y = audio.load(path)
    assert 3.0 < len(y) / SR < 6.0
    X, seg = track_segments(y)
    assert X.shape == (1, 130, 13) and seg.tolist() == [0]
    Xw, starts = clip_windows(y)
    assert Xw.shape == (1, 130, 13) and starts.tolist() == [0.0]
    with pytest.raises(AudioError, match="lasts"):
        audio.check_signal(y, sr=SR, min_duration=6.0, name=path.name)


def test_a_long_recording_is_truncated_on_request(shared_data):
    path = shared_data / "librosa" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
    d = audio.decode(path, max_duration=10.0)
    assert d.truncated and d.duration == pytest.approx(10.0, abs=0.01)
    assert audio.info(path).duration > 60


# --------------------------------------------------------------------------- #
# Trust checks of a quick fault-filtered MLP on real music, speech, noise and a tone
# --------------------------------------------------------------------------- #
SPEECH = ("198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg")  # librosa's libri* clips


@pytest.fixture(scope="module")
def ff_run(mini_features, tmp_path_factory):
    """A 3-epoch MLP on the ten-genre subset, fault-filtered (tested on valid), with its fitted checks."""
    from mgc.training import TrainConfig, train

    return train(
        mini_features,
        TrainConfig(model="mlp", split="fault-filtered", epochs=3, batch_size=64),
        root=tmp_path_factory.mktemp("real-runs"),
        run_id="gtzan10-ff-mlp",
    )


def _kinds(flags) -> list[str]:
    return [f["kind"] for f in flags]


def test_the_quick_run_is_fault_filtered_tested_on_valid(ff_run):
    from mgc.runs import load_trust

    split = ff_run.manifest["split"]
    assert ff_run.protocol == "fault-filtered (tested on valid)"
    assert split["tracks"] == {"train": 152, "validation": 39, "test": 88}
    assert split["thin_classes"] == ["blues", "hiphop", "reggae"]  # pop is absent, not thin
    assert split["test_tracks_per_class"]["pop"] == 0
    assert ff_run.metrics["n_tracks"] == 88
    rows = {r["class"]: r for r in ff_run.metrics["track_per_class"]}
    assert rows["pop"]["support"] == 0 and rows["rock"]["support"] == 24
    assert load_trust(ff_run).fitted_on == "fault-filtered (tested on valid) split, valid part (88 tracks)"


@pytest.mark.parametrize("name", SPEECH)
def test_speech_is_flagged_not_music(shared_data, ff_run, name):
    from mgc.runs import load_trust

    res = classify(shared_data / "librosa" / name, [ff_run])
    assert not res.trusted
    flag = next(f for f in res.flags if f["kind"] == "not-music")
    # an atypical timbre (measured: ~11.3 against a threshold of ~7.4), not only a stationary sound
    assert flag["distance"] > load_trust(ff_run).data["music"]["distance_threshold"]
    assert "far from the training music" in flag["message"]


def test_white_noise_and_a_pure_tone_are_flagged_not_music(ff_run):
    rng = np.random.default_rng(0)
    t = np.arange(30 * SR) / SR
    noise = (0.3 * rng.standard_normal(len(t))).astype(np.float32)
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for name, y in (("white noise", noise), ("440 Hz tone", tone)):
        _, _, flags = classify_signal(y, [ff_run], sr=SR, name=name)
        assert "not-music" in _kinds(flags), (name, flags)
    # noise is as far from the music as real clips are: the stationarity check is what catches it
    _, _, flags = classify_signal(noise, [ff_run], sr=SR)
    assert "its sound hardly changes" in next(f for f in flags if f["kind"] == "not-music")["message"]


def test_most_real_clips_of_the_train_part_pass_the_not_music_check(mini_features, ff_run):
    from mgc.runs import load_trust

    trust = load_trust(ff_run)
    fs = mini_features
    train_tracks = ff_run.manifest["split"]["track_ids"]["train"]
    flagged = [
        t
        for t in train_tracks
        if any(trust.music_check(fs.X[fs.track_ids == t])[k] for k in ("atypical", "stationary"))
    ]
    assert len(train_tracks) == 152
    assert len(flagged) <= 0.1 * len(train_tracks), flagged  # at least 90 % pass


def test_a_real_clip_classified_from_its_file_is_checked_like_its_features(mini, mini_features, ff_run):
    """The clip path (decode, windows) and the extracted features give the same not-music scores."""
    from mgc.runs import load_trust

    trust = load_trust(ff_run)
    res = classify(mini / "genres" / "rock" / "rock.00000.flac", [ff_run])
    check = trust.music_check(mini_features.X[mini_features.track_ids == "rock.00000"])
    assert ("not-music" in _kinds(res.flags)) == (check["atypical"] or check["stationary"])
    assert len(res.starts) == 10 and res.answers[0].classes == list(mini_features.classes)
