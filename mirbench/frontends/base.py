"""The `Frontend` contract: a batched torch feature extractor with a librosa reference and a cache key.

Subclasses store their constructor arguments as attributes of the same name
(as scikit-learn estimators do), implement `forward`, `n_frames`, `n_dims` and
`reference`, and bump `version` whenever their output changes for the same
parameters, so cached features computed by an older version are not reused.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from typing import Callable, ClassVar

import numpy as np
import torch


#: A frontend's name is a folder name of the feature cache.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Frontend:
    """Audio (B, T) -> features (B, frames, dims), float32, on the input's device.

    `__init__` only stores parameters; tensors the computation needs (windows,
    filterbanks) are built on first use per device and dtype and kept.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    sample_rate: int

    # -- identity -------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def params(self) -> dict:
        """All constructor parameters, JSON-able, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def key(self) -> str:
        """A stable hash of name, version and parameters: the feature cache's directory name (so the name must be
        a plain file name: a '/' or '..' would put entries outside the cache's features/ folder)."""
        if not isinstance(self.name, str) or not SAFE_NAME.fullmatch(self.name):
            raise ValueError(f"frontend {type(self).__name__}: name {self.name!r} is not a plain name (letters, digits, "
                             "'.', '_' and '-', starting with a letter or digit); rename it")
        blob = json.dumps(
            {"name": self.name, "version": self.version, "params": self.params()},
            sort_keys=True,
            separators=(",", ":"),
        )
        return f"{self.name}-v{self.version}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def __getstate__(self) -> dict:
        # Device buffers are rebuilt on demand; never pickle (CUDA) tensors.
        return {k: v for k, v in self.__dict__.items() if k != "_buffers"}

    # -- computation ----------------------------------------------------------
    def __call__(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Features of a zero-padded batch.

        `lengths` (B,) gives each row's true length in samples; frontends with a
        per-track normalisation (the dB `top_db` floor) use only the frames
        `n_frames(length)` of each row, so padding never changes those frames.
        Without it every row is taken as full length.
        """
        if not isinstance(audio, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(audio).__name__}")
        if audio.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects audio of shape (batch, samples), got {tuple(audio.shape)}"
            )
        audio = audio.to(torch.float32)
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=audio.device).reshape(-1)
            if lengths.shape[0] != audio.shape[0]:
                raise ValueError(f"lengths has {lengths.shape[0]} entries for a batch of {audio.shape[0]}")
        return self.forward(audio, lengths)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def n_frames(self, n_samples: int) -> int:
        """Number of feature frames for audio of `n_samples` samples."""
        raise NotImplementedError

    @property
    def n_dims(self) -> int:
        """Size of one feature frame."""
        raise NotImplementedError

    def reference(self, audio: np.ndarray) -> np.ndarray:
        """The same features computed with librosa on 1-D `audio`: (frames, dims) float32."""
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------
    def _buffer(
        self, name: str, device: torch.device, build: Callable[[], np.ndarray]
    ) -> torch.Tensor:
        """A constant float32 tensor on `device`, built once from numpy by `build` and kept."""
        return self._cached(name, device, lambda: torch.as_tensor(np.asarray(build(), dtype=np.float32), device=device))

    def _cached(self, name: str, device: torch.device, build: Callable[[], object]):
        """Anything built once per device by `build` and kept (never pickled: see `__getstate__`)."""
        buffers = self.__dict__.setdefault("_buffers", {})
        slot = (name, str(device))
        if slot not in buffers:
            buffers[slot] = build()
        return buffers[slot]


def valid_frames(frontend: Frontend, lengths: torch.Tensor | None) -> torch.Tensor | None:
    """(B,) the frames `frontend.n_frames(length)` of each row that belong to the track itself; None if no lengths."""
    if lengths is None:
        return None
    return torch.tensor([frontend.n_frames(int(n)) for n in lengths.tolist()])
