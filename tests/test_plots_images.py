"""The Explore figures drawn as images (mgc.plots.images): what the pixels show, on synthetic signals."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mgc.audio import represent
from mgc.errors import ParameterError
from mgc.plots import images

SR = 22050


def _pixels(picture: images.Picture) -> np.ndarray:
    image = Image.open(io.BytesIO(picture.png))
    assert image.size == (images.WIDTH, images.HEIGHT)
    return np.asarray(image.convert("RGB"), dtype=int)


def _area(frame_right: int) -> tuple[slice, slice]:
    """Rows and columns strictly inside the plot area of an image whose plot area ends at ``frame_right``."""
    return slice(images.TOP + 2, images.HEIGHT - images.BOTTOM - 1), slice(images.LEFT + 2, frame_right - 1)


HEAT_RIGHT = images.WIDTH - images.RIGHT


def test_colour_scales_have_a_dark_floor_and_diverge_blue_to_red():
    magma = images.colormap("Magma")
    assert magma.shape == (256, 3) and magma.dtype == np.uint8
    assert magma[0].sum() < 40 and magma[-1].sum() > 600  # quiet is dark, loud is bright
    assert np.all(np.diff(magma.astype(int).sum(axis=1)) >= -3)  # brightness rises along the scale
    rdbu = images.colormap("RdBu_r")
    assert rdbu[0, 2] > rdbu[0, 0] and rdbu[-1, 0] > rdbu[-1, 2]  # low blue, high red
    with pytest.raises(ParameterError, match="colormap name='Nope'"):
        images.colormap("Nope")


@pytest.mark.parametrize("lo, hi", [(0.0, 30.0), (-80.0, 0.0), (0.0, 11025.0), (-3.7, 4.2)])
def test_ticks_are_round_and_inside_the_range(lo, hi):
    ticks = images.nice_ticks(lo, hi)
    assert 3 <= len(ticks) <= 12
    assert ticks.min() >= lo - 1e-9 and ticks.max() <= hi + 1e-9
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5))


def test_a_tone_is_the_brightest_row_at_its_frequency_in_the_log_spectrogram():
    t = np.arange(5 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    spec = represent.log_spectrogram(y, sr=SR, n_fft=2048, hop_length=512)
    picture = images.spectrogram(spec)
    assert picture.title == "Log-spectrogram (STFT in dB)"
    assert "n_fft=2048, hop_length=512" in picture.caption
    rows, cols = _area(HEAT_RIGHT)
    brightness = _pixels(picture)[rows, cols].sum(axis=2).mean(axis=1)
    row = rows.start + int(np.argmax(brightness))
    # the plot area spans 0 Hz (bottom) to the top bin's frequency (top)
    top, bottom = images.TOP, images.HEIGHT - images.BOTTOM
    frequency = (bottom - row) / (bottom - top) * spec.frequencies[-1]
    assert abs(frequency - 3000) < 2 * spec.frequencies[-1] / (bottom - top) + SR / 2048


def test_a_long_clip_is_drawn_at_one_column_per_pixel_and_a_late_event_stays_visible():
    y = np.zeros(30 * SR, dtype=np.float32)
    y[int(27.0 * SR) : int(27.05 * SR)] = 0.8 * np.sin(2 * np.pi * 5000 * np.arange(int(0.05 * SR)) / SR)
    y += 1e-4 * np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)
    spec = represent.log_spectrogram(y, sr=SR, n_fft=512, hop_length=128)
    assert spec.S.shape[1] > 4 * (HEAT_RIGHT - images.LEFT)  # many more frames than pixels
    pixels = _pixels(images.spectrogram(spec))
    rows, cols = _area(HEAT_RIGHT)
    column_brightness = pixels[rows, cols].sum(axis=2).max(axis=0)
    peak = cols.start + int(np.argmax(column_brightness))
    x = images.LEFT + 27.025 / spec.times[-1] * (HEAT_RIGHT - images.LEFT)
    assert abs(peak - x) <= 3  # pooled by max: a 50-ms burst survives, at its time


def test_the_waveform_envelope_is_drawn_where_the_sound_is():
    y = np.zeros(30 * SR, dtype=np.float32)
    y[15 * SR :] = 0.5 * np.sin(2 * np.pi * 220 * np.arange(15 * SR) / SR)
    picture = images.waveform(represent.waveform(y, sr=SR, max_points=1600))
    pixels = _pixels(picture)
    rows, cols = _area(images.WIDTH - 24)
    blue = (pixels[rows, cols, 2] > 140) & (pixels[rows, cols, 0] < 110)
    per_column = blue.sum(axis=0)
    half = per_column.size // 2
    assert per_column[: half - 5].max() <= 2  # silence: at most the one-pixel line at zero
    assert np.median(per_column[half + 5 :]) > 50  # the tone fills a band of the height around zero


def test_mfcc_picture_names_the_parameters_and_marks_the_segments():
    t = np.arange(30 * SR) / SR
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.2 * t))).astype(np.float32)
    segments, _ = represent.segment_bounds(len(y), sr=SR)
    m = represent.mfcc(y, sr=SR, n_mfcc=13)
    picture = images.mfcc(m, segments=segments)
    assert picture.title == "MFCCs"
    assert "n_mfcc=13, n_mels=128, n_fft=2048, hop_length=512" in picture.caption
    pixels = _pixels(picture)
    rows, _ = _area(HEAT_RIGHT)
    end = m.times[-1]
    for start in (3.0, 15.0, 27.0):
        x = int(round(images.LEFT + start / end * (HEAT_RIGHT - images.LEFT)))
        dark = (pixels[rows, x - 1 : x + 2].sum(axis=2) < 200).any(axis=1)
        assert dark.sum() > 0.2 * dark.size  # the dotted line at the segment's start


def test_the_spectrum_of_a_tone_peaks_at_its_frequency():
    t = np.arange(5 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    spec = represent.power_spectrum(y, sr=SR, max_points=1600)
    picture = images.power_spectrum(spec, db=True)
    assert picture.title == "FFT: power spectrum of the whole clip" and "bin spacing" in picture.caption
    pixels = _pixels(picture)
    rows, cols = _area(images.WIDTH - 24)
    line = (pixels[rows, cols, 2] > 140) & (pixels[rows, cols, 0] < 110)
    highest = np.array([np.flatnonzero(c)[0] if c.any() else line.shape[0] for c in line.T])
    peak = cols.start + int(np.argmin(highest))  # the column whose line reaches highest
    x = images.LEFT + 3000 / (SR / 2) * (images.WIDTH - 24 - images.LEFT)
    assert abs(peak - x) <= 3
    assert images.power_spectrum(spec, db=False).title == "FFT: magnitude spectrum of the whole clip"


def test_the_filterbank_draws_narrow_low_filters_and_wide_high_ones_in_two_colours():
    bank = represent.mel_filterbank(sr=SR, n_fft=2048, n_mels=20)
    picture = images.mel_filterbank(bank)
    assert picture.caption.startswith("20 filters, n_fft=2048, sr=22050 Hz")
    pixels = _pixels(picture)
    rows, cols = _area(images.WIDTH - 24)
    orange = (pixels[rows, cols, 0] > 200) & (pixels[rows, cols, 2] < 100)
    blue = (pixels[rows, cols, 2] > 140) & (pixels[rows, cols, 0] < 110)
    assert orange.any() and blue.any()
    # the peaks (top row of the plot area, weight 1) are dense at low frequencies, sparse at high ones
    top = (orange | blue)[: max(3, orange.shape[0] // 20)].any(axis=0)
    changes = np.flatnonzero(np.diff(top.astype(int)) == 1)
    half = top.size // 2
    assert (changes < half).sum() > 2 * (changes >= half).sum()
