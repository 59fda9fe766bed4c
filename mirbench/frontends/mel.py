"""Log-compressed mel spectrograms (Dieleman & Schrauwen 2014), and the mel/dB helpers MFCC shares.

The mel spectrogram is `librosa.feature.melspectrogram(power=power)`: the
|STFT| ** power projected on `librosa.filters.mel` (Slaney scale and area
normalisation, librosa's defaults). The default `power=1.0` (magnitude) with
`log(1 + C * mel)`, C = 10000, follows the paper; `compression="db"` gives
`librosa.amplitude_to_db` (power 1) or `librosa.power_to_db` (power 2) with
ref=1 and librosa's `top_db` floor, applied per track. `win_length` shorter than
`n_fft` zero-pads each window to n_fft samples: the time resolution of a short
window with enough FFT bins that no mel band is empty.
"""

from __future__ import annotations

import numpy as np
import torch

from mirbench.frontends.base import Frontend, valid_frames
from mirbench.frontends.stft import in_place, n_stft_frames, spectrogram, window_array

COMPRESSIONS = ("log1p", "db")
AMIN_POWER = 1e-10  # librosa.power_to_db's amin (amplitude_to_db's 1e-5, squared)


def mel_basis_array(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """librosa's mel filterbank transposed to (n_fft // 2 + 1, n_mels), for `spec @ basis`."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).T


class BandedProjection:
    """`spec @ basis` for a filterbank whose filters each cover a narrow band of bins (mel): block by block of
    `per_block` filters, each block multiplying only the bins its filters cover. The same result as the dense
    product at an eighth of its arithmetic for 128 mel bands, 2-3x faster on the CPU; with `out`, each block's
    product is written straight into its columns of `out`."""

    def __init__(self, basis: torch.Tensor, per_block: int = 16):
        self.n_dims = basis.shape[1]
        self.blocks = []
        for start in range(0, basis.shape[1], per_block):
            block = basis[:, start : start + per_block]
            covered = torch.nonzero(block.abs().sum(dim=1)).flatten()
            lo, hi = (int(covered[0]), int(covered[-1]) + 1) if len(covered) else (0, 0)
            self.blocks.append((lo, hi, start, block[lo:hi].contiguous()))

    def __call__(self, spec: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is None:
            return torch.cat([spec[..., lo:hi] @ block for lo, hi, _, block in self.blocks], dim=-1)
        rows, columns = spec.reshape(-1, spec.shape[-1]), out.view(-1, self.n_dims)
        for lo, hi, start, block in self.blocks:
            torch.mm(rows[:, lo:hi], block, out=columns[:, start : start + block.shape[1]])
        return out


def mel_projection(frontend: Frontend, device, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax) -> BandedProjection:
    """The frontend's mel filterbank on `device` as a `BandedProjection`, built once."""
    basis = frontend._buffer("mel", device, lambda: mel_basis_array(sample_rate, n_fft, n_mels, fmin, fmax))
    return frontend._cached("mel-bands", device, lambda: BandedProjection(basis))


def power_to_db(
    power: torch.Tensor, top_db: float | None, valid: torch.Tensor | None = None
) -> torch.Tensor:  # fmt: skip
    """`librosa.power_to_db(ref=1.0, amin=1e-10, top_db=top_db)` of (B, frames, dims), per row, in place unless
    autograd needs the input.

    The floor `peak - top_db` uses each row's peak over its first `valid[row]` frames (all without `valid`).
    """
    db = power.clamp_(min=AMIN_POWER).log10_().mul_(10.0) if in_place(power) else 10.0 * torch.log10(
        torch.clamp(power, min=AMIN_POWER)
    )
    if top_db is None:
        return db
    if valid is None or bool((valid >= db.shape[1]).all()):
        peak = db.amax(dim=(1, 2), keepdim=True)
    else:
        mask = torch.arange(db.shape[1], device=db.device)[None, :] < valid.to(db.device)[:, None]
        peak = db.masked_fill(~mask[:, :, None], float("-inf")).amax(dim=(1, 2), keepdim=True)
    floor = peak - float(top_db)
    return torch.maximum(db, floor, out=db) if in_place(db) else torch.maximum(db, floor)


def log1p_compress(mel: torch.Tensor, C: float) -> torch.Tensor:
    """log(1 + C * mel), in place unless autograd needs the input."""
    return mel.mul_(C).log1p_() if in_place(mel) else torch.log1p(C * mel)


class LogMel(Frontend):
    """Mel spectrogram frames with log compression, n_mels dims."""

    name = "logmel"
    version = 2  # 2: the STFT of version 2 and the mel filterbank band by band; equal to 1 up to float32 rounding

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 512,
        win_length: int | None = None,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        power: float = 1.0,
        compression: str = "log1p",
        C: float = 10000.0,
        top_db: float | None = 80.0,
    ):
        if compression not in COMPRESSIONS:
            raise ValueError(f"LogMel compression must be one of {COMPRESSIONS}, got {compression!r}")
        if float(power) not in (1.0, 2.0):
            raise ValueError(f"LogMel power must be 1.0 (magnitude) or 2.0 (power), got {power!r}")
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        if win_length is not None and not 0 < int(win_length) <= self.n_fft:
            raise ValueError(f"LogMel win_length must be in 1..n_fft ({self.n_fft}), got {win_length!r}")
        self.win_length = None if win_length is None else int(win_length)
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.power = float(power)
        self.compression = str(compression)
        self.C = float(C)
        self.top_db = None if top_db is None else float(top_db)

    @property
    def n_dims(self) -> int:
        return self.n_mels

    def n_frames(self, n_samples: int) -> int:
        return n_stft_frames(n_samples, self.n_fft, self.hop_length, center=True)

    def mel(self, audio: torch.Tensor, finish=None) -> torch.Tensor:
        """The uncompressed mel spectrogram (B, frames, n_mels), or `finish(mel, rows)` of it clip by clip."""
        window = self._buffer("window", audio.device, lambda: window_array("hann", self.n_fft, self.win_length))
        project = mel_projection(self, audio.device, self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)
        return spectrogram(audio, self.n_fft, self.hop_length, window, True, self.power, project, finish)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.compression == "log1p":
            return self.mel(audio, lambda mel, rows: log1p_compress(mel, self.C))
        valid = valid_frames(self, lengths)

        def to_db(mel: torch.Tensor, rows: slice) -> torch.Tensor:
            as_power = mel if self.power == 2.0 else mel.square_() if in_place(mel) else mel.square()
            return power_to_db(as_power, self.top_db, None if valid is None else valid[rows])

        return self.mel(audio, to_db)

    def reference(self, audio: np.ndarray) -> np.ndarray:
        import librosa

        mel = librosa.feature.melspectrogram(
            y=np.asarray(audio, dtype=np.float32),
            sr=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            power=self.power,
        )
        if self.compression == "log1p":
            out = np.log1p(self.C * mel)
        elif self.power == 1.0:
            out = librosa.amplitude_to_db(mel, ref=1.0, top_db=self.top_db)
        else:
            out = librosa.power_to_db(mel, ref=1.0, top_db=self.top_db)
        return out.T.astype(np.float32)
