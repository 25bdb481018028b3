"""Split a feature table into train / validation / test: the protocols.

Splits (all seeded and reproducible) work on rows of a feature table, one row per
segment, with the row's label and track id:

``segment``
    The study's protocol: a random split over segments. The study's text says 30%
    of the data trained and 70% tested; the public tutorial code it follows holds
    out 0.25 for test, then 0.2 of the rest for validation (our defaults). Segments
    of one song land on both sides, so its test accuracy is inflated (leakage).
``track``
    Stratified by class and grouped by track: no track on both sides.
``fault-filtered``
    The artist-conditional, duplicate-free GTZAN partition of Kereliuk, Sturm and
    Larsen (2015), embedded in ``mgc/dataset/data/fault_filtered``: no artist is on both
    sides, so it is the honest protocol for GTZAN. Tracks missing on disk are
    skipped; tracks in none of its lists (the 70 faulty ones) are left out. When a
    dataset lacks the test part (a subset, or a test set held out on purpose), the
    split is *tested on valid*: the valid list becomes the test part, and the
    validation part (for early stopping and selection) is drawn from the train
    list, grouped by track; test-list tracks present are then left unused.
``fma-official``
    The Free Music Archive's own split (``set.split`` of ``fma_metadata/tracks.csv``:
    training / validation / test, 80/10/10, artist-filtered), carried by the dataset
    (:class:`mgc.dataset.fma.OfficialSplit`): the honest protocol for FMA, as
    ``fault-filtered`` is for GTZAN. Each refuses the other's data. *Tested on valid*
    works as for ``fault-filtered``: the validation part becomes the test part and
    validation is drawn from the training part, by track.

Whatever the protocol, a test part of fewer than :data:`MIN_TEST_TRACKS` tracks is
refused (with the counts per class), and a class with fewer than
:data:`THIN_CLASS_TRACKS` test tracks is *thin*: its recall rests on one or two
songs, and tables mark it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..config import GTZAN_GENRES
from ..errors import DatasetError, ParameterError
from .fma import OfficialSplit

SPLITS = ("segment", "track", "fault-filtered", "fma-official")
#: The protocols whose parts come from lists (embedded, or the dataset's own), not from a seeded draw.
LISTED_SPLITS = ("fault-filtered", "fma-official")
#: What a fault-filtered split is evaluated on: the test list, the valid list, or whichever the data allows.
EVALUATE_ON = ("auto", "test", "valid")
#: A test part with fewer tracks than this (in all) means nothing and is refused.
MIN_TEST_TRACKS = 10
#: A class with fewer test tracks than this is marked wherever its recall is shown.
THIN_CLASS_TRACKS = 3


@dataclass(frozen=True)
class Split:
    """Row indices of the three parts of a split.

    Attributes
    ----------
    name : str
        One of :data:`SPLITS`.
    train, validation, test : np.ndarray [shape=(n,), dtype=int64]
        Row indices into the feature table.
    settings : dict
        The arguments that made it (fractions, seed).
    """

    name: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    settings: dict

    def sizes(self) -> dict[str, int]:
        """Rows per part."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    @property
    def label(self) -> str:
        """The protocol as tables name it, e.g. ``fault-filtered (tested on valid)``."""
        return protocol_label(self.name, self.settings)


def protocol_label(name: str, settings: dict | None = None) -> str:
    """``name``, with ``(tested on valid)`` for a fault-filtered or fma-official split evaluated on its valid
    list and ``(refit on train + valid)`` for a refit that has no test part of its own."""
    settings = settings or {}
    if settings.get("refit_of"):
        return f"{name} (refit on train + valid)"
    if name in LISTED_SPLITS and settings.get("evaluated_on") == "valid":
        return f"{name} (tested on valid)"
    return name


def thin_classes(test_tracks: dict[str, int]) -> list[str]:
    """Classes present in a test part with fewer than :data:`THIN_CLASS_TRACKS` tracks (absent ones excluded)."""
    return [c for c, n in test_tracks.items() if 0 < n < THIN_CLASS_TRACKS]


def fault_filtered_lists() -> dict[str, frozenset[str]]:
    """The embedded Kereliuk/Sturm lists: part name -> track ids."""
    base = resources.files("mgc.dataset") / "data" / "fault_filtered"
    out = {}
    for part, fname in (("train", "train.txt"), ("validation", "valid.txt"), ("test", "test.txt")):
        text = (base / fname).read_text()
        out[part] = frozenset(line.strip() for line in text.splitlines() if line.strip())
    return out


def faulty_tracks(track_ids) -> set[str]:
    """Which of ``track_ids`` are GTZAN tracks in none of the fault-filtered lists: the 70 faulty ones.

    Sturm (2013) found GTZAN's faults: repetitions, recordings of one song twice,
    mislabellings and distortions; the fault-filtered lists leave those tracks out.
    A track counts as faulty only when it is named as GTZAN names tracks
    (``<genre>.000NN`` with one of GTZAN's ten genres) and is absent from all three
    lists; other collections have none.

    Parameters
    ----------
    track_ids : iterable of str

    Returns
    -------
    set of str
    """
    lists = fault_filtered_lists()
    listed = lists["train"] | lists["validation"] | lists["test"]
    out = set()
    for t in map(str, track_ids):
        genre, _, number = t.partition(".")
        if genre in GTZAN_GENRES and len(number) == 5 and number.isdigit() and t not in listed:
            out.add(t)
    return out


def suggested_split(track_ids, *, official: OfficialSplit | None = None) -> str:
    """``fault-filtered`` when at least :data:`MIN_TEST_TRACKS` of ``track_ids`` are in its valid or test list
    (GTZAN, or a subset of it), else ``track``; ``segment`` when some track id is unknown (``""``: features
    imported from the study's JSON, where only the segment split works); the dataset's own split
    (``official.protocol``, e.g. ``fma-official``) when it has one that tests or validates on at least
    :data:`MIN_TEST_TRACKS` of the tracks."""
    lists = fault_filtered_lists()
    ids = set(map(str, track_ids))
    if "" in ids:
        return "segment"
    if official is not None:
        held = [sum(official.parts.get(t) == part for t in ids) for part in ("test", "validation")]
        return official.protocol if max(held) >= MIN_TEST_TRACKS else "track"
    usable = max(len(ids & lists["test"]), len(ids & lists["validation"]))
    return "fault-filtered" if usable >= MIN_TEST_TRACKS else "track"


def _check_fraction(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value < 1):
        raise ParameterError(f"{name}={value!r} must be a fraction in [0, 1)")


def _segment_split(n: int, test_size: float, validation_size: float, rng) -> tuple:
    order = rng.permutation(n)
    n_test = int(round(test_size * n))
    n_val = int(round(validation_size * (n - n_test)))
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def _track_split(y, track_ids, test_size, validation_size, rng) -> tuple:
    parts = {"train": [], "validation": [], "test": []}
    for label in np.unique(y):
        ids = np.unique(track_ids[y == label])
        ids = ids[rng.permutation(len(ids))]
        n_test = int(round(test_size * len(ids)))
        n_val = int(round(validation_size * (len(ids) - n_test)))
        parts["test"].extend(ids[:n_test])
        parts["validation"].extend(ids[n_test : n_test + n_val])
        parts["train"].extend(ids[n_test + n_val :])
    return tuple(np.flatnonzero(np.isin(track_ids, parts[k])) for k in ("train", "validation", "test"))


def make_split(
    name: str,
    *,
    y: np.ndarray,
    track_ids: np.ndarray,
    test_size: float = 0.25,
    validation_size: float = 0.2,
    seed: int = 0,
    evaluate_on: str = "auto",
    classes=None,
    official: OfficialSplit | None = None,
) -> Split:
    """Split the rows of a feature table.

    Parameters
    ----------
    name : {'segment', 'track', 'fault-filtered', 'fma-official'}
        The protocol (see the module docstring).
    y : np.ndarray [shape=(n,)]
        Class index of each row.
    track_ids : np.ndarray [shape=(n,)]
        Track id of each row (``""`` where unknown: only the segment split works then).
    test_size : float in [0, 1)
        Fraction held out for test (of segments or of each class's tracks).
        Ignored by ``fault-filtered`` and ``fma-official``.
    validation_size : float in [0, 1)
        Fraction of the rest held out for validation. ``fault-filtered`` and
        ``fma-official`` use it only when tested on valid (the fraction of each
        class's train-list tracks held out for validation).
    seed : int
        Seeds the shuffle; the same seed gives the same split.
    evaluate_on : {'auto', 'test', 'valid'}
        ``fault-filtered`` and ``fma-official`` only: evaluate on the test list, on
        the valid list, or (``auto``) on the test list when it holds at least
        :data:`MIN_TEST_TRACKS` of the dataset's tracks, else on the valid list.
    classes : sequence of str or None
        Class names, for messages only (indices otherwise).
    official : OfficialSplit or None
        The dataset's own split (:attr:`mgc.dataset.Dataset.official`, kept by the
        features as ``FeatureSet.official``): required by ``fma-official``; its
        presence makes ``fault-filtered`` refuse (its lists name GTZAN tracks).

    Returns
    -------
    Split

    Raises
    ------
    ParameterError
        Unknown ``name`` or ``evaluate_on``, or a fraction out of range.
    DatasetError
        ``fma-official`` without an FMA split (a GTZAN dataset), ``fault-filtered``
        on FMA tracks, a part the training needs (train, test, and validation when asked for) is
        empty, or the test part holds fewer than :data:`MIN_TEST_TRACKS` tracks;
        the message says which and why, with the counts per class.
    """
    if name not in SPLITS:
        raise ParameterError(f"split={name!r} is not one of {', '.join(SPLITS)}")
    if evaluate_on not in EVALUATE_ON:
        raise ParameterError(f"evaluate_on={evaluate_on!r} is not one of {', '.join(EVALUATE_ON)}")
    _check_fraction("test_size", test_size)
    _check_fraction("validation_size", validation_size)
    y = np.asarray(y)
    track_ids = np.asarray(track_ids).astype(str)
    if len(y) != len(track_ids):
        raise ParameterError(f"y has {len(y)} rows but track_ids has {len(track_ids)}")
    if len(y) == 0:
        raise DatasetError("the feature table is empty: no segment to split")
    rng = np.random.default_rng(seed)
    settings = {"test_size": test_size, "validation_size": validation_size, "seed": seed}
    if name != "segment" and np.any(track_ids == ""):
        raise DatasetError(
            f"the {name!r} split needs a track id for every segment, and these features have none "
            "(imported from the study's JSON layout?); use the 'segment' split or extract from audio"
        )
    _check_protocol_fits(name, official)
    if name == "segment":
        parts = _segment_split(len(y), test_size, validation_size, rng)
    elif name == "track":
        parts = _track_split(y, track_ids, test_size, validation_size, rng)
    else:
        if name == "fault-filtered":
            lists, citation = fault_filtered_lists(), "Kereliuk, Sturm & Larsen (2015)"
        else:
            lists, citation = _official_lists(official), official.source
        parts, settings = _listed(lists, citation, y, track_ids, validation_size, rng, evaluate_on)
        if name == "fma-official":
            settings["subset"] = official.subset
        settings["seed"] = seed
    train, validation, test = (np.sort(p).astype(np.int64) for p in parts)
    split = Split(name=name, train=train, validation=validation, test=test, settings=settings)
    validation_needed = validation_size > 0 or (name in LISTED_SPLITS and settings["evaluated_on"] == "test")
    _check_parts(split, n_tracks=len(np.unique(track_ids)), validation_needed=validation_needed)
    _check_test_size(split, y, track_ids, classes)
    return split


def _check_protocol_fits(name: str, official: OfficialSplit | None) -> None:
    """Refuse a listed protocol on the other dataset's tracks, saying which one fits."""
    if name == "fma-official" and (official is None or official.protocol != name):
        raise DatasetError(
            "split='fma-official' needs FMA's own split (set.split of fma_metadata/tracks.csv), and these tracks "
            "carry none (a GTZAN-style folder, or features saved without it): use 'fault-filtered' on GTZAN, "
            "or 'track'"
        )
    if name == "fault-filtered" and official is not None:
        raise DatasetError(
            f"split='fault-filtered' lists GTZAN tracks (Kereliuk, Sturm & Larsen 2015), and these are "
            f"{official.protocol.split('-')[0].upper()} tracks (fma_{official.subset}): use '{official.protocol}', "
            "their own artist-filtered split, or 'track'"
        )


def _official_lists(official: OfficialSplit) -> dict[str, frozenset[str]]:
    """An official split's parts as id lists, like :func:`fault_filtered_lists`."""
    return {
        part: frozenset(t for t, p in official.parts.items() if p == part) for part in ("train", "validation", "test")
    }


def _listed(lists, citation, y, track_ids, validation_size, rng, evaluate_on) -> tuple[tuple, dict]:
    present = {part: np.isin(track_ids, list(ids)) for part, ids in lists.items()}
    n_test_tracks = len(np.unique(track_ids[present["test"]]))
    if evaluate_on == "auto":
        evaluate_on = "test" if n_test_tracks >= MIN_TEST_TRACKS else "valid"
    settings = {"lists": citation, "evaluated_on": evaluate_on}
    if evaluate_on == "test":
        return tuple(np.flatnonzero(present[k]) for k in ("train", "validation", "test")), settings
    # tested on valid: the valid list is the test part; validation comes from the train list, by track
    on_train = np.flatnonzero(present["train"])
    fit, held, _ = _track_split(y[on_train], track_ids[on_train], 0.0, validation_size, rng)
    settings.update(validation_size=validation_size, unused_test_list_tracks=int(n_test_tracks))
    return (on_train[fit], on_train[held], np.flatnonzero(present["validation"])), settings


def tracks_per_class(y, track_ids, rows, classes=None) -> dict[str, int]:
    """Distinct tracks per class among ``rows`` (every class listed, 0 where absent); names from ``classes``."""
    names = list(classes) if classes is not None else [str(c) for c in range(int(y.max()) + 1)]
    out = {c: 0 for c in names}
    for tid in np.unique(track_ids[rows]):
        out[names[int(y[rows][track_ids[rows] == tid][0])]] += 1
    return out


def _check_test_size(split: Split, y, track_ids, classes) -> None:
    if split.name == "segment":
        return  # a random split over segments tests (almost) every track
    counts = tracks_per_class(y, track_ids, split.test, classes)
    total = sum(counts.values())
    if total >= MIN_TEST_TRACKS:
        return
    shown = ", ".join(f"{c} {n}" for c, n in counts.items())
    raise DatasetError(
        f"the {split.label!r} split tests only {total} track(s) ({shown}): fewer than {MIN_TEST_TRACKS} "
        "tracks in all mean nothing. Add tracks, or use another split"
        + (
            f" ({split.name} tests on its valid list when the test list is missing)"
            if split.name in LISTED_SPLITS
            else ""
        )
    )


def refit_split(
    *, track_ids: np.ndarray, twin_tracks: dict[str, list[str]], twin_id: str, name: str, tested_on_valid: bool = True
) -> Split:
    """All the tracks a train-only run used, train, validation and test alike, as one training part.

    A refit has no test part of its own: it carries the scores of its twin
    (``twin_id``), measured on the twin's test part before the refit heard it.

    Parameters
    ----------
    track_ids : np.ndarray [shape=(n,)]
        Track id of each row.
    twin_tracks : dict
        The twin's ``{"train": [...], "validation": [...], "test": [...]}`` track ids.
    twin_id : str
    name : str
        The twin's split name.
    tested_on_valid : bool
        The twin was tested on the fault-filtered valid list (its test part joins
        the refit: train + valid). Else its test part is a real held-out test
        set and stays out (the refit is then on train + validation only).

    Raises
    ------
    DatasetError
        None of the twin's tracks is in these features.
    """
    # the twin's test part joins only when it is the valid list (tested on valid): a test list stays held out
    parts = ("train", "validation", "test") if tested_on_valid else ("train", "validation")
    ids = sorted({t for part in parts for t in twin_tracks.get(part, [])})
    train = np.flatnonzero(np.isin(np.asarray(track_ids).astype(str), ids)).astype(np.int64)
    if len(train) == 0:
        raise DatasetError(
            f"none of the {len(ids)} tracks of run {twin_id!r} is in these features: nothing to refit on"
        )
    empty = np.zeros(0, np.int64)
    return Split(name=name, train=train, validation=empty, test=empty, settings={"refit_of": twin_id})


def track_folds(
    *,
    y: np.ndarray,
    track_ids: np.ndarray,
    n_folds: int = 5,
    validation_size: float = 0.2,
    seed: int = 0,
) -> list[Split]:
    """Stratified, grouped k-fold: ``n_folds`` track splits whose test parts partition the tracks.

    The test parts are those of ``sklearn.model_selection.StratifiedGroupKFold``
    (``shuffle=True``, ``random_state=seed``) over the rows, grouped by track and
    stratified by class: no track is split across folds, every track is tested
    exactly once, and every fold holds about ``1/n_folds`` of each class's
    segments (so of its tracks, when tracks have equal numbers of segments).
    Of the tracks outside a fold's test part, ``validation_size`` of each class
    (rounded, drawn with ``seed``) go to its validation part.

    Parameters
    ----------
    y, track_ids : np.ndarray [shape=(n,)]
        Class index and track id of each row.
    n_folds : int >= 2
    validation_size : float in [0, 1)
    seed : int

    Returns
    -------
    list of Split
        Named ``'track'``; ``settings`` holds ``fold`` (0-based), ``n_folds``,
        ``validation_size`` and ``seed``.

    Raises
    ------
    ParameterError
        ``n_folds`` is not an integer >= 2, a fraction is out of range, or the
        arrays differ in length.
    DatasetError
        A class has fewer tracks than folds (some fold would not test it), or a
        part is empty.

    Notes
    -----
    Until this function used scikit-learn, each class's tracks were shuffled and
    dealt to the folds in turn (balancing tracks rather than segments; for tracks
    of equal length both give each fold as many test tracks of a class). The
    properties above are kept, but for a given ``seed`` the tracks land in other
    folds than they did then: folds made by the
    earlier code are not reproduced (:func:`mgc.training.cross_validate` refuses
    a stored result whose test tracks are not those of the fold it stands for).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ParameterError(f"n_folds={n_folds!r} must be an integer >= 2")
    _check_fraction("validation_size", validation_size)
    y = np.asarray(y)
    track_ids = np.asarray(track_ids).astype(str)
    if len(y) != len(track_ids):
        raise ParameterError(f"y has {len(y)} rows but track_ids has {len(track_ids)}")
    if len(y) == 0 or np.any(track_ids == ""):
        raise DatasetError("track folds need a non-empty feature table with a track id for every segment")
    for label in np.unique(y):
        n_tracks = len(np.unique(track_ids[y == label]))
        if n_tracks < n_folds:
            raise DatasetError(
                f"class {int(label)} has {n_tracks} track(s), fewer than n_folds={n_folds}: "
                "every fold must test every class; lower n_folds or add tracks"
            )
    folder = StratifiedGroupKFold(n_splits=int(n_folds), shuffle=True, random_state=seed)
    tests = [test for _, test in folder.split(np.zeros((len(y), 1)), y, groups=track_ids)]
    rng = np.random.default_rng(seed)
    n_tracks = len(np.unique(track_ids))
    out = []
    for k, test in enumerate(tests):
        is_test = np.zeros(len(y), bool)
        is_test[test] = True
        val_ids: list[str] = []
        for label in np.unique(y):  # validation: a share of each class's tracks outside this fold's test part
            rest = np.unique(track_ids[(y == label) & ~is_test])
            rest = rest[rng.permutation(len(rest))]
            val_ids.extend(rest[: int(round(validation_size * len(rest)))])
        is_val = np.isin(track_ids, val_ids) & ~is_test
        split = Split(
            name="track",
            train=np.flatnonzero(~is_test & ~is_val).astype(np.int64),
            validation=np.flatnonzero(is_val).astype(np.int64),
            test=np.sort(test).astype(np.int64),
            settings={"fold": k, "n_folds": int(n_folds), "validation_size": validation_size, "seed": seed},
        )
        _check_parts(split, n_tracks=n_tracks, validation_needed=validation_size > 0)
        out.append(split)
    return out


def _check_parts(split: Split, *, n_tracks: int, validation_needed: bool) -> None:
    needed = ["train", "test"] + (["validation"] if validation_needed else [])
    empty = [part for part in needed if split.sizes()[part] == 0]
    if not empty:
        return
    if split.name in LISTED_SPLITS and empty == ["validation"] and split.settings.get("evaluated_on") == "valid":
        raise DatasetError(
            f"the {split.label!r} split leaves its validation part empty: its classes have too few train-list "
            f"tracks to hold out validation_size={split.settings.get('validation_size')} of each; "
            "raise validation_size, or set it to 0 to train on all of them"
        )
    if split.name == "fma-official":
        why = (
            f"FMA's set.split puts none of this dataset's {n_tracks} tracks in that part (a few tracks of "
            "fma_<subset>, or one part only?). Use the 'track' split on such a selection"
        )
    elif split.name == "fault-filtered":
        lists = {"train": "train", "validation": "valid", "test": "test"}
        if split.settings.get("evaluated_on") == "valid":
            lists = {"train": "train", "validation": "train", "test": "valid"}
        named = sorted({lists[p] for p in empty})
        why = (
            f"none of this dataset's {n_tracks} tracks is in the fault-filtered {' or '.join(named)} list(s) "
            "(GTZAN track ids such as blues.00012 are needed, and a subset may hold tracks of one part only). "
            "Use the 'track' split on such a subset"
        )
    elif split.name == "track":
        why = (
            f"there are too few tracks per class ({n_tracks} tracks in all) for the fractions asked; "
            "add tracks or raise the fractions"
        )
    else:
        why = "there are too few segments for the fractions asked"
    raise DatasetError(f"the {split.name!r} split leaves its {' and '.join(empty)} part empty: {why}")
