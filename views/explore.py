"""Explore: one clip from waveform to MFCCs, the study's path, then what a pretrained tagger hears; the dataset."""

from __future__ import annotations

import streamlit as st

from dashboard import data, explore, widgets
from dashboard.widgets import fail
from mgc import config, plots
from mgc.audio import example_path, represent
from mgc.errors import MgcError

SOURCES = ("Dataset", "Upload", "Microphone", "librosa example")


def study_label(value: int, study: int) -> str:
    return f"{value} (study)" if value == study else str(value)


def controls() -> dict:
    """Sidebar: the analysis parameters, the study's values first."""
    with st.sidebar:
        st.header("Analysis parameters")
        n_fft = st.select_slider(
            "n_fft: FFT window (samples)",
            options=[256, 512, 1024, 2048, 4096, 8192],
            value=config.N_FFT,
            format_func=lambda v: study_label(v, config.N_FFT),
        )
        hop_length = st.select_slider(
            "hop_length: hop between frames (samples)",
            options=[128, 256, 512, 1024, 2048],
            value=config.HOP_LENGTH,
            format_func=lambda v: study_label(v, config.HOP_LENGTH),
        )
        n_mels = st.select_slider(
            "n_mels: mel bands",
            options=[16, 20, 26, 32, 40, 64, 80, 96, 128, 160, 256],
            value=config.N_MELS,
            format_func=lambda v: study_label(v, config.N_MELS),
        )
        n_mfcc = st.select_slider(
            "n_mfcc: coefficients kept",
            options=list(range(1, 41)),
            value=config.N_MFCC,
            format_func=lambda v: study_label(v, config.N_MFCC),
        )
        st.caption(
            f"Sample rate {config.SR} Hz (study). Clips are analysed over their first "
            f"{represent.MAX_DURATION:.0f} s, the study's clip length."
        )
    return {"n_fft": n_fft, "hop_length": hop_length, "n_mels": n_mels, "n_mfcc": n_mfcc}


def pick_clip():
    """Widgets to choose a clip; return (name, Decoded) or None when nothing is chosen yet."""
    examples = data.example_clips()
    sources = [s for s in SOURCES if s != "librosa example" or examples]
    source = st.radio("Clip from", sources, horizontal=True)
    limit = represent.MAX_DURATION
    if source == "Dataset":
        dataset = data.dataset(str(data.dataset_root()))
        counts = dataset.counts()
        left, right = st.columns(2)
        label = left.selectbox(
            "Class", dataset.classes, format_func=lambda c: f"{c} ({counts[c]} track{'s' if counts[c] != 1 else ''})"
        )
        tracks = [t for t in dataset.tracks if t.label == label]
        track = right.selectbox("Track", tracks, format_func=lambda t: t.path.name)
        return dataset.relpath(track), data.decoded(str(track.path), limit)
    if source == "Upload":
        upload = st.file_uploader("Audio file", type=widgets.UPLOAD_TYPES, help="Decoded in memory; never stored.")
        if upload is None:
            return None
        return upload.name, explore.decoded_bytes(upload.getvalue(), upload.name, limit)
    if source == "Microphone":
        recording = st.audio_input("Record a clip", sample_rate=None)
        if recording is None:
            return None
        return "microphone recording", explore.decoded_bytes(recording.getvalue(), "microphone recording", limit)
    clip = st.selectbox("Example", examples, format_func=lambda c: f"{c.key}: {c.description}")
    return f"librosa example {clip.key!r}", data.decoded(str(example_path(clip.key)), limit)


def clip_caption(name: str, clip) -> str:
    """What is analysed: name, duration, rates, channels, and how much of a longer file."""
    longer = clip.truncated and clip.source_duration - clip.duration > 0.5  # GTZAN's 30.01-s clips are not "longer"
    note = f", its first {clip.duration:.0f} s of {clip.source_duration:.1f} s" if longer else ""
    channels = f"{clip.channels} channel{'s' if clip.channels > 1 else ''}"
    return f"**{name}**: {clip.duration:.1f} s at {clip.sr} Hz analysed (source {clip.native_sr} Hz, {channels}{note})."


def show_representations(name: str, clip, p: dict) -> None:
    """The study's walk from waveform to MFCCs, then the tagger's view: one section per step, drawn when open."""
    y, sr = clip.y, clip.sr
    key = explore.clip_key(y, sr)
    st.caption(clip_caption(name, clip))
    st.audio(explore.wav_bytes(key, y, sr), format="audio/wav")
    st.caption(
        "Each step of the study's path is a section: open the ones you want. A section is computed when it is "
        "opened and kept for this clip and these parameters."
    )
    interactive = st.toggle(
        "Interactive figures (zoom, hover)",
        value=False,
        key="explore_interactive",
        help="Off: the figures are images drawn on the server, at most one column of data "
        "per pixel, with no hover or zoom; a new tab shows them at once. On: plotly figures you can zoom into and "
        "read values from; a new tab then first loads plotly's 4.7 MB library, several seconds on a 2-core "
        "machine. The taggram is always interactive.",
    )
    frames = dict(sr=sr, n_fft=p["n_fft"], hop_length=p["hop_length"])
    n_bins = 1 + p["n_fft"] // 2

    with explore.section("1. Waveform", key="waveform", expanded=True) as shown:
        if shown:
            st.markdown(
                "Amplitude over time, with the 10 three-second segments the study cuts each 30-s clip into "
                "(each segment is one training example); raw samples show loudness but hide pitch and timbre, "
                "so the study turns to frequency."
            )
            explore.show(explore.waveform_figure(key, y, sr, interactive))
    with explore.section("2. FFT spectrum of the whole clip", key="spectrum") as shown:
        if shown:
            st.markdown(
                "How much energy each frequency holds over the whole clip; it tells which pitches and timbres "
                "are present but averages away *when* they occur, so the study moves to short windows."
            )
            db = st.toggle("Power in dB", value=True, help="Off: linear magnitude, as in the study's tutorial figure.")
            explore.show(explore.spectrum_figure(key, y, sr, db, interactive))
    with explore.section("3. STFT spectrogram", key="stft") as shown:
        if shown:
            st.markdown(
                f"One FFT per {p['n_fft']}-sample window every {p['hop_length']} samples keeps time and "
                "frequency, but on a linear scale a few loud low bins dominate and most of the picture looks "
                "empty, so the study takes the logarithm."
            )
            explore.show(explore.stft_figure(key, y, **frames, db=False, interactive=interactive))
    with explore.section("4. Log-spectrogram (dB)", key="log") as shown:
        if shown:
            st.markdown(
                f"The same STFT in decibels, closer to how loudness is heard, reveals quiet harmonics and drums; "
                f"but its {n_bins} bins per frame spend most rows on high frequencies the ear resolves coarsely, "
                "so the study pools them into mel bands."
            )
            explore.show(explore.stft_figure(key, y, **frames, db=True, interactive=interactive))
    with explore.section("5. Mel filterbank", key="filterbank") as shown:
        if shown:
            st.markdown(
                f"The study's Figure 1: {p['n_mels']} triangular filters, narrow at low frequencies and wide at "
                f"high ones like the ear's resolution, each pooling FFT bins into one band; they shrink {n_bins} "
                f"bins to {p['n_mels']} bands, which are still many and strongly correlated."
            )
            explore.show(explore.filterbank_figure(sr, p["n_fft"], p["n_mels"], interactive))
    with explore.section("6. Mel spectrogram (dB)", key="mel") as shown:
        if shown:
            st.markdown(
                "The power spectrogram seen through those filters: compact and perceptually spaced, but "
                "neighbouring bands move together, so the study decorrelates each frame with a DCT into MFCCs."
            )
            explore.show(explore.mel_figure(key, y, **frames, n_mels=p["n_mels"], interactive=interactive))
    with explore.section("7. MFCCs", key="mfcc", expanded=True) as shown:
        if shown:
            st.markdown(
                f"The study's Figure 2: the first {p['n_mfcc']} DCT coefficients of each log-mel frame summarise "
                "its spectral envelope (timbre); these, in 3-s segments (dotted), are what the study's MLP, CNN "
                "and LSTM classify, so the study's path ends here."
            )
            n_mels, n_mfcc = p["n_mels"], p["n_mfcc"]
            explore.show(explore.mfcc_figure(key, y, **frames, n_mels=n_mels, n_mfcc=n_mfcc, interactive=interactive))
    with explore.section("8. What a pretrained tagger hears: the taggram", key="taggram") as shown:
        if shown:
            show_taggram(key, clip)


def show_taggram(key: str, clip) -> None:
    """The musicnn tagger's 50 tags over the clip, its top tags, and what the tagger is."""
    st.caption(
        "The tagger is **musicnn** (Pons & Serra, 2019), a network trained on the **Million Song Dataset**'s 50 "
        "most frequent tags (weights from its PyPI wheel, ISC licence). Its tags are genres, moods, eras and "
        "instruments; it has no *classical*, *disco* or *reggae* tag, so for those genres read its neighbours "
        "(*instrumental*, *dance*, *chill*...). Each column is one 3-s window, as the study's segments, every 1.5 s."
    )
    tg = explore.taggram(key, clip.y, clip.sr)
    top = ", ".join(f"**{tag}** {prob:.2f}" for tag, prob in tg.top(5))
    st.markdown(f"Top tags of the clip (mean probability over its {len(tg.times)} windows): {top}.")
    every = st.toggle("All 50 tags", value=False, help="Off: the 20 tags most probable over this clip.")
    st.plotly_chart(plots.taggram(tg, n_tags=None if every else 20), theme=None)


def dataset_overview() -> None:
    """Tracks per class, durations, and files that cannot be used (the rule extraction and Classify apply)."""
    try:
        root = str(data.dataset_root())
        dataset = data.dataset(root)
        survey = data.dataset_survey(root)
    except MgcError as e:
        st.error(str(e))
        return
    table = survey.table
    failures = survey.failures
    hours = table["duration"].sum(skipna=True) / 3600
    a, b, c, d = st.columns(4)
    a.metric("Tracks", len(table))
    b.metric("Classes", len(survey.classes))
    c.metric("Audio", f"{hours:.2f} h")
    d.metric("Unreadable", len(failures))
    left, right = st.columns(2)
    with left:
        st.plotly_chart(plots.class_counts(survey.counts), theme=None)
    with right:
        st.plotly_chart(plots.durations_by_class(table), theme=None)
    st.caption(
        "Each file's first 30 s (what the features use) are decoded and checked by the rule feature "
        "extraction and Classify apply: a sane header, finite samples, at least one 3-s segment, not silent."
    )
    if len(failures):
        st.markdown(f"**{len(failures)} file(s) cannot be read:**")
        st.dataframe(failures[["file", "error"]], hide_index=True)
    else:
        st.success(f"All {len(table)} files are usable.")
    if dataset.ignored:
        with st.expander(f"{len(dataset.ignored)} file(s) passed over"):
            st.write("\n".join(f"- {line}" for line in dataset.ignored))


widgets.page_header("Explore: from sound to MFCCs")
params = controls()
# only the open tab runs (on_change="rerun"): the overview reads every file's header, the clip runs its sections
clip_tab, overview_tab = st.tabs(["Clip", "Dataset overview"], key="explore_tab", on_change="rerun")

if overview_tab.open:
    with overview_tab:
        dataset_overview()

if clip_tab.open:
    with clip_tab:
        try:
            picked = pick_clip()
        except MgcError as e:
            fail(e)
        if picked is None:
            st.info("Choose a file or record a clip to see its representations.")
        else:
            try:
                show_representations(*picked, params)
            except MgcError as e:
                fail(e)
