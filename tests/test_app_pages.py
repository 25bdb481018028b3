"""AppTest of the home page (``views/home.py``) and of the Train, Results and Classify pages.

Runs come from ``tiny_runs_artifacts`` (conftest: 2-epoch MLP, CNN and LSTM runs on the tiny
dataset, track split, made once per session). AppTest cannot upload files: the browser tests cover uploads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

# pages that load runs import TensorFlow, and most tests read the session's trained tiny runs
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # the first run of a page imports TensorFlow, slow on a loaded machine


def _run(page: str | None = None) -> AppTest:
    """Run the app at the home page, or at ``views/<page>.py`` (entered through ``app.py``, as in the server:
    ``app.py`` routes with ``st.navigation``, and a page runs only as one of its registered pages)."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=TIMEOUT)
    if page:
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


# --------------------------------------------------------------------------- #
# home
# --------------------------------------------------------------------------- #
def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_home_shows_dataset_runs_and_page_links(with_tiny_runs, tiny_dataset):
    at = _run()
    assert at.title[0].value == "GTZAN genre lab"
    assert any(str(tiny_dataset) in c.value for c in at.caption), [c.value for c in at.caption]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    metrics = _metrics(at)
    assert metrics["Tracks"] == "42" and metrics["Classes"] == "3" and metrics["Stored runs"] == "3", metrics
    # tracks per class as a table with a bar per class: no plotly chart, whose bundle took seconds in a new tab
    assert not at.get("plotly_chart")
    per_class = next(d.value for d in at.dataframe if "tracks" in d.value.columns)
    assert dict(zip(per_class["class"], per_class["tracks"], strict=True)) == {"clicks": 14, "noise": 14, "tones": 14}
    runs = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert sorted(runs["run"]) == ["tiny-cnn", "tiny-lstm", "tiny-mlp"]
    assert set(runs["model"]) == {"MLP", "CNN", "RNN-LSTM"}
    assert set(runs["protocol"]) == {"track"} and "split" not in runs.columns
    assert set(runs["trained on"]) == {"other (3)"}  # neither GTZAN's genres nor the demo's styles
    assert runs["balanced"].between(0, 1).all() and set(runs["epochs"]) == {"2"}
    assert not any("synthetic demo" in s.value for s in at.subheader)
    links = at.main.get("page_link")
    assert [link.proto.page for link in links] == ["explore", "train", "results", "classify"]  # url paths
    assert all(link.proto.label for link in links)
    menu = at._registered_pages.values()  # st.navigation's pages (AppTest has no public accessor for them)
    assert [page["url_pathname"] for page in menu] == ["", "explore", "train", "results", "classify"]


def test_home_without_a_dataset_draws_the_demo_and_the_runs_at_the_first_render(
    tiny_runs_artifacts, tmp_path, monkeypatch
):
    """No dataset configured: the demo is written on first use, and that same first render shows it, labelled as
    synthetic, beside the runs table (it used to show an empty Dataset section and no runs until a reload)."""
    from mgc.dataset.demo import DEMO_STYLES

    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.delenv("MGC_DATA_DIR", raising=False)
    at = _run()
    assert not at.error, [e.value for e in at.error]
    assert any(s.value == "Dataset: synthetic demo (not GTZAN)" for s in at.subheader), [s.value for s in at.subheader]
    assert any("synthetic demo dataset" in i and "not GTZAN" in i for i in _infos(at)), _infos(at)
    styles = next(d.value for d in at.dataframe if "style" in d.value.columns)
    assert sorted(styles["style"]) == sorted(DEMO_STYLES) and (styles["tracks"] > 0).all()
    runs = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert sorted(runs["run"]) == ["tiny-cnn", "tiny-lstm", "tiny-mlp"]


def test_home_without_runs_says_so(tiny_dataset, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run()
    assert _metrics(at)["Stored runs"] == "0"
    assert not any("run" in d.value.columns for d in at.dataframe)  # only the tracks per class
    assert any("No runs yet" in i for i in _infos(at))
    assert len(at.main.get("page_link")) == 4


def test_home_with_a_missing_dataset_shows_an_error_and_the_runs(with_tiny_runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tmp_path / "nowhere"))
    at = _run()
    assert at.error and "nowhere" in at.error[0].value, [e.value for e in at.error]
    assert _metrics(at)["Stored runs"] == "3"
    assert len(at.dataframe[0].value) == 3


# --------------------------------------------------------------------------- #
# train
# --------------------------------------------------------------------------- #
def test_train_page_extracts_features_then_shows_the_settings(tiny_dataset, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("train")
    classes = next(m for m in at.multiselect if m.label == "Classes")
    assert classes.label == "Classes" and sorted(classes.value) == ["clicks", "noise", "tones"]
    assert any("Extract the features" in i for i in _infos(at))
    start = [b for b in at.button if b.label == "Start training"]
    assert not start or start[0].disabled  # no training before features (hidden or disabled)

    extract = next(b for b in at.button if b.label == "Extract features")
    extract.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    done = [s.value for s in at.success]
    assert any("420 segments of 130x13 from 42 tracks, 3 classes" in s for s in done), done
    # the settings form: models, split, recipe, numbers and its submit button
    start = next(b for b in at.button if b.label == "Start training")
    assert not start.disabled
    models = next(m for m in at.multiselect if m.label == "Models")
    assert models.value == ["mlp", "cnn", "lstm"]
    assert {r.label for r in at.radio} >= {"Split", "Recipe"}
    epochs = next(n for n in at.number_input if n.label.startswith("Epochs"))
    assert epochs.value is None and epochs.label == "Epochs (study 100 · improved 60)"  # empty: the recipe's
    assert any("No training yet" in i for i in _infos(at))


def test_train_page_passes_recipe_overrides_to_the_job(tiny_dataset, monkeypatch):
    import dashboard.training

    started = {}
    monkeypatch.setattr(dashboard.training, "start_training", lambda fs, **kw: started.update(kw))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("train")
    next(b for b in at.button if b.label == "Extract features").click().run()
    next(s for s in at.selectbox if s.label == "Random training windows").set_value("yes")
    next(s for s in at.selectbox if s.label == "Balanced class weights").set_value("no")
    next(n for n in at.number_input if n.label.startswith("Mixup alpha")).set_value(0.4)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # settings left at "recipe's" are not passed: the recipe decides them
    assert started["overrides"] == {"random_windows": True, "class_weight": False, "mixup": 0.4}
    assert started["recipe"] == "study" and started["split"] == "track"


def test_train_page_keeps_its_choices_across_a_page_switch(tiny_dataset, monkeypatch):
    """Streamlit drops the state of widgets a run does not draw: a visit to Home must not reset the choices."""
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("train")
    choices = {
        ("multiselect", "Classes"): ["noise", "tones"],
        ("multiselect", "Models"): ["cnn", "lstm"],
        ("radio", "Split"): "segment",
        ("radio", "Recipe"): "improved",
        ("number_input", "Epochs"): 7,
        ("number_input", "Batch size"): 64,
        ("number_input", "Learning rate"): 0.002,
        ("number_input", "Seed"): 3,
        ("selectbox", "Random training windows"): "yes",
        ("selectbox", "Balanced class weights"): "no",
        ("number_input", "Early stopping"): 5,
        ("number_input", "Mixup alpha"): 0.4,
    }

    def widget(kind, label):
        return next(w for w in getattr(at, kind) if w.label.startswith(label))

    for (kind, label), value in choices.items():
        widget(kind, label).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("views/home.py").run()
    assert not at.exception and at.title[0].value == "GTZAN genre lab"
    at.switch_page("views/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert {key: widget(*key).value for key in choices} == choices
    # and they are what a new job would be started with
    import dashboard.training

    started = {}
    monkeypatch.setattr(dashboard.training, "start_training", lambda fs, **kw: started.update(kw))
    next(b for b in at.button if b.label == "Extract features").click().run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert started["models"] == ["cnn", "lstm"] and started["split"] == "segment" and started["epochs"] == 7
    assert started["overrides"] == {"random_windows": True, "class_weight": False, "early_stopping": 5, "mixup": 0.4}


def test_train_page_with_one_class_asks_for_two(tiny_dataset, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("train")
    next(m for m in at.multiselect if m.label == "Classes").set_value(["tones"]).run()
    assert not at.exception
    assert next(b for b in at.button if b.label == "Extract features").disabled
    assert any("at least two classes" in i for i in _infos(at))


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
def _section(at: AppTest, label: str) -> AppTest:
    """Draw the Results page's section ``label`` (one is drawn at a time)."""
    next(s for s in at.segmented_control if s.label == "Section").set_value(label).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_results_page_draws_one_section_at_a_time(with_tiny_runs):
    """Table 2 first, no figure; each other section alone, reachable with one click; the run choice kept."""
    at = _run("results")
    section = next(s for s in at.segmented_control if s.label == "Section")
    assert section.value == "Table 2"
    assert section.options == ["Table 2", "Leakage ladder", "Figures 6 and 7", "One run in detail", "Recipes compared"]
    assert [h.value for h in at.header] == ["Table 2, side by side"] and not at.get("plotly_chart")
    next(p for p in at.pills if p.label == "Networks").set_value(["CNN"]).run()
    expected = {
        "Leakage ladder": ("How honest is the test? The leakage ladder", 1),
        "Figures 6 and 7": ("Figures 6 and 7: learning curves", 2),
        "One run in detail": ("One run in detail", 1),
        "Recipes compared": ("Recipes compared, paired by track", 0),
    }
    for label, (header, charts) in expected.items():
        _section(at, label)
        assert [h.value for h in at.header] == [header], label
        assert len(at.get("plotly_chart")) == charts, label
        assert next(p for p in at.pills if p.label == "Networks").value == ["CNN"]  # the choice stays
        if label == "One run in detail":  # its run list is the chosen runs
            options = next(s for s in at.selectbox if s.label == "Run").options
            assert len(options) == 1 and options[0].endswith("· tiny-cnn"), options


def test_results_page_keeps_its_section_across_a_page_switch(with_tiny_runs):
    """Streamlit drops an undrawn widget's state: a visit to Home must not send Results back to Table 2."""
    at = _section(_run("results"), "Figures 6 and 7")
    at.switch_page("views/home.py").run()
    assert not at.exception and at.title[0].value == "GTZAN genre lab"
    at.switch_page("views/results.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert next(s for s in at.segmented_control if s.label == "Section").value == "Figures 6 and 7"
    assert [h.value for h in at.header] == ["Figures 6 and 7: learning curves"]


def test_results_page_with_runs(with_tiny_runs):
    at = _run("results")
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    # the run choice: one row of facet pills, every value on by default (those of the default runs)
    facets = {p.label: p for p in at.pills}
    assert facets["Networks"].value == ["MLP", "CNN", "RNN-LSTM"] and facets["Protocols"].value == ["track"]
    assert "Classes" not in facets and "Source" not in facets  # one class list, no reference runs: no such row
    only = next(m for m in at.multiselect if m.label.startswith("Only these runs"))
    assert only.value == [] and "3 match" in only.label
    table2 = at.dataframe[0].value
    assert len(table2) == 3, table2
    text = table2.to_string()
    for name in ("tiny-mlp", "tiny-cnn", "tiny-lstm"):
        assert name in text or any(name in str(v) for v in table2.to_numpy().ravel()), text
    table2 = next(d.value for d in at.dataframe if "paper accuracy" in d.value.columns)
    assert set(table2["protocol"]) == {"track"} and table2["Δ accuracy"].isna().all()  # 3 classes: not the paper's task
    assert any(i.startswith("CNN deviation from the study's text:") for i in _infos(at)), _infos(at)
    # the leakage ladder: each network on its one rung (the track split)
    _section(at, "Leakage ladder")
    assert len(at.get("plotly_chart")) == 1
    ladder = next(d.value for d in at.dataframe if "drop (track acc)" in d.value.columns)
    assert sorted(ladder["run"]) == ["tiny-cnn", "tiny-lstm", "tiny-mlp"] and set(ladder["protocol"]) == {"track"}
    _section(at, "One run in detail")
    per_class = next(d.value for d in at.dataframe if "note" in d.value.columns)
    assert per_class["class"].tolist() == ["clicks", "noise", "tones"] and per_class["support"].tolist() == [4, 4, 4]


def test_results_run_choice_by_facet_and_by_single_runs(with_tiny_runs):
    at = _run("results")
    next(p for p in at.pills if p.label == "Networks").set_value(["CNN", "RNN-LSTM"]).run()
    table2 = next(d.value for d in at.dataframe if "paper accuracy" in d.value.columns)
    assert sorted(table2["run"]) == ["tiny-cnn", "tiny-lstm"]
    only = next(m for m in at.multiselect if m.label.startswith("Only these runs"))
    assert "2 match" in only.label
    assert sorted(only.options) == ["CNN · track · improved · 3 classes", "RNN-LSTM · track · improved · 3 classes"]
    only.set_value(["tiny-lstm"]).run()
    table2 = next(d.value for d in at.dataframe if "paper accuracy" in d.value.columns)
    assert table2["run"].tolist() == ["tiny-lstm"]
    next(p for p in at.pills if p.label == "Networks").set_value([]).run()
    assert any("No run has every chosen facet" in i for i in _infos(at)), _infos(at)
    assert not at.exception


def test_results_page_switches_curve_and_confusion_level(with_tiny_runs):
    at = _section(_run("results"), "Figures 6 and 7")
    next(r for r in at.radio if r.label == "Error curve").set_value("rmse").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 2
    assert "RMSE" in at.get("plotly_chart")[1].proto.spec
    _section(at, "One run in detail")
    next(r for r in at.radio if r.label == "Confusion matrix and per-class scores of").set_value("segments").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1
    per_class = next(d.value for d in at.dataframe if "note" in d.value.columns)
    assert per_class["support"].tolist() == [40, 40, 40]  # 4 test tracks of 10 segments per class


def test_results_curves_of_one_epoch_runs_are_visible(tiny_runs_artifacts, tiny_dataset, tmp_path, monkeypatch):
    """A 1-epoch run has one point per curve: with lines only it drew nothing (fixed: markers too)."""
    import json

    import plotly.io as pio

    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    for run in art.joinpath("runs").iterdir():  # as if each run had stopped after its first epoch
        history = json.loads((run / "history.json").read_text())
        (run / "history.json").write_text(json.dumps({k: v[:1] for k, v in history.items()}))
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _section(_run("results"), "Figures 6 and 7")
    for chart in at.get("plotly_chart"):  # Figures 6 and 7
        fig = pio.from_json(chart.proto.spec)
        assert fig.data
        for trace in fig.data:
            assert len(trace.x) > 1 or "markers" in (trace.mode or ""), (trace.name, trace.mode, len(trace.x))


def test_results_page_without_runs(tiny_dataset, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("results")
    assert any(i.startswith("No runs yet") for i in _infos(at)), _infos(at)
    assert not at.dataframe and not at.get("plotly_chart")


def test_results_page_with_a_damaged_run_warns_and_renders(tiny_runs_artifacts, tiny_dataset, tmp_path, monkeypatch):
    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    broken = art / "runs" / "broken-run"
    shutil.copytree(art / "runs" / "tiny-mlp", broken)
    (broken / "manifest.json").write_text("{ not json")
    (art / "runs" / "half-empty").mkdir()
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("results")
    warnings = [w.value for w in at.warning]
    assert any("broken-run" in w and "manifest.json" in w for w in warnings), warnings
    assert any("half-empty" in w and "incomplete" in w for w in warnings), warnings
    assert len(next(d.value for d in at.dataframe if "paper accuracy" in d.value.columns)) == 3
    for label, charts in (("Leakage ladder", 1), ("Figures 6 and 7", 2), ("One run in detail", 1)):
        assert len(_section(at, label).get("plotly_chart")) == charts, label


def _comparison_rows(variant: str, model: str, right: list[list[bool]]) -> list[dict]:
    """Result rows as mgc.training.crossval writes them: one per fold;
    ``right`` = per fold, per track, correct or not."""
    rows = []
    for k, fold in enumerate(right):
        tracks = [{"track_id": f"t{k}.{i}", "true": 0, "predicted": 0 if ok else 1} for i, ok in enumerate(fold)]
        rows.append(
            {
                "variant": variant,
                "model": model,
                "fold": k,
                "n_folds": len(right),
                "track_accuracy": sum(fold) / len(fold),
                "segment_accuracy": 0.5,
                "loss": 1.0,
                "rmse": 0.4,
                "epochs_run": 10,
                "tracks": tracks,
            }
        )
    return rows


def test_results_page_shows_stored_recipe_comparisons(tiny_runs_artifacts, tiny_dataset, tmp_path, monkeypatch):
    import json

    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    good = art / "comparisons" / "mini"
    good.mkdir(parents=True)
    rows = _comparison_rows("study", "mlp", [[True, False], [False, False]]) + _comparison_rows(
        "improved", "mlp", [[True, True], [True, False]]
    )
    for r in rows:
        (good / f"{r['variant']}-{r['model']}-fold{r['fold']}.json").write_text(json.dumps(r))
    bad = art / "comparisons" / "broken"
    bad.mkdir()
    (bad / "study-mlp-fold0.json").write_text("{ not json")
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _section(_run("results"), "Recipes compared")
    assert any("broken" in w.value and "damaged" in w.value for w in at.warning), [w.value for w in at.warning]
    assert "mini · track · artist-leaky" in [h.value for h in at.subheader]  # rows without a protocol: track folds
    table = next(d.value for d in at.dataframe if "folds won/tied/lost" in d.value.columns)
    improved = table[table["variant"] == "improved"].iloc[0]
    assert improved["track accuracy"] == 0.75 and improved["Δ track acc vs study"] == 0.5
    assert improved["folds won/tied/lost"] == "2/0/0" and improved["tracks gained − lost"] == 2
    assert len(at.get("plotly_chart")) == 1  # the comparison's figure


# --------------------------------------------------------------------------- #
# classify
# --------------------------------------------------------------------------- #
def test_classify_page_with_runs_waits_for_a_clip(with_tiny_runs):
    at = _run("classify")
    assert not at.error, [e.value for e in at.error]
    assert any("Upload or record a clip" in i for i in _infos(at)), _infos(at)
    models = next(m for m in at.multiselect if m.label == "Models (runs)")
    assert models.value == ["tiny-mlp", "tiny-cnn", "tiny-lstm"]  # each scores over 1.5 x chance on its test part
    known = next(s for s in at.selectbox if s.label == "Classes the models know")
    assert known.value == ("clicks", "noise", "tones")
    assert not at.get("metric") and not at.get("plotly_chart")
    # the microphone records at its own rate (issue 12, defect 12: Streamlit's default is 16 kHz)
    (mic,) = at.get("audio_input")
    assert not mic.proto.HasField("sample_rate"), mic.proto.sample_rate


def test_classify_page_without_runs(tiny_dataset, monkeypatch):
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("classify")
    assert any(i.startswith("No trained runs yet") for i in _infos(at)), _infos(at)
    assert not at.selectbox


# --------------------------------------------------------------------------- #
# the Keras state survives script runs
# --------------------------------------------------------------------------- #
def test_script_runs_no_longer_reset_keras(monkeypatch):
    """Streamlit's end-of-run clean-up used to call keras.backend.clear_session() after every run."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    import dashboard  # noqa: F401 - importing the dashboard package installs the replacement

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    assert getattr(script_runner._clean_problem_modules, "keeps_keras", False)
    script_runner._clean_problem_modules()
    assert calls == []
    # and a whole page run leaves it alone too
    _run("classify")
    assert calls == []


def test_classify_page_never_offers_a_run_at_chance(tiny_runs_artifacts, tiny_dataset, tmp_path, monkeypatch):
    import json

    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    metrics_file = art / "runs" / "tiny-lstm" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["track_accuracy_mean"] = 1 / 3  # chance on three classes
    metrics_file.write_text(json.dumps(metrics))
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("classify")
    models = next(m for m in at.multiselect if m.label == "Models (runs)")
    assert models.value == ["tiny-mlp", "tiny-cnn"]
    assert "RNN-LSTM · track · improved · 3 classes" in models.options  # still there to choose


def test_classify_page_never_offers_a_folder_that_is_not_a_run_id(
    tiny_runs_artifacts, tiny_dataset, tmp_path, monkeypatch
):
    """Issue 12, defect 4: a copied run folder with a space in its name became the default and failed."""
    import json

    art = tmp_path / "artifacts"
    shutil.copytree(tiny_runs_artifacts / "runs", art / "runs")
    copy = art / "runs" / "tiny cnn (copy)"
    shutil.copytree(art / "runs" / "tiny-cnn", copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["track_accuracy_mean"] = metrics["track_balanced_accuracy"] = 1.0  # it would win the default
    (copy / "metrics.json").write_text(json.dumps(metrics))
    monkeypatch.setenv("MGC_ARTIFACTS", str(art))
    monkeypatch.setenv("MGC_DATA_DIR", str(tiny_dataset))
    at = _run("classify")
    models = next(m for m in at.multiselect if m.label == "Models (runs)")
    assert models.value == ["tiny-mlp", "tiny-cnn", "tiny-lstm"]
    assert not any("(copy)" in o for o in models.options)
    assert any("1 run folder(s) skipped" in e.label for e in at.expander)
