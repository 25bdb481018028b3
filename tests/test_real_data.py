"""Real-data tier: the GTZAN subset and librosa's recordings under ../shared/data.

Skipped with a clear reason (the ``shared_data`` fixture) when that folder is absent,
as it is in a user's clone. The 135-clip extraction is cached in pytest's cache folder
(``.pytest_cache``) so that only the first run pays for it; the cache checks every
file's size and modification time, and the exactness test below always recomputes.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from mgc import audio
from mgc.dataset import fault_filtered_lists, find_tracks, make_split
from mgc.errors import AudioError, DatasetError
from mgc.extract import extract_dataset
from mgc.features import clip_windows, track_segments

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
    return extract_dataset(mini, classes=["classical", "jazz", "rock"], cache_dir=cache_dir)


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
    counts = ds.counts()
    assert (counts["classical"], counts["jazz"], counts["rock"]) == (48, 43, 44)
    assert all(counts[g] == 1 for g in ("blues", "country", "disco", "hiphop", "metal", "pop", "reggae"))


# --------------------------------------------------------------------------- #
# Extraction over the three big genres
# --------------------------------------------------------------------------- #
def test_extract_three_genres(mini_features):
    fs = mini_features
    assert fs.classes == ("classical", "jazz", "rock")
    assert fs.n_tracks == 134
    assert fs.X.ndim == 3 and fs.X.shape[1:] == (130, 13) and fs.X.dtype == np.float32
    assert 1330 <= len(fs.X) <= 1340  # 10 segments per clip, minus clips a few ms short of 30 s
    assert {c: v["tracks"] for c, v in fs.counts().items()} == {"classical": 48, "jazz": 42, "rock": 44}
    assert [s.track_id for s in fs.skipped] == ["jazz.00054"]
    assert fs.skipped[0].path == "jazz/jazz.00054.wav"
    assert "not a readable audio file" in fs.skipped[0].reason
    assert np.all(np.isfinite(fs.X))
    for tid in np.unique(fs.track_ids):
        assert (fs.track_ids == tid).sum() >= 9


@pytest.mark.parametrize("rel", [
    "genres/classical/classical.00030.flac",
    "genres/jazz/jazz.00000.flac",
    "genres/rock/rock.00000.flac",
])
def test_exact_against_librosa_on_real_clips(mini, rel):
    y, sr = librosa.load(mini / rel, sr=SR)
    assert sr == SR
    np.testing.assert_array_equal(audio.load(mini / rel), y)  # same decode as librosa's
    X, seg = track_segments(y)
    assert len(X) >= 9
    for row, d in zip(X, seg):
        ref = librosa.feature.mfcc(y=y[d * L:(d + 1) * L], sr=SR, n_mfcc=13, n_fft=2048, hop_length=512).T
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


def test_fault_filtered_split_on_the_subset_names_the_empty_parts(mini_features):
    fs = mini_features
    assert set(fs.track_ids) <= fault_filtered_lists()["train"]  # the subset is train-list tracks only
    with pytest.raises(DatasetError) as e:
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids)
    msg = str(e.value)
    assert "'fault-filtered' split leaves its test and validation part empty" in msg
    assert "134 tracks" in msg and "'track' split" in msg


def test_track_split_works_on_the_subset(mini_features):
    fs = mini_features
    s = make_split("track", y=fs.y, track_ids=fs.track_ids, seed=0)
    sides = [set(fs.track_ids[p]) for p in (s.train, s.validation, s.test)]
    assert not (sides[0] & sides[2]) and not (sides[0] & sides[1]) and not (sides[1] & sides[2])
    assert len(sides[2]) == 12 + 10 + 11  # round(0.25 * 48), round(0.25 * 42), round(0.25 * 44)


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
