"""The pretrained tagger's view of a clip: its 50 Million Song Dataset tags over time (a *taggram*).

musicnn (:mod:`mgc.features.musicnn`) answers, for one 3-s patch, how likely
each of the 50 most frequent tags of the Million Song Dataset is. Run over
overlapping windows, those answers become a picture of the clip, tags by time,
that sits beside the MFCCs on the Explore page: what a network trained on a
million songs hears, next to what the study's networks are given.

Each window is one input patch of the tagger, made exactly as the embedding
features make theirs (:func:`mgc.features.embed.mel_patches`): 3 s of audio at
16 kHz, its first 187 mel frames (2.98 s). Windows start every ``hop`` seconds
from the clip's start, as long as those 187 frames fit inside the clip. Work is bounded: at most
``max_windows`` windows are run, the hop is widened to cover the whole clip with
them, and only those windows are resampled, so a long file costs no more than a
short one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import AudioError, ParameterError, check_positive_int
from .embed import EMBEDDING_PARAMS, mel_patches

#: Seconds between the starts of two taggram windows, by default (windows last 3 s).
TAGGRAM_HOP = 1.5
#: Most windows a taggram runs the network on, by default (the hop widens beyond it): about 1.4 GMAC each.
MAX_TAGGRAM_WINDOWS = 40
#: Most patches per call of the network (progress is reported after each call; the calls are made equally long).
TAGGRAM_BATCH = 8


@dataclass(frozen=True)
class Taggram:
    """The tagger's 50 tag probabilities over a clip's windows.

    Attributes
    ----------
    times : np.ndarray [shape=(k,)]
        Centre of each window, in seconds from the clip's start.
    starts : np.ndarray [shape=(k,)]
        Start of each window, in seconds.
    probabilities : np.ndarray [shape=(k, 50), dtype=float32]
        Probability of each tag in each window, columns in the order of ``tags``.
    tags : tuple of str [length 50]
        The tags (:data:`mgc.features.musicnn.MSD_TAGS`).
    window : float
        Duration of a window, in seconds (3.0).
    hop : float
        Seconds between window starts, as used (wider than asked when the clip
        needed more than ``max_windows`` windows).
    duration : float
        Duration of the clip, in seconds.
    """

    times: np.ndarray
    starts: np.ndarray
    probabilities: np.ndarray
    tags: tuple[str, ...]
    window: float
    hop: float
    duration: float

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` tags with the highest mean probability over the windows, most probable first.

        Parameters
        ----------
        n : int > 0

        Returns
        -------
        list of (str, float)
            ``(tag, mean probability)`` pairs.
        """
        n = check_positive_int("n", n, upper=len(self.tags))
        mean = self.probabilities.mean(axis=0)
        order = np.argsort(-mean, kind="stable")[:n]
        return [(self.tags[i], float(mean[i])) for i in order]


def window_starts(n_samples: int, *, sr: int, hop: float = TAGGRAM_HOP, max_windows: int = MAX_TAGGRAM_WINDOWS):
    """Where the taggram's windows start in a clip of ``n_samples`` samples.

    Parameters
    ----------
    n_samples : int >= 0
        Length of the clip, in samples at ``sr``.
    sr : int > 0
        Sample rate, in Hz.
    hop : float > 0
        Seconds between window starts.
    max_windows : int > 0
        Most windows; the hop is widened so that this many cover the clip.

    Returns
    -------
    starts : np.ndarray [shape=(k,), dtype=int64]
        First sample of each window, ``1 <= k <= max_windows``.
    hop : float
        The hop used, in seconds.

    Raises
    ------
    ParameterError
        A parameter out of range.
    AudioError
        The clip is shorter than one patch of the tagger (2.98 s).
    """
    sr = check_positive_int("sr", sr)
    max_windows = check_positive_int("max_windows", max_windows)
    if isinstance(hop, bool) or not isinstance(hop, (int, float, np.number)) or not math.isfinite(hop) or hop <= 0:
        raise ParameterError(f"hop={hop!r} must be a positive number of seconds")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
        raise ParameterError(f"n_samples={n_samples!r} must be a non-negative integer")
    p = EMBEDDING_PARAMS
    patch = p.min_samples / p.sr  # seconds of audio that fill the 187 frames of one patch
    need = math.ceil(patch * sr)
    if n_samples < need:
        raise AudioError(
            f"the clip lasts {n_samples / sr:.2f} s, shorter than one {p.patch_frames}-frame patch of the tagger "
            f"({patch:.2f} s): a taggram needs a clip of at least {patch:.2f} s"
        )
    room = n_samples - need  # the last sample a window may start at
    hop_samples = max(1, round(hop * sr))
    if room // hop_samples + 1 <= max_windows:
        return np.arange(0, room + 1, hop_samples, dtype=np.int64), hop_samples / sr
    if max_windows == 1:
        return np.zeros(1, np.int64), hop_samples / sr  # one window: no hop between windows
    # too many: max_windows windows spread evenly from the start to the end of the clip
    starts = np.linspace(0, room, max_windows).round().astype(np.int64)
    return starts, room / (max_windows - 1) / sr


def _tag_probabilities(patches: np.ndarray, on_progress) -> np.ndarray:
    """The tagger's ``tags`` output for ``patches``, in equal calls of at most :data:`TAGGRAM_BATCH` patches."""
    from .embed import backbone_function

    fn = backbone_function()  # any number of patches per call: no padding to a fixed batch
    k = len(patches)
    size = math.ceil(k / math.ceil(k / TAGGRAM_BATCH))  # 19 patches: three calls of 7, not 8 + 8 + 3
    out = []
    for start in range(0, k, size):
        out.append(np.asarray(fn(patches[start : start + size])[0]))
        if on_progress is not None:
            on_progress(min(start + size, k), k, "windows")
    return np.concatenate(out).astype(np.float32)


def taggram(
    y: np.ndarray,
    *,
    sr: int,
    hop: float = TAGGRAM_HOP,
    max_windows: int = MAX_TAGGRAM_WINDOWS,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> Taggram:
    """The tagger's 50 tag probabilities over overlapping 3-s windows of a clip.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal, floating point.
    sr : int > 0
        Sample rate of ``y``, in Hz; each window is resampled to the tagger's 16 kHz.
    hop : float > 0
        Seconds between window starts (1.5 s: each moment is heard by two windows).
    max_windows : int > 0
        Most windows run through the network; for a longer clip the hop widens.
    on_progress : callable (done, total, message) or None
        Called after each call of the network, with the windows done so far.

    Returns
    -------
    Taggram

    Raises
    ------
    ParameterError
        ``y`` not mono floating point, or a parameter out of range.
    AudioError
        ``y`` shorter than one patch of the tagger (2.98 s), or non-finite where a window reads it.
    BackboneError
        The tagger's weights are not installed.
    """
    import librosa

    from .musicnn import MSD_TAGS

    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be a mono signal of shape (n,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"y must hold floating-point samples, got dtype {y.dtype}")
    starts, hop_used = window_starts(len(y), sr=sr, hop=hop, max_windows=max_windows)
    p = EMBEDDING_PARAMS
    length = math.ceil(p.segment_duration * sr)  # 3 s at the clip's rate
    windows = np.zeros((len(starts), length), np.float32)
    for row, s in zip(windows, starts, strict=True):
        piece = y[s : s + length]
        row[: len(piece)] = piece
    if not np.all(np.isfinite(windows)):
        raise AudioError("the clip holds non-finite samples (NaN or infinity)")
    if sr != p.sr:
        windows = librosa.resample(windows, orig_sr=sr, target_sr=p.sr, axis=-1)
    probabilities = _tag_probabilities(mel_patches(windows[:, : p.samples_per_segment]), on_progress)
    start_s = starts / sr
    return Taggram(
        times=start_s + p.segment_duration / 2,
        starts=start_s,
        probabilities=probabilities,
        tags=tuple(MSD_TAGS),
        window=p.segment_duration,
        hop=hop_used,
        duration=len(y) / sr,
    )
