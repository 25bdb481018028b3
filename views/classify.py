"""Classify page: what the trained models hear in an uploaded or recorded clip."""

import streamlit as st

from dashboard import runs as loaded
from dashboard import widgets
from mgc import plots
from mgc.errors import MgcError
from mgc.runs import default_classify_runs, explain_checks, group_by_classes, short_labels

widgets.page_header("Classify a clip")
runs, problems = loaded.stored_runs()
if problems:
    with st.expander(f"{len(problems)} run folder(s) skipped"):
        st.markdown("\n".join(f"- {p}" for p in problems))
if not runs:
    st.info("No trained runs yet: train one on the Train page.")
    st.stop()

groups = group_by_classes(runs)
left, right = st.columns([3, 2])
with left:
    upload = st.file_uploader(
        "Upload a song or clip",
        type=widgets.UPLOAD_TYPES,
        help="Any length, rate and channel count; the first 10 minutes are analysed.",
    )
    # sample_rate=None: the microphone's own rate (Streamlit's default resamples to 16 kHz, below the study's 22050)
    recording = st.audio_input("...or record one (at least 3 s)", sample_rate=None)
with right:
    classes = st.selectbox("Classes the models know", list(groups), format_func=widgets.classes_text)
    default = default_classify_runs(groups[classes])
    names = short_labels(groups[classes])
    chosen = st.multiselect(
        "Models (runs)",
        list(names),
        default=default,
        format_func=names.get,
        placeholder="Type to search: network, protocol, recipe",
        help="Each run as network · protocol (ff: fault-filtered, the artist-conditional split; valid: tested "
        "on its valid list; refit: refit on train + valid, scored by its train-only twin) · recipe. "
        "Each chosen run's protocol, scores and id are listed below the choice.",
    )
    by_id = {r.id: r for r in groups[classes]}
    if chosen:
        widgets.runs_legend([by_id[i] for i in chosen], names)
    if len(default) == 1 and default[0] in chosen and by_id[default[0]].model_name == "transfer":
        st.caption(
            "Default: the transfer model alone, the best on the most honest protocol these runs were scored "
            "with. Add the study's networks to compare; they are weaker and often disagree with it, which "
            "marks the answer *not sure*."
        )

picked = widgets.pick_source(upload, recording)
if picked is None:
    st.info("Upload or record a clip to classify it.")
    st.stop()
source, name = picked
if not chosen:
    st.info("Choose at least one run.")
    st.stop()
try:
    result = loaded.classify_upload(source.getvalue(), name, tuple(chosen))
except MgcError as e:
    st.error(str(e))
    st.stop()

st.caption(
    f"{result.name}: {result.duration:.1f} s analysed, {result.native_sr} Hz, {result.channels} channel(s), "
    f"{len(result.starts)} windows of 3 s."
)
for note in result.notes:
    st.info(note)
if result.trusted:
    st.success(
        "Nothing looked off: the clip sounds like the training music, and every model is confident and "
        "agrees with itself and the others (thresholds fitted on held-out tracks; see below)."
    )
else:
    clip_level = " ".join(f["message"] for f in result.flags if f["run"] is None)
    st.warning("**Not sure.** " + (clip_level or "Some models' answers should not be trusted: see below each one."))
cols = st.columns(len(result.answers))
for col, answer in zip(cols, result.answers, strict=True):
    own = [f for f in result.flags if f["run"] == answer.run_id]
    col.metric(names[answer.run_id] + (" · not sure" if own else ""), answer.predicted)
    col.caption(f"{answer.confidence:.0%} confidence · run `{answer.run_id}`")
    for f in own:
        col.caption(f"⚠ {f['message']}")
wav, seconds = loaded.playable(source.getvalue(), name)
st.audio(wav, format="audio/wav")
if seconds < result.duration - 0.5:
    st.caption(f"The player holds the first {seconds:.0f} s of the {result.duration:.0f} s analysed.")
st.plotly_chart(plots.class_probabilities(result.answers), width="stretch")
st.subheader("Prediction over time")
st.plotly_chart(plots.window_timelines(result.starts, result.answers), width="stretch")
with st.expander("How 'not sure' is decided"):
    st.markdown(explain_checks(chosen))
