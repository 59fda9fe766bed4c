"""Frontends against librosa, batching, shapes and cache keys.

Tolerances against the librosa reference (both sides compute in float32; the
differences are FFT/BLAS rounding, largest in near-silent bins):
- STFT magnitude: relative Frobenius error < 1e-6 (seen: ~1e-7);
- mel, log1p compression: relative Frobenius error < 1e-4 (seen: ~1e-7 on
  music-like audio, 3e-5 on a tone decaying into near-silence);
- mel in dB and MFCC: max absolute error < 1e-2 (dB / MFCC units) and relative
  Frobenius error < 1e-5 (seen: max abs <= 1e-3, relative ~2e-7);
- waveform: exact.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.signal
import torch

from mirbench import registry
from mirbench.frontends import MFCC, Frontend, LogMel, STFTMagnitude, Waveform

SR = 22050
LENGTHS = [SR * 2 + 17, 4097, 1001, 300]  # odd lengths, and shorter than n_fft


def music_like(n: int, seed: int = 0) -> np.ndarray:
    """A log chirp, a decaying harmonic tone repeated twice a second, and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    chirp = scipy.signal.chirp(t, 50, max(t[-1], 1e-3), 8000, method="logarithmic")
    env = np.exp(-3 * (t % 0.5))
    tones = sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 8)) * env
    return (0.2 * chirp + 0.5 * tones + 0.02 * rng.standard_normal(n)).astype(np.float32)


def decay_into_silence(n: int = SR * 2 + 333) -> np.ndarray:
    """A tone that stops dead, exact silence, then noise at -100 dB: stresses log and top_db."""
    t = np.arange(n) / SR
    y = np.sin(2 * np.pi * 440 * t) * np.exp(-4 * t)
    y[SR // 2 : SR] = 0
    y[SR : SR + 3000] += 1e-5 * np.random.default_rng(1).standard_normal(3000)
    return y.astype(np.float32)


FRONTENDS = {
    "stft": STFTMagnitude(),
    "stft-nocenter": STFTMagnitude(n_fft=512, hop_length=256, center=False),
    "logmel": LogMel(),
    "logmel-power": LogMel(power=2.0, n_mels=64, fmin=30.0, fmax=8000.0),
    "logmel-db": LogMel(compression="db"),
    "logmel-short-window": LogMel(sample_rate=16000, n_fft=512, hop_length=256, win_length=256),
    "logmel-power-db": LogMel(power=2.0, compression="db"),
    "mfcc": MFCC(),
    "mfcc-40": MFCC(n_mfcc=40, n_fft=1024, n_mels=96),
    "waveform": Waveform(),
}


def errors(out: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    rel = float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))
    return rel, float(np.abs(out - ref).max(initial=0.0))


def check_against_reference(fe: Frontend, y: np.ndarray, device: str = "cpu") -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns when n_fft exceeds the signal
        ref = fe.reference(y)
    out = fe(torch.from_numpy(y)[None].to(device))[0].cpu().numpy()
    assert out.dtype == np.float32 and ref.dtype == np.float32
    assert out.shape == ref.shape == (fe.n_frames(len(y)), fe.n_dims)
    rel, max_abs = errors(out, ref)
    if isinstance(fe, Waveform):
        assert max_abs == 0.0
    elif isinstance(fe, STFTMagnitude):
        assert rel < 1e-6, rel
    elif isinstance(fe, LogMel) and fe.compression == "log1p":
        assert rel < 1e-4, rel
    else:  # dB mel and MFCC
        assert rel < 1e-5 and max_abs < 1e-2, (rel, max_abs)


@pytest.mark.parametrize(
    "name, n", [(name, n) for name, fe in FRONTENDS.items() for n in LENGTHS if fe.n_frames(n) > 0]
)
def test_matches_librosa(name, n):
    check_against_reference(FRONTENDS[name], music_like(n))


@pytest.mark.parametrize("name", list(FRONTENDS))
def test_matches_librosa_near_silence(name):
    check_against_reference(FRONTENDS[name], decay_into_silence())


def test_stft_pads_with_zeros_like_librosa():
    """librosa >= 0.10 centres with pad_mode='constant'; reflect padding would change the edge frames."""
    import librosa

    y = music_like(5000)
    fe = STFTMagnitude()
    out = fe(torch.from_numpy(y)[None])[0].numpy()
    reflect = np.abs(librosa.stft(y, n_fft=1024, hop_length=512, pad_mode="reflect")).T
    assert errors(out[0], reflect[0])[0] > 1e-2  # the test can tell the modes apart
    assert errors(out[0], fe.reference(y)[0])[0] < 1e-6


@pytest.mark.parametrize("name", list(FRONTENDS))
def test_batched_equals_one_by_one(name):
    """Zero padding to the longest row leaks into none of a row's own frames."""
    fe = FRONTENDS[name]
    ys = [music_like(n, seed=i) for i, n in enumerate([SR + 511, 7000, SR * 2, 2049])]
    batch = torch.zeros(len(ys), max(map(len, ys)))
    for row, y in enumerate(ys):
        batch[row, : len(y)] = torch.from_numpy(y)
    out = fe(batch, lengths=torch.tensor([len(y) for y in ys]))
    assert out.shape == (len(ys), fe.n_frames(batch.shape[1]), fe.n_dims)
    for row, y in enumerate(ys):
        alone = fe(torch.from_numpy(y)[None])[0]
        np.testing.assert_allclose(out[row, : fe.n_frames(len(y))], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fe", [MFCC(), LogMel(compression="db")], ids=["mfcc", "logmel-db"])
def test_top_db_floor_uses_only_each_rows_frames(fe):
    """The per-track dB floor (peak - 80 dB) ignores frames past n_frames(length).

    A click at the very end of a silent track lands in the centre of the first
    frame past the track's own frames; counting that frame would raise the
    floor in the silent frames by about 6 dB.
    """
    hop = fe.hop_length
    short = np.zeros(10 * hop + hop - 1, dtype=np.float32)
    short[-8:] = 1.0
    long = music_like(20 * hop)
    batch = torch.zeros(2, len(long))
    batch[0, : len(short)] = torch.from_numpy(short)
    batch[1] = torch.from_numpy(long)
    k = fe.n_frames(len(short))
    ref = fe.reference(short)
    with_lengths = fe(batch, lengths=torch.tensor([len(short), len(long)]))[0, :k].numpy()
    without = fe(batch)[0, :k].numpy()
    assert np.abs(with_lengths - ref).max() < 1e-2
    assert np.abs(without - ref).max() > 1.0  # so the check above can fail


def test_n_frames_and_dims():
    assert STFTMagnitude().n_frames(SR) == 1 + SR // 512
    assert STFTMagnitude(n_fft=1024, hop_length=512, center=False).n_frames(SR) == 1 + (SR - 1024) // 512
    assert STFTMagnitude(center=False).n_frames(1000) == 0
    assert MFCC(hop_length=256).n_frames(1) == 1
    assert Waveform().n_frames(1234) == 1234
    assert (STFTMagnitude().n_dims, LogMel().n_dims, MFCC().n_dims, Waveform().n_dims) == (513, 128, 20, 1)
    out = Waveform()(torch.arange(6.0).reshape(2, 3))
    assert out.shape == (2, 3, 1) and out.dtype == torch.float32
    assert out[1, :, 0].tolist() == [3.0, 4.0, 5.0]


def test_short_audio_without_centering_gives_no_frames():
    fe = STFTMagnitude(center=False)
    assert fe(torch.zeros(2, 100)).shape == (2, 0, 513)


def test_input_checks():
    with pytest.raises(ValueError, match="batch, samples"):
        LogMel()(torch.zeros(100))
    with pytest.raises(TypeError, match="torch.Tensor"):
        LogMel()(np.zeros((1, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="compression"):
        LogMel(compression="sqrt")
    with pytest.raises(ValueError, match="power"):
        LogMel(power=0.5)
    assert LogMel()(torch.zeros(1, 2048, dtype=torch.float64)).dtype == torch.float32


def test_params_and_key():
    fe = LogMel()
    assert fe.params() == {
        "sample_rate": 22050, "n_fft": 1024, "hop_length": 512, "win_length": None, "n_mels": 128, "fmin": 0.0,
        "fmax": None, "power": 1.0, "compression": "log1p", "C": 10000.0, "top_db": 80.0,
    }  # fmt: skip
    assert fe.key() == LogMel().key() == LogMel(C=10000, fmin=0).key()  # stable, types normalised
    assert fe.key().startswith("logmel-v2-")
    keys = {
        fe.key(),
        LogMel(n_mels=96).key(),
        LogMel(sample_rate=16000).key(),
        LogMel(compression="db").key(),
        LogMel(power=2.0).key(),
        MFCC().key(),
        STFTMagnitude().key(),
        Waveform().key(),
    }
    assert len(keys) == 8


def test_key_changes_with_version():
    class NextLogMel(LogMel):
        version = LogMel.version + 1

    assert NextLogMel().key() != LogMel().key()


def test_key_is_stable_across_processes():
    """The key is a content hash, not Python's randomised hash(): pinned here."""
    import hashlib
    import json

    blob = json.dumps({"name": "waveform", "version": 1, "params": {"sample_rate": 22050}},
                      sort_keys=True, separators=(",", ":"))  # fmt: skip
    assert Waveform().key() == f"waveform-v1-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def test_registry_names_resolve():
    for name, cls in [("stft", STFTMagnitude), ("logmel", LogMel), ("mfcc", MFCC), ("waveform", Waveform)]:
        assert registry.frontends.get(name) is cls
        assert cls.name == name


def test_pickles_without_device_buffers():
    fe = MFCC()
    fe(torch.zeros(1, 4096))  # builds window, filterbank and DCT buffers
    clone = pickle.loads(pickle.dumps(fe))
    assert "_buffers" not in clone.__dict__ and clone.key() == fe.key()
    y = torch.from_numpy(music_like(5000))[None]
    torch.testing.assert_close(clone(y), fe(y))


def test_gradients_flow_through_frontend():
    """Frontends can sit inside a model: the forward pass is differentiable."""
    y = torch.from_numpy(music_like(4096))[None].requires_grad_(True)
    LogMel()(y).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(FRONTENDS))
def test_cuda_matches_cpu_and_librosa(name):
    fe = FRONTENDS[name]
    y = music_like(SR + 123)
    out = fe(torch.from_numpy(y)[None].cuda())
    assert out.device.type == "cuda" and out.dtype == torch.float32
    torch.testing.assert_close(out.cpu(), fe(torch.from_numpy(y)[None]), rtol=1e-4, atol=1e-3)
    check_against_reference(fe, y, device="cuda")
    check_against_reference(fe, decay_into_silence(), device="cuda")


@pytest.mark.parametrize("name", ["../outside", "a/b", ".hidden", ""])
def test_a_frontend_name_that_is_no_plain_file_name_is_refused(name):
    """The name is the feature cache's folder name: '../x' would write entries outside features/."""
    from mirbench.frontends import Waveform

    bad = type("Bad", (Waveform,), {"name": name})()
    with pytest.raises(ValueError, match="is not a plain name"):
        bad.key()


@pytest.mark.parametrize("name", ["logmel", "logmel-db", "logmel-power-db", "mfcc", "stft"])
def test_in_place_blocked_path_equals_the_differentiable_one(name):
    """On the CPU without autograd, clips go block by block with in-place compression; with autograd, the whole
    batch at once without in-place ops: both give the same features."""
    fe = FRONTENDS[name]
    y = torch.from_numpy(np.stack([music_like(SR * 3, seed=0), music_like(SR * 3, seed=1)]))
    lengths = torch.tensor([SR * 3, SR * 2])
    with torch.no_grad():
        blocked = fe(y, lengths)
    whole = fe(y.clone().requires_grad_(True), lengths).detach()
    torch.testing.assert_close(blocked, whole, rtol=1e-5, atol=1e-5)
