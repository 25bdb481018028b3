"""The run store: one folder per training run under ``artifacts/runs/<id>/``.

A run folder holds ``manifest.json`` (what data, split, parameters, versions,
times and status), ``model.keras`` (weights, no optimizer state; loaded with
``safe_mode=True``), ``history.json`` (per-epoch curves), ``metrics.json`` (test
metrics) and ``predictions.npz`` (per-segment test probabilities; loaded with
``allow_pickle=False``). A run is written to a hidden temporary folder and renamed
into place, so a half-written run is never listed. A damaged run is reported by
:func:`list_runs`, never fatal.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..backend import keras_module
from ..config import GTZAN_GENRES, MODEL_NAMES, artifacts_dir, model_title
from ..errors import ArtifactError, ParameterError

FILES = ("manifest.json", "model.keras", "history.json", "metrics.json", "predictions.npz")
#: Written after the run (by :func:`mgc.runs.trust.fit_trust`); a run without it still loads.
OPTIONAL_FILES = ("trust.json",)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def runs_dir(path: str | os.PathLike | None = None) -> Path:
    """The runs folder: ``path`` or ``artifacts/runs``."""
    return Path(path) if path else artifacts_dir() / "runs"


def check_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe folder name (letters, digits, ``. _ -``), else raise."""
    if not isinstance(run_id, str) or not _ID.match(run_id) or ".." in run_id:
        raise ParameterError(
            f"run id {run_id!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return run_id


@dataclass
class Run:
    """A stored run. ``history``, ``metrics`` and ``manifest`` are loaded eagerly; the model lazily."""

    id: str
    path: Path
    manifest: dict
    history: dict
    metrics: dict
    _model: object = field(default=None, repr=False)

    @property
    def model_name(self) -> str:
        return self.manifest["model"]

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["dataset"]["classes"])

    @property
    def protocol(self) -> str:
        """The split as tables name it: ``segment``, ``track``, ``fault-filtered (tested on valid)``, ..."""
        split = self.manifest["split"]
        return split.get("label") or split["name"]

    @property
    def score(self) -> float | None:
        """Track accuracy on the run's test part (its twin's, for a refit), None without track ids."""
        return self.metrics.get("track_accuracy_mean")

    @property
    def score_text(self) -> str:
        """``track acc 0.62, balanced 0.48 (of gtzan10-ff-improved-cnn)``: the score and where it comes from."""
        m = self.metrics
        if m.get("track_accuracy_mean") is None:
            text = f"segment acc {m['segment_accuracy']:.2f}"
        else:
            text = f"track acc {m['track_accuracy_mean']:.2f}"
            if m.get("track_balanced_accuracy") is not None:
                text += f", balanced {m['track_balanced_accuracy']:.2f}"
        source = self.manifest.get("metrics_from")
        return text + (f" (its twin's: {source['run']})" if source else "")

    @property
    def label(self) -> str:
        """What a run picker shows, e.g.
        ``CNN · fault-filtered (tested on valid) · improved · 10 classes · track acc 0.62, balanced 0.48 · <id>``."""
        m = self.manifest
        status = "" if m.get("status") == "finished" else f" · {m.get('status')}"
        if m.get("stopped_by") == "interrupt":
            status += " (interrupted)"
        return (
            f"{model_title(m['model'])} · {self.protocol} · {self.recipe_label} · "
            f"{len(self.classes)} classes · {self.score_text}{status} · {self.id}"
        )

    @property
    def protocol_short(self) -> str:
        """The protocol in a word or two: ``segment``, ``track``, or for the fault-filtered split ``ff test``,
        ``ff valid`` (tested on its valid list) and ``ff refit`` (refit on train + valid)."""
        split = self.manifest["split"]
        if split["name"] != "fault-filtered":
            return split["name"]
        text = (split.get("label") or "").lower()
        return "ff refit" if "refit" in text else "ff valid" if "valid" in text else "ff test"

    @property
    def short_label(self) -> str:
        """A few words for a chip or a legend: ``'CNN · ff valid · improved'`` (see :func:`short_labels`).

        Network, protocol in short (``segment``, ``track``, ``ff valid``, ``ff test``, ``ff refit``),
        recipe (``*`` when overridden), the class count when it is not GTZAN's ten, and the
        status when the run did not finish (``stopped``).
        """
        m = self.manifest
        parts = [model_title(m["model"]).split(" (")[0], self.protocol_short, self.recipe_label]
        if len(self.classes) != len(GTZAN_GENRES):
            parts.append(f"{len(self.classes)} classes")
        if m.get("status") != "finished":
            parts.append(str(m.get("status")))
        return " · ".join(parts)

    @property
    def trained_on(self) -> str:
        """What the run heard: ``'GTZAN'`` (every class a GTZAN genre), ``'synthetic demo'`` (the demo dataset's
        styles, :mod:`mgc.dataset.demo`) or ``'other'``."""
        from ..dataset.demo import DEMO_STYLES

        classes = set(self.classes)
        if classes <= set(GTZAN_GENRES):
            return "GTZAN"
        return "synthetic demo" if classes <= set(DEMO_STYLES) else "other"

    @property
    def recipe_label(self) -> str:
        """The recipe's name, with ``*`` when some of its settings were overridden (the manifest's ``overrides``)."""
        return self.manifest["recipe"] + ("*" if self.manifest.get("overrides") else "")

    def model(self):
        """The Keras model (loaded once, ``safe_mode=True``, uncompiled)."""
        if self._model is None:
            path = self.path / "model.keras"
            if not zipfile.is_zipfile(path):  # Keras would call a file that is there but not a zip "not found"
                raise ArtifactError(
                    f"run {self.id!r}: model.keras could not be loaded safely: it is not a readable Keras archive "
                    f"(a .keras file is a zip; these {path.stat().st_size:,} bytes are not one, or one cut short): "
                    "the run is damaged, train it again"
                )
            keras = keras_module()
            try:
                self._model = keras.models.load_model(path, compile=False, safe_mode=True)
            except (OSError, ValueError, TypeError, KeyError) as e:
                raise ArtifactError(f"run {self.id!r}: model.keras could not be loaded safely: {e}") from e
        return self._model

    def predictions(self) -> dict[str, np.ndarray]:
        """Per-segment test predictions: ``track_ids``, ``segment_index``, ``y_true``, ``probs``."""
        try:
            with np.load(self.path / "predictions.npz", allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise ArtifactError(f"run {self.id!r}: predictions.npz is unreadable: {e}") from e


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"{path.parent.name}/{path.name} is missing or not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ArtifactError(f"{path.parent.name}/{path.name} does not hold a JSON object")
    return data


def load_run(run: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Run:
    """Load a run by id (a folder of ``root``) or, for anything that is not an id, by folder path.

    Raises
    ------
    ArtifactError
        Missing or damaged files.
    """
    text = str(run)
    if _ID.match(text) and ".." not in text:
        # an id names a folder of the runs folder, never one of the working folder
        path = runs_dir(root) / text
    else:
        path = Path(run)
        if not path.is_dir():
            raise ParameterError(
                f"run {text!r} is neither a run id (1-128 letters, digits, '.', '_' or '-') nor a run folder"
            )
    if not path.is_dir():
        raise ArtifactError(f"no run {text!r} in {runs_dir(root)}")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise ArtifactError(f"run {path.name!r} is incomplete: missing {', '.join(missing)}")
    manifest = _read_json(path / "manifest.json")
    for key in ("model", "dataset", "split", "recipe", "status"):
        if key not in manifest:
            raise ArtifactError(f"run {path.name!r}: manifest.json lacks {key!r}")
    return Run(
        id=path.name,
        path=path,
        manifest=manifest,
        history=_read_json(path / "history.json"),
        metrics=_read_json(path / "metrics.json"),
    )


def list_runs(root: str | os.PathLike | None = None) -> tuple[list[Run], list[str]]:
    """All runs under ``root``, newest first, and a message per folder that is not listed.

    A folder whose name is not a valid run id (:func:`check_id`) is reported and never
    listed: every run listed can be loaded again by its id (pickers, defaults, the CLI).
    Hidden folders (a run being written) are passed over.
    """
    base = runs_dir(root)
    runs, problems = [], []
    if not base.is_dir():
        return runs, problems
    for d in sorted(base.iterdir()):
        if not d.is_dir() or d.name.startswith("."):
            continue
        if not _ID.match(d.name) or ".." in d.name:
            problems.append(
                f"folder {d.name!r} in {base} is not a valid run id (1-128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit): not listed; rename it to use it"
            )
            continue
        try:
            runs.append(load_run(d))
        except ArtifactError as e:
            problems.append(str(e))
    runs.sort(key=lambda r: (r.manifest.get("created", ""), r.id), reverse=True)
    return runs, problems


#: How honest each protocol's test is, for choosing defaults: the artist-conditional split first.
PROTOCOL_RANK = {"fault-filtered": 2, "fma-official": 2, "track": 1, "segment": 0}
#: A run must score at least this many times chance to be offered as a default.
DEFAULT_MIN_OVER_CHANCE = 1.5


def default_classify_runs(runs: list[Run]) -> list[str]:
    """One run per network for the Classify page: the best scored on the most honest protocol.

    Only finished runs that score (track accuracy, else segment accuracy) at least
    :data:`DEFAULT_MIN_OVER_CHANCE` times chance are candidates. They are ranked by
    protocol (fault-filtered, then track, then segment: a leaky score never beats
    an honest one), then by balanced accuracy over tracks (the fair score with
    unequal classes; track accuracy for runs without it); at equal score a refit
    on train + valid (which carries its twin's score and heard more) wins. Never
    by name or date.

    When the best transfer run (beyond the study) outranks the best run of every
    study network, it alone is the default: the weaker networks would mostly
    disagree with it and mark every answer "not sure". They stay one choice away.

    Returns
    -------
    list of str
        Run ids, in the order mlp, cnn, lstm, transfer (networks with no candidate left
        out); only the transfer run when it outranks them all.
    """
    best: dict[str, tuple] = {}
    for r in runs:
        m = r.manifest
        score = r.score if r.score is not None else r.metrics.get("segment_accuracy", 0.0)
        if m.get("status") != "finished" or score < DEFAULT_MIN_OVER_CHANCE / max(1, len(r.classes)):
            continue
        fair = r.metrics.get("track_balanced_accuracy")
        if fair is None and r.metrics.get("track_confusion"):  # a run made before balanced accuracy was stored
            from .metrics import balanced

            fair = balanced(np.asarray(r.metrics["track_confusion"]))[0]
        rank = (
            PROTOCOL_RANK.get(m["split"]["name"], -1),
            round(score if fair is None else fair, 6),
            bool(m.get("metrics_from")),
        )
        if r.model_name not in best or rank > best[r.model_name][0]:
            best[r.model_name] = (rank, r.id)
    if "transfer" in best and all(best["transfer"][0] > rank for name, (rank, _) in best.items() if name != "transfer"):
        return [best["transfer"][1]]
    return [best[name][1] for name in MODEL_NAMES if name in best]


def default_result_runs(runs: list[Run]) -> list[str]:
    """The runs tagged ``reference`` (those that ship), else the newest three."""
    ref = [r.id for r in runs if "reference" in r.manifest.get("tags", [])]
    return sorted(ref) if ref else [r.id for r in runs[:3]]


def short_labels(runs: list[Run]) -> dict[str, str]:
    """Run id -> :attr:`Run.short_label`, made distinct: a label that several runs share gets each one's id.

    For pickers, whose chips cut long labels: every label here stays short, and no two are equal.
    """
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.short_label] = counts.get(r.short_label, 0) + 1
    return {r.id: r.short_label if counts[r.short_label] == 1 else f"{r.short_label} · {r.id}" for r in runs}


def group_by_classes(runs: list[Run]) -> dict[tuple[str, ...], list[Run]]:
    """Runs grouped by the tuple of classes they know (most classes first, then most runs)."""
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault(tuple(r.classes), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[0]), -len(kv[1]))))


def delete_run(run_id: str, *, root: str | os.PathLike | None = None) -> None:
    """Delete a run folder."""
    path = runs_dir(root) / check_id(run_id)
    if not path.is_dir():
        raise ArtifactError(f"no run {run_id!r} in {runs_dir(root)}")
    shutil.rmtree(path)


def save_run(
    run_id: str,
    *,
    manifest: dict,
    history: dict,
    metrics: dict,
    predictions: dict[str, np.ndarray],
    model,
    root: str | os.PathLike | None = None,
) -> Path:
    """Write a run atomically: into a hidden temporary folder, then renamed into place.

    The model is saved uncompiled (no optimizer state) as ``model.keras``.
    """
    base = runs_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    final = base / check_id(run_id)
    if final.exists():
        raise ArtifactError(f"run {run_id!r} exists already in {base}")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=base))
    try:
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        (tmp / "history.json").write_text(json.dumps(history))
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1))
        np.savez_compressed(tmp / "predictions.npz", **{k: np.asarray(v) for k, v in predictions.items()})
        model.save(tmp / "model.keras")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
