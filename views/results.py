"""Results page: the study's Figures 6-7 and Table 2 rebuilt from stored runs, and what each run got wrong.

The page draws one section at a time, the one chosen under the run choice: drawn together, the five
sections (5 plotly figures, 6 data grids, 7,000 px) took 8-28 s to appear in a new tab, most of it
Chromium laying out figures the visitor had not scrolled to. Every section stays one click away, and
the choice is kept while the visitor changes runs.
"""

import streamlit as st

from dashboard import data, widgets
from dashboard import runs as loaded
from dashboard.form_state import keep, remembered
from mgc.analysis import report
from mgc.config import artifacts_dir
from mgc.errors import MgcError
from mgc.runs import default_result_runs, short_labels
from mgc.training import describe_recipe


def show_ladder(selected: list) -> None:
    """The same network and recipe under the three protocols: what each leak was worth."""
    st.header("How honest is the test? The leakage ladder", divider="gray")
    st.markdown(
        "The same network and recipe, tested three ways. **Segment** (the study's split): random 3-s segments, so "
        "segments of one song sit in train and test. **Track**: whole songs held out, but GTZAN holds runs of songs "
        "by one artist, so the artist is on both sides. **Fault-filtered** (Kereliuk, Sturm & Larsen 2015): "
        "artist-conditional, the honest protocol. Each step down removes one leak; the drop is what the leak was "
        "worth. *Tested on valid*: the dataset has no fault-filtered test part, so the valid list (artists the "
        "model never heard) is the test, and early stopping and selection use a part of the train list."
    )
    ladder = report.leakage_ladder(selected)
    if ladder is None:
        st.caption("Choose runs of one network and recipe under several protocols to see the ladder.")
    else:
        st.plotly_chart(loaded.runs_figure("leakage_ladder", selected), width="stretch")
        st.dataframe(
            ladder,
            hide_index=True,
            width="stretch",
            column_config={c: st.column_config.Column(pinned=True) for c in ("model", "protocol")},
        )
        st.caption(
            "Each protocol tests other tracks (the segment split tests segments of almost every track, the "
            "fault-filtered split only artists absent from training), so the rungs are the same model under three "
            "questions, not three scores of one test. Balanced accuracy is the mean recall over the genres present "
            "in the test part: with unequal classes it is the fairer number. The transfer model (beyond the study) "
            "is tested the same three ways."
        )


def show_table2(selected: list) -> None:
    """The study's Table 2 beside the chosen runs, with the CNN's deviation and the refits' provenance."""
    st.header("Table 2, side by side", divider="gray")
    st.markdown(
        "The study's **error** column cannot be an RMSE of probabilities (that is at most √2 ≈ 1.41, and the "
        "MLP's is 3.31): it matches the **cross-entropy loss**. Both are shown, named for what they are. "
        "**Segment accuracy** scores each 3-s segment; **track accuracy** averages a track's segment "
        "probabilities. Δ columns compare with the paper only for runs of its task and protocol: GTZAN's ten genres "
        "(chance 10 %) under the segment split. The *Leakage ladder* section shows how far the honest protocols "
        "fall below it."
    )
    # the first columns stay in view while the table scrolls sideways to the losses, epochs and run ids
    PINNED = {c: st.column_config.Column(pinned=True) for c in ("model", "protocol", "recipe")}
    st.dataframe(report.table2(selected), hide_index=True, width="stretch", column_config=PINNED)
    notes = {r.manifest.get("deviation") for r in selected if r.manifest.get("deviation")}
    for n in notes:
        st.info(f"CNN deviation from the study's text: {n}")
    refits = [r.id for r in selected if r.manifest.get("metrics_from")]
    if refits:
        st.caption(
            "Refits on train + valid have no test part of their own: their scores are those of their train-only "
            "twin (column *scores from*), measured before the refit heard those tracks: " + ", ".join(refits)
        )


def show_recipes(selected: list) -> None:
    """The stored recipe comparisons, each variant scored on the same tracks."""
    st.header("Recipes compared, paired by track", divider="gray")
    st.markdown(
        "Every variant of a comparison is trained on the same split(s) and scored on the same tracks, so two recipes "
        "are compared track by track. On GTZAN the recipes are chosen on the **fault-filtered valid part** (artists "
        "the models never heard; `tools/select_recipe.py`). A **cross-validation over tracks** "
        "(`python -m mgc compare`) tests every track once but is **artist-leaky**: songs of one artist sit on both "
        "sides, so use it to rank recipes on a collection without artist lists, never as a result. "
        f"*study*: {describe_recipe('study')}. *improved*: {describe_recipe('improved')}. "
        "Other variants change one or two of those settings (table below the figure)."
    )
    found = loaded.comparisons(str(artifacts_dir() / "comparisons"))
    if not found:
        st.caption("No comparison stored under artifacts/comparisons.")
    for name, stored in found.items():
        if isinstance(stored, str):
            st.warning(f"Comparison {name!r} skipped: {stored}")
            continue
        rows, figure, summary, settings = stored
        protocols = sorted({r.get("protocol", "track") for r in rows})
        honest = all(p.startswith("fault-filtered") for p in protocols)
        st.subheader(f"{name} · {', '.join(protocols)}" + ("" if honest else " · artist-leaky"))
        st.plotly_chart(figure, width="stretch")
        st.dataframe(summary, hide_index=True, width="stretch")
        st.caption(
            "What each variant is (*recipe*: the one it started from; the other columns: the settings it ran with):"
        )
        st.dataframe(settings, hide_index=True, width="stretch")


def show_curves(selected: list) -> None:
    """Figures 6 and 7: accuracy and an error curve per epoch, one panel per network."""
    st.header("Figures 6 and 7: learning curves", divider="gray")
    error_metric = st.radio(
        "Error curve",
        ["loss", "rmse"],
        horizontal=True,
        format_func={
            "loss": "cross-entropy loss (what the study's 'error' matches)",
            "rmse": "RMSE of one-hot vs softmax",
        }.get,
    )
    st.plotly_chart(loaded.runs_figure("study_curves", selected, "accuracy"), width="stretch")
    st.plotly_chart(loaded.runs_figure("study_curves", selected, error_metric), width="stretch")
    augmented = [
        r.label for r in selected if r.manifest["config"].get("random_windows") or r.manifest["config"].get("mixup")
    ]
    if augmented:
        st.caption(
            "Training curves of runs trained on augmented examples (random windows, mixup) are measured on "
            "those examples, so they can sit below the validation curves: " + "; ".join(augmented)
        )


def show_one_run(selected: list) -> None:
    """One run: its confusion matrix, per-class scores, misclassified tracks, scoring and manifest."""
    st.header("One run in detail", divider="gray")
    by_id = {r.id: r for r in selected}
    names = short_labels(selected)
    run = by_id[st.selectbox("Run", list(by_id), format_func=lambda i: f"{names[i]} · {by_id[i].score_text} · {i}")]
    level = st.radio("Confusion matrix and per-class scores of", ["tracks", "segments"], horizontal=True)
    st.caption(
        f"{run.protocol} split · {run.score_text}. Classes with fewer than 3 test tracks are marked *thin*: "
        "their recall rests on one or two songs."
    )
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(loaded.runs_figure("confusion_matrix", [run], level), width="stretch")
    try:
        c2.dataframe(report.per_class_table(run, level=level), hide_index=True, width="stretch")
    except MgcError as e:
        c2.info(str(e))
    st.subheader("Misclassified tracks")
    try:
        wrong = loaded.misclassified(run)
    except MgcError as e:
        st.error(str(e))
        st.stop()
    if wrong.empty:
        st.success("Every test track was classified correctly (by mean probability).")
    else:
        st.dataframe(wrong.drop(columns=["path"]), hide_index=True, width="stretch")
        playable = wrong[wrong["path"] != ""]
        if playable.empty:
            st.caption(
                "The audio of these tracks is not in the configured dataset folder, so it cannot be played here."
            )
        else:
            pick = st.selectbox("Listen to", playable["track"].tolist())
            st.audio(data.track_audio(playable.set_index("track").loc[pick, "path"]))
    with st.expander("Score this run on the dataset folder"):
        st.caption(
            f"Dataset: {data.dataset_root()}. Tracks the run trained or selected on are never counted as test: "
            "they are dropped, and the count is shown."
        )
        where = st.radio(
            "Score on",
            ["all tracks", "segment", "track", "fault-filtered"],
            horizontal=True,
            format_func=lambda w: w if w == "all tracks" else f"the {w} split's test part",
        )
        if st.button("Score", key="score-run"):
            try:
                m = loaded.evaluate_on_dataset(
                    run.id, str(data.dataset_root()), None if where == "all tracks" else where
                )
            except MgcError as e:
                st.error(str(e))
            else:
                if m["excluded_tracks"] is None:
                    st.warning(
                        "This run does not record which tracks it trained on: none could be excluded, so the score "
                        "may count tracks it heard."
                    )
                elif m["excluded_tracks"]:
                    st.info(
                        f"{m['excluded_tracks']} track(s) the run trained or selected on were excluded "
                        f"(e.g. {', '.join(m['excluded_examples'][:3])})."
                    )
                if m.get("faulty_excluded"):
                    st.info(
                        f"{m['faulty_excluded']} of GTZAN's faulty track(s) (in no fault-filtered list: repetitions, "
                        "mislabellings, distortions) were left out."
                    )
                st.dataframe(report.score_row(m), hide_index=True)
    with st.expander("Manifest: data, split, parameters, versions"):
        st.json(run.manifest)


#: The page's sections, in reading order: label -> function that draws it for the chosen runs.
SECTIONS = {
    "Table 2": show_table2,
    "Leakage ladder": show_ladder,
    "Figures 6 and 7": show_curves,
    "One run in detail": show_one_run,
    "Recipes compared": show_recipes,
}
#: Shown until the visitor picks another: the study's own table, beside the chosen runs.
DEFAULT_SECTION = "Table 2"


widgets.page_header("Results")
runs, problems = loaded.stored_runs()
for p in problems:
    st.warning(f"Run folder skipped: {p}")
if not runs:
    st.info("No runs yet: train some on the Train page (the shipped reference runs live in artifacts/runs).")
    st.stop()

by_id = {r.id: r for r in runs}
chosen = widgets.choose_runs(runs, default=default_result_runs(runs), key="results-runs")
if not chosen:
    st.info("No run has every chosen facet: switch one on in each row.")
    st.stop()
selected = [by_id[i] for i in chosen]
section = st.segmented_control(
    "Section",
    list(SECTIONS),
    **remembered("results-section", DEFAULT_SECTION, options=list(SECTIONS), arg="default"),
    help="One section is drawn at a time; the chosen runs and the section stay chosen across page switches.",
)
keep("results-section")  # the section comes back after a visit to another page
SECTIONS[section or DEFAULT_SECTION](selected)
