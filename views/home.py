"""Home: what the lab does, the configured dataset at a glance, the stored runs, and the way to each page."""

import streamlit as st

from dashboard import data, widgets
from mgc import plots
from mgc.analysis import runs_table
from mgc.errors import MgcError
from mgc.runs import list_runs

widgets.page_header("GTZAN genre lab")
st.markdown(
    "Reproduce a published deep-learning study of music genre classification on GTZAN "
    "(13 MFCCs over 3-s segments; an MLP, a CNN and an RNN-LSTM), and go past it: see how audio "
    "becomes features, train under the study's leaky split and under honest ones, see how much each leak "
    "was worth on artists the models never heard, compare with the paper's Table 2, and hear what a model "
    "makes of your own songs, with a warning when it should not be trusted. Beyond the study: the transfer "
    "learning it proposes as future work, a small head on the embeddings of a pretrained music tagger "
    "(musicnn), trained and judged the same way."
)
root = data.dataset_root()
try:
    summary = data.dataset_summary(str(root))
except MgcError as e:
    st.error(str(e))
    summary = None
stored, problems = list_runs()
runs = runs_table(stored)
c1, c2, c3, c4 = st.columns(4)
if summary:
    c1.metric("Tracks", summary["tracks"])
    c2.metric("Classes", summary["classes"])
    c3.metric(
        "Unreadable files",
        "-" if summary["failed"] is None else summary["failed"],
        help="Known once features are extracted (Train page)",
    )
c4.metric("Stored runs", len(runs))
left, right = st.columns([2, 3])
with left:
    st.subheader("Dataset")
    if summary:
        st.plotly_chart(plots.class_counts(summary["counts"]), width="stretch")
        st.caption(summary["text"])
with right:
    st.subheader("Runs")
    if runs.empty:
        st.info("No runs yet: train one on the Train page.")
    else:
        st.dataframe(runs, hide_index=True, width="stretch", height=min(400, 36 * (len(runs) + 1) + 2))
    for p in problems:
        st.warning(f"Run folder skipped: {p}")
st.subheader("Pages")
cols = st.columns(4)
cols[0].page_link("views/explore.py", label="Explore audio and features", icon=":material/equalizer:")
cols[1].page_link("views/train.py", label="Train the models", icon=":material/model_training:")
cols[2].page_link("views/results.py", label="Results vs the paper", icon=":material/leaderboard:")
cols[3].page_link("views/classify.py", label="Classify your clip", icon=":material/music_note:")
