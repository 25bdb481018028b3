"""FMA as a dataset layout: ``fma_<subset>/NNN/NNNNNN.mp3``, ``tracks.csv`` labels, the ``fma-official`` split.

The tree is made at test time: synthetic clips written as real MP3 files at 44.1 kHz
stereo (FMA's format; soundfile's bundled libsndfile >= 1.1 encodes MP3), and a
``tracks.csv`` with FMA's three header rows.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mgc.audio import decode
from mgc.dataset import (
    OfficialSplit,
    dataset_survey,
    find_tracks,
    make_split,
    read_tracks_csv,
    suggested_split,
)
from mgc.errors import DatasetError
from tests.conftest import _clip, write_tiny_dataset

FMA_SR = 44100
GENRES = {"Folk": "tones", "Rock": "noise"}
#: (part, tracks per genre): enough test and validation tracks for the split's minimum of 10.
PARTS = (("training", 6), ("validation", 5), ("test", 5))

# what tracks.csv looks like: a top-level group per column, then the field, then the index name alone
HEADER = [
    ("album", "comments"),
    ("album", "id"),
    ("album", "title"),
    ("artist", "id"),
    ("artist", "name"),
    ("set", "split"),
    ("set", "subset"),
    ("track", "bit_rate"),
    ("track", "genre_top"),
    ("track", "genres"),
    ("track", "title"),
]


def _mp3(path: Path, kind: str, i: int, seconds: float = 4.0) -> None:
    left = _clip(kind, i, FMA_SR, seconds)
    right = _clip(kind, i + 500, FMA_SR, seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.stack([left, right], axis=1), FMA_SR, format="MP3", subtype="MPEG_LAYER_III")


def write_fma(root: Path, *, subset: str = "small") -> dict:
    """A tiny FMA: ``root/fma_<subset>/`` and ``root/fma_metadata/tracks.csv``. Returns what was written."""
    audio = root / f"fma_{subset}"
    rows, truth = [], {}
    tid = 2
    for g, (genre, kind) in enumerate(GENRES.items()):
        for part, n in PARTS:
            for _ in range(n):
                _mp3(audio / f"{tid:06d}"[:3] / f"{tid:06d}.mp3", kind, tid)
                rows.append((tid, part, subset, genre))
                truth[f"{tid:06d}"] = (genre, part)
                tid += 1 + g  # ids with gaps, as FMA's have
    # a track without a top genre (audio present), a corrupt MP3, a listed track whose audio is missing,
    # a medium-only track (not expected in fma_small), and an audio file tracks.csv does not list
    no_genre, corrupt, missing, medium, unlisted = 140, 141, 142, 150, 160
    _mp3(audio / "000" / f"{no_genre:06d}.mp3", "clicks", no_genre)
    rows.append((no_genre, "training", subset, ""))
    (audio / "000" / f"{corrupt:06d}.mp3").write_bytes(b"ID3\x03\x00" + bytes(range(256)) * 40)
    rows.append((corrupt, "test", subset, "Rock"))
    rows.append((missing, "training", subset, "Folk"))
    rows.append((medium, "training", "medium", "Folk"))
    _mp3(audio / "000" / f"{unlisted:06d}.mp3", "tones", unlisted)
    meta = root / "fma_metadata"
    meta.mkdir(parents=True, exist_ok=True)
    with open(meta / "tracks.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([""] + [g for g, _ in HEADER])
        w.writerow([""] + [c for _, c in HEADER])
        w.writerow(["track_id"] + [""] * len(HEADER))
        for t, part, sub, genre in rows:
            # free text with commas, quotes and a line break, as FMA's titles and comments hold
            w.writerow([t, 0, t // 7, f'Album "{t}", vol.\n2', t // 3, f"Artist {t // 3}", part, sub, 256000, genre,
                        "[12, 17]" if genre else "[]", f"Song {t}, live"])  # fmt: skip
    return {"truth": truth, "no_genre": no_genre, "corrupt": corrupt, "missing": missing, "unlisted": unlisted}


@pytest.fixture(scope="module")
def fma_tree(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("fma")
    return root, write_fma(root)


def test_tracks_csv_reads_as_pandas_reads_fmas_header(fma_tree):
    pd = pytest.importorskip("pandas")
    root, _ = fma_tree
    path = root / "fma_metadata" / "tracks.csv"
    ours = read_tracks_csv(path)
    theirs = pd.read_csv(path, index_col=0, header=[0, 1])  # how FMA's own utils read it
    assert theirs.index.name == "track_id"
    assert sorted(ours) == [f"{i:06d}" for i in theirs.index]
    for i, row in theirs.iterrows():
        t = ours[f"{i:06d}"]
        genre = row[("track", "genre_top")]
        assert t.genre_top == ("" if pd.isna(genre) else genre)
        assert (t.split, t.subset) == (row[("set", "split")], row[("set", "subset")])


def test_tracks_csv_with_another_header_is_refused(tmp_path):
    bad = tmp_path / "tracks.csv"
    bad.write_text("track_id,genre_top,split\n2,Folk,training\n")
    with pytest.raises(DatasetError, match="three header rows|third row"):
        read_tracks_csv(bad)
    bad.write_text(",track,set\n,title,split\ntrack_id,,\n2,x,training\n")
    with pytest.raises(DatasetError, match=r"no column track\.genre_top, set\.subset"):
        read_tracks_csv(bad)
    bad.write_text(",track,set,set\n,genre_top,split,subset\ntrack_id,,,\nabc,Folk,training,small\n")
    with pytest.raises(DatasetError, match="line 4: track id 'abc' is not a number"):
        read_tracks_csv(bad)


@pytest.mark.parametrize("named", ["root", "audio folder"])
def test_find_tracks_reads_fma_layout(fma_tree, named):
    root, made = fma_tree
    ds = find_tracks(root if named == "root" else root / "fma_small")
    truth = made["truth"]
    assert ds.layout == "fma"
    assert ds.genres_dir == (root / "fma_small").resolve()
    assert ds.classes == ("Folk", "Rock")
    # every track with a top genre and a file: the corrupt one too (it is judged when decoded)
    expected = {**{t: g for t, (g, _) in truth.items()}, f"{made['corrupt']:06d}": "Rock"}
    assert {t.track_id: t.label for t in ds.tracks} == expected
    assert [t.label for t in ds.tracks] == sorted(t.label for t in ds.tracks)
    first = next(t for t in ds.tracks if t.track_id == "000002")
    assert ds.relpath(first) == "000/000002.mp3"
    ignored = "\n".join(ds.ignored)
    assert f"000/{made['no_genre']:06d}.mp3: track {made['no_genre']:06d} has no track.genre_top" in ignored
    assert f"track {made['missing']:06d}: listed in tracks.csv for fma_small, but its audio file is missing" in ignored
    assert f"000/{made['unlisted']:06d}.mp3: track {made['unlisted']:06d} is not listed in tracks.csv" in ignored
    assert "000150" not in ignored  # a medium-only track is not expected in fma_small
    assert len(ds.ignored) == 3
    assert ds.official.subset == "small"
    assert {t: ds.official.parts[t] for t in truth} == {
        t: {"training": "train", "validation": "validation", "test": "test"}[p] for t, (_, p) in truth.items()
    }


def test_fma_folder_without_metadata_or_with_two_subsets_is_refused(tmp_path):
    _mp3(tmp_path / "fma_small" / "000" / "000002.mp3", "tones", 2)
    with pytest.raises(DatasetError, match=r"no fma_metadata/tracks\.csv was found"):
        find_tracks(tmp_path)
    (tmp_path / "fma_medium").mkdir()
    with pytest.raises(DatasetError, match="several FMA audio folders"):
        find_tracks(tmp_path)


def test_fma_mp3_decodes_to_mono_22050(fma_tree):
    root, _ = fma_tree
    path = root / "fma_small" / "000" / "000002.mp3"
    assert sf.info(str(path)).samplerate == FMA_SR and sf.info(str(path)).channels == 2
    d = decode(path, sr=22050)
    assert (d.sr, d.native_sr, d.channels, d.y.ndim, d.y.dtype) == (22050, FMA_SR, 2, 1, np.float32)
    assert abs(d.duration - 4.0) < 0.06  # libsndfile drops the encoder's delay and padding
    # the mono mix-down of the two channels at the new rate: the clip's strongest tone survives
    mix = (_clip("tones", 2, FMA_SR, 4.0) + _clip("tones", 502, FMA_SR, 4.0)) / 2
    spec_in = np.abs(np.fft.rfft(mix))
    f_in = np.fft.rfftfreq(len(mix), 1 / FMA_SR)[np.argmax(spec_in)]
    f_out = np.fft.rfftfreq(len(d.y), 1 / 22050)[np.argmax(np.abs(np.fft.rfft(d.y)))]
    assert abs(f_out - f_in) < 1.0


def test_survey_reports_the_corrupt_mp3(fma_tree):
    root, made = fma_tree
    table = dataset_survey(find_tracks(root)).table
    bad = table[table["error"] != ""]
    assert bad["track_id"].tolist() == [f"{made['corrupt']:06d}"]
    assert bad["file"].tolist() == [f"000/{made['corrupt']:06d}.mp3"]
    assert (table[table["error"] == ""]["samplerate"] == FMA_SR).all()


def test_cli_info_on_fma(fma_tree, capsys):
    from mgc.cli import main

    root, made = fma_tree
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "(33 tracks, 2 classes)" in out
    assert f"000/{made['corrupt']:06d}.mp3:" in out
    assert "has no track.genre_top" in out and "its audio file is missing" in out


@pytest.fixture(scope="module")
def fma_features(fma_tree, tmp_path_factory):
    from mgc.features import extract_dataset

    root, _ = fma_tree
    return extract_dataset(root, workers=1, cache_dir=tmp_path_factory.mktemp("cache"))


def test_extraction_on_fma_skips_the_corrupt_file_and_keeps_the_split(fma_features, fma_tree, tmp_path):
    from mgc.features import FeatureSet

    _, made = fma_tree
    fs = fma_features
    assert fs.classes == ("Folk", "Rock")
    assert set(fs.track_ids) == set(made["truth"])
    assert [s.track_id for s in fs.skipped] == [f"{made['corrupt']:06d}"]
    assert fs.X.shape[1:] == (130, 13) and np.all(np.isfinite(fs.X))
    assert set(fs.official.parts) == set(made["truth"])  # the skipped track is no part of it
    back = FeatureSet.load(fs.save(tmp_path / "fma.npz"))
    assert back.official == fs.official


def test_fma_official_split_follows_tracks_csv(fma_features, fma_tree):
    _, made = fma_tree
    fs = fma_features
    assert suggested_split(fs.track_ids, official=fs.official) == "fma-official"
    split = make_split("fma-official", y=fs.y, track_ids=fs.track_ids, official=fs.official, classes=fs.classes)
    want = {"train": "training", "validation": "validation", "test": "test"}
    for part in ("train", "validation", "test"):
        ids = set(fs.track_ids[getattr(split, part)])
        assert ids == {t for t, (_, p) in made["truth"].items() if p == want[part]}
    assert split.label == "fma-official"
    assert split.settings["subset"] == "small" and "set.split" in split.settings["lists"]
    again = make_split("fma-official", y=fs.y, track_ids=fs.track_ids, official=fs.official, seed=7)
    assert np.array_equal(again.test, split.test)  # a list, not a draw: the seed changes nothing

    on_valid = make_split(
        "fma-official", y=fs.y, track_ids=fs.track_ids, official=fs.official, evaluate_on="valid", validation_size=0.4
    )
    assert on_valid.label == "fma-official (tested on valid)"
    assert set(fs.track_ids[on_valid.test]) == {t for t, (_, p) in made["truth"].items() if p == "validation"}
    held = set(fs.track_ids[on_valid.validation])
    assert held and held <= {t for t, (_, p) in made["truth"].items() if p == "training"}
    assert not held & set(fs.track_ids[on_valid.train])


def test_protocols_refuse_the_other_datasets_tracks(fma_features, tmp_path):
    from mgc.features import extract_dataset

    fs = fma_features
    with pytest.raises(DatasetError, match="lists GTZAN tracks.*these are FMA tracks.*use 'fma-official'"):
        make_split("fault-filtered", y=fs.y, track_ids=fs.track_ids, official=fs.official)
    gtzan = extract_dataset(write_tiny_dataset(tmp_path, per_class=4, seconds=4.0), workers=1)
    assert gtzan.official is None
    with pytest.raises(DatasetError, match="needs FMA's own split.*use 'fault-filtered' on GTZAN"):
        make_split("fma-official", y=gtzan.y, track_ids=gtzan.track_ids, official=gtzan.official)
    # the other protocols work on FMA unchanged
    assert make_split("track", y=fs.y, track_ids=fs.track_ids, official=fs.official, test_size=0.5).name == "track"


def test_fma_official_refuses_a_selection_without_a_test_part():
    official = OfficialSplit(protocol="fma-official", subset="small", parts={f"{i:06d}": "train" for i in range(20)})
    ids = np.repeat([f"{i:06d}" for i in range(20)], 2)
    with pytest.raises(DatasetError, match="leaves its .*test part empty: FMA's set.split puts none"):
        make_split("fma-official", y=np.arange(40) % 2, track_ids=ids, official=official)


@pytest.mark.slow
def test_train_page_on_an_fma_folder_offers_the_fma_split(fma_tree, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root, _ = fma_tree
    monkeypatch.setenv("MGC_DATA_DIR", str(root))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=180)
    at.switch_page("views/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    classes = next(m for m in at.multiselect if m.label == "Classes")
    assert sorted(classes.value) == ["Folk", "Rock"]
    next(b for b in at.button if b.label == "Extract features").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    done = [s.value for s in at.success]
    assert any("from 32 tracks, 2 classes" in s for s in done), done
    split = next(r for r in at.radio if r.label == "Split")
    assert "fma-official" in split.options and split.value == "fma-official"
