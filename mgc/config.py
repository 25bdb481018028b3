"""The study's constants, in one place.

Every default of the library comes from here, so that the values the study used
(Velardo-style GTZAN pipeline: 10 x 3-s segments, 13 MFCCs, n_fft 2048, hop 512)
are stated once and can be pointed at from the docs and the dashboard.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: Sample rate of GTZAN and of every feature the library computes, in Hz.
SR = 22050
#: Length of one GTZAN clip, in seconds.
TRACK_DURATION = 30
#: Number of equal segments a 30-s clip is cut into.
SEGMENTS_PER_TRACK = 10
#: FFT window length, in samples.
N_FFT = 2048
#: Hop between STFT frames, in samples.
HOP_LENGTH = 512
#: Number of MFCCs per frame.
N_MFCC = 13
#: Number of mel bands behind the MFCCs (librosa's default, which the study kept).
N_MELS = 128

#: Samples in one segment: sr * duration / segments = 66150 (3 s).
SAMPLES_PER_SEGMENT = SR * TRACK_DURATION // SEGMENTS_PER_TRACK
#: MFCC frames per segment, as the study's code computes it: ceil(66150 / 512) = 130.
FRAMES_PER_SEGMENT = math.ceil(SAMPLES_PER_SEGMENT / HOP_LENGTH)

#: The ten GTZAN genres, for reference only: class names always come from folders.
GTZAN_GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

#: Audio file endings the library reads.
AUDIO_EXTENSIONS = (".wav", ".au", ".snd", ".flac", ".ogg", ".mp3", ".aif", ".aiff")

#: The study's Table 2: test accuracy and test "error" (which matches cross-entropy loss).
PAPER_TABLE2 = {
    "mlp": {"accuracy": 0.6024, "error": 3.31},
    "lstm": {"accuracy": 0.6795, "error": 1.12},
    "cnn": {"accuracy": 0.7443, "error": 0.88},
}
#: The study's three networks, in the order every table shows them.
STUDY_MODELS = ("mlp", "cnn", "lstm")
#: Every model the library trains: the study's three and, beyond the study, the transfer head on a
#: pretrained tagger's embeddings (the study's future work).
MODEL_NAMES = (*STUDY_MODELS, "transfer")
#: Names the study gives its models (and ours for the fourth).
MODEL_TITLES = {"mlp": "MLP", "cnn": "CNN", "lstm": "RNN-LSTM", "transfer": "Transfer (musicnn)"}
#: What kind of features each model learns from (:mod:`mgc.features.kinds`).
MODEL_FEATURES = {"mlp": "mfcc", "cnn": "mfcc", "lstm": "mfcc", "transfer": "embedding"}


def model_title(name: str) -> str:
    """The study's name of a model (``'lstm'`` -> ``'RNN-LSTM'``); an unknown name is returned as it is."""
    return MODEL_TITLES.get(name, name)


def artifacts_dir() -> Path:
    """Where runs and caches live: ``$MGC_ARTIFACTS``, else ``artifacts/`` of the checkout."""
    env = os.environ.get("MGC_ARTIFACTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "artifacts"
