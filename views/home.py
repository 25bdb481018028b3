"""Home: what the lab does, the configured dataset at a glance, the stored runs, and the way to each page."""

import streamlit as st

from dashboard import widgets

# the title first, before the imports below (pandas and mgc.analysis took 1.5-2 s of a fresh server's first visit)
widgets.page_header("GTZAN genre lab")

import pandas as pd  # noqa: E402

from dashboard import data  # noqa: E402
from dashboard import runs as loaded  # noqa: E402
from mgc.analysis.report import runs_table  # noqa: E402
from mgc.errors import MgcError  # noqa: E402

#: Every column wide enough for its longest text (no cell cut short); the whole table fits at 1440 px.
RUN_COLUMNS = {
    "run": st.column_config.TextColumn("run", pinned=True, width=230),
    "model": st.column_config.TextColumn("model", width=125),
    "protocol": st.column_config.TextColumn("protocol", width=240),
    "recipe": st.column_config.TextColumn("recipe", width=70),
    "trained on": st.column_config.TextColumn(
        "trained on", width=95, help="GTZAN, the synthetic demo or other data (number of classes)"
    ),
    "track acc": st.column_config.NumberColumn("track acc", width=70, format="%.3f"),
    "balanced": st.column_config.NumberColumn(
        "balanced", width=70, format="%.3f", help="Balanced accuracy over tracks"
    ),
    "epochs": st.column_config.TextColumn("epochs", width=70),
}

st.markdown(
    "Reproduce a published deep-learning study of music genre classification on GTZAN "
    "(13 MFCCs over 3-s segments; an MLP, a CNN and an RNN-LSTM), and go past it: see how audio "
    "becomes features, train under the study's leaky split and under honest ones, see how much each leak "
    "was worth on artists the models never heard, compare with the paper's Table 2, and hear what a model "
    "makes of your own songs, with a warning when it should not be trusted. Beyond the study: the transfer "
    "learning it proposes as future work, a small head on the embeddings of a pretrained music tagger "
    "(musicnn), trained and judged the same way."
)
source = data.data_source()
root = data.dataset_root()
try:
    summary = data.dataset_summary(str(root))
except MgcError as e:
    st.error(str(e))
    summary = None
stored, problems = loaded.stored_runs()
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
    st.subheader("Dataset: synthetic demo (not GTZAN)" if source.is_demo else "Dataset")
    if summary:
        # a table with a bar per class, not a plotly chart: the plotly bundle alone took seconds to load and draw
        # in a new tab, and the home page is the one every visit starts on
        counts = summary["counts"]
        st.dataframe(
            pd.DataFrame({"style" if source.is_demo else "class": list(counts), "tracks": list(counts.values())}),
            hide_index=True,
            width="stretch",
            height=35 * (len(counts) + 1) + 3,
            column_config={
                "tracks": st.column_config.ProgressColumn(
                    "tracks", format="%d", min_value=0, max_value=max(counts.values(), default=1), width="medium"
                )
            },
        )
with right:
    if source.is_demo:
        st.info(
            "No dataset is configured, so the Train and Explore pages use a small **synthetic demo dataset**: "
            "five made-up styles (not genres, not GTZAN), written on first use so that training can be tried "
            "offline. The runs below that were trained on real GTZAN audio say so in their *trained on* column. "
            f"To use your GTZAN copy: `./run-app.sh --data /path/to/gtzan` or `{data.DATA_ENV}=/path/to/gtzan`."
        )
    if summary:
        st.caption(summary["text"])
st.subheader("Runs")
if runs.empty:
    st.info("No runs yet: train one on the Train page.")
else:
    st.dataframe(
        runs,
        hide_index=True,
        width="stretch",
        height=min(420, 35 * (len(runs) + 1) + 3),
        column_config=RUN_COLUMNS,
    )
for p in problems:
    st.warning(f"Run folder skipped: {p}")
st.subheader("Pages")
cols = st.columns(4)
cols[0].page_link("views/explore.py", label="Explore audio and features", icon=":material/equalizer:")
cols[1].page_link("views/train.py", label="Train the models", icon=":material/model_training:")
cols[2].page_link("views/results.py", label="Results vs the paper", icon=":material/leaderboard:")
cols[3].page_link("views/classify.py", label="Classify your clip", icon=":material/music_note:")
