"""Results page: the study's Figures 6-7 and Table 2 rebuilt from stored runs, and what each run got wrong."""

import streamlit as st

from mgc import plots, report, ui
from mgc.crossval import summarize, variant_settings
from mgc.errors import MgcError

ui.page_header("Results")
runs, problems = ui.all_runs()
for p in problems:
    st.warning(f"Damaged run skipped: {p}")
if not runs:
    st.info("No runs yet: train some on the Train page (the shipped reference runs live in artifacts/runs).")
    st.stop()

by_id = {r.id: r for r in runs}
chosen = st.multiselect("Runs", list(by_id), default=ui.default_result_runs(runs),
                        format_func=lambda i: by_id[i].label)
if not chosen:
    st.info("Choose at least one run.")
    st.stop()
selected = [by_id[i] for i in chosen]

# --- Table 2 ---------------------------------------------------------------------------
st.header("Table 2, side by side", divider="gray")
st.markdown(
    "The study's **error** column cannot be an RMSE of probabilities (that is at most √2 ≈ 1.41, and the "
    "MLP's is 3.31): it matches the **cross-entropy loss**. Both are shown, named for what they are. "
    "**Segment accuracy** scores each 3-s segment; **track accuracy** averages a track's segment "
    "probabilities. With the study's *segment* split, segments of one song sit in train and test: compare "
    "it with the *track* split of the same model to see the leakage."
)
st.dataframe(report.table2(selected), hide_index=True, width="stretch")
leak = report.leakage_gaps(selected)
if leak is not None:
    st.markdown("**Leakage gap** (same model and recipe, segment split minus track split):")
    st.dataframe(leak, hide_index=True)
notes = {r.manifest.get("deviation") for r in selected if r.manifest.get("deviation")}
for n in notes:
    st.info(f"CNN deviation from the study's text: {n}")
if any(len(r.classes) != 10 for r in selected):
    st.caption("The paper's numbers are for 10 GTZAN genres (chance 10%); runs on fewer classes have a higher "
               "chance level (shown per row), so compare gaps between protocols rather than raw accuracies.")

# --- the recipes compared on every track -------------------------------------------------
st.header("Study recipe vs improved recipe, on every track", divider="gray")
st.markdown(
    "One track split tests a few dozen tracks: one track more or less moves accuracy by several points. "
    "Here each recipe was trained on the same folds of a grouped, stratified **k-fold cross-validation "
    "over tracks**, so every track is tested exactly once, by a model that never heard it. "
    "*study*: raw MFCCs, the study's learning rate, 100 epochs. *improved*: inputs standardised on the "
    "training part, random 3-s training windows, mixup, Adam 1e-3 decaying to 0 over 60 epochs (cosine), "
    "class weights. "
    "Other variants change one or two of those settings (table below the figure). "
    "Make one for your data with `python -m mgc compare --data DIR --out artifacts/comparisons/NAME`."
)
found = ui.comparisons()
if not found:
    st.caption("No comparison stored under artifacts/comparisons.")
for name, rows in found.items():
    if isinstance(rows, str):
        st.warning(f"Comparison {name!r} skipped: {rows}")
        continue
    st.subheader(name)
    st.plotly_chart(plots.recipe_comparison(rows), width="stretch")
    st.dataframe(summarize(rows), hide_index=True, width="stretch")
    st.caption("What each variant is (*recipe*: the one it started from; the other columns: the settings it ran with):")
    st.dataframe(variant_settings(rows), hide_index=True, width="stretch")

# --- Figures 6 and 7 --------------------------------------------------------------------
st.header("Figures 6 and 7: learning curves", divider="gray")
error_metric = st.radio("Error curve", ["loss", "rmse"], horizontal=True,
                        format_func={"loss": "cross-entropy loss (what the study's 'error' matches)",
                                     "rmse": "RMSE of one-hot vs softmax"}.get)
st.plotly_chart(plots.study_curves(selected, "accuracy"), width="stretch")
st.plotly_chart(plots.study_curves(selected, error_metric), width="stretch")
augmented = [r.label for r in selected if r.manifest["config"].get("random_windows") or r.manifest["config"].get("mixup")]
if augmented:
    st.caption("Training curves of runs trained on augmented examples (random windows, mixup) are measured on "
               "those examples, so they can sit below the validation curves: " + "; ".join(augmented))

# --- one run in detail --------------------------------------------------------------------
st.header("One run in detail", divider="gray")
run = by_id[st.selectbox("Run", chosen, format_func=lambda i: by_id[i].label)]
level = st.radio("Confusion matrix of", ["segments", "tracks"], horizontal=True)
c1, c2 = st.columns([3, 2])
c1.plotly_chart(plots.confusion_matrix(run, level=level), width="stretch")
c2.dataframe(report.per_class_table(run), hide_index=True, width="stretch")
st.subheader("Misclassified tracks")
try:
    wrong = ui.misclassified(run)
except MgcError as e:
    st.error(str(e))
    st.stop()
if wrong.empty:
    st.success("Every test track was classified correctly (by mean probability).")
else:
    st.dataframe(wrong.drop(columns=["path"]), hide_index=True, width="stretch")
    playable = wrong[wrong["path"] != ""]
    if playable.empty:
        st.caption("The audio of these tracks is not in the configured dataset folder, so it cannot be played here.")
    else:
        pick = st.selectbox("Listen to", playable["track"].tolist())
        st.audio(ui.track_audio(playable.set_index("track").loc[pick, "path"]))
with st.expander("Manifest: data, split, parameters, versions"):
    st.json(run.manifest)
