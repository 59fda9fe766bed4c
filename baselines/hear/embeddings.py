"""HEAR scene embeddings as a cached frontend: each track cut into fixed-length chunks, one embedding per chunk.

The cache holds the chunk embeddings (chunks, scene_embedding_size), not a pooled vector, so `pool = "max"` and
`pool = "mean"` share one computation, as do all probes. Chunks follow MARBLE's pre-extraction: consecutive,
non-overlapping `chunk_seconds` windows; a last partial window shorter than `MIN_TAIL_SECONDS` (or than half a
chunk, for chunks under 2 s) is dropped, unless it is the whole track (a track shorter than a chunk is one chunk,
of its own length).
"""

from __future__ import annotations

import numpy as np
import torch

from mirbench.frontends.base import Frontend
from mirbench_baselines.hear.module import import_hear_module, load_model, scene_embeddings

#: a last partial chunk shorter than this (or than half a chunk) is dropped (MARBLE drops tails under 1 s)
MIN_TAIL_SECONDS = 1.0
POOLS = ("mean", "max")


class HEAREmbeddings(Frontend):
    """(B, T) audio at the model's rate -> (B, chunks, scene_embedding_size) scene embeddings of the chunks.

    The cache key (`key()`) holds the module's name, its version, the sha256 of its weights file ("" for none),
    the model's sample rate and embedding size, and `chunk_seconds`; where the weights file is and how many
    chunks go to the model at once (`batch_size`) are not part of it (`RUNTIME`). The model is loaded on first
    use per device, or handed over with `adopt`, and never pickled.
    """

    name = "hear"
    version = 1
    RUNTIME = ("weights", "batch_size")

    def __init__(self, module: str, module_version: str, weights: str, weights_sha256: str, sample_rate: int,
                 embedding_size: int, chunk_seconds: float = 30.0, batch_size: int = 16):
        self.module = module
        self.module_version = module_version
        self.weights = weights
        self.weights_sha256 = weights_sha256
        self.sample_rate = int(sample_rate)
        self.embedding_size = int(embedding_size)
        self.chunk_seconds = float(chunk_seconds)
        self.batch_size = int(batch_size)

    def params(self) -> dict:
        """The identity of the embeddings: every constructor parameter but the `RUNTIME` ones."""
        return {k: v for k, v in super().params().items() if k not in self.RUNTIME}

    @property
    def n_dims(self) -> int:
        return self.embedding_size

    def n_frames(self, n_samples: int) -> int:
        return len(self.chunks(n_samples))

    def chunks(self, n_samples: int) -> list[tuple[int, int]]:
        """(start, end) sample bounds of a track's chunks."""
        size = max(1, round(self.chunk_seconds * self.sample_rate))
        bounds = [(s, min(s + size, n_samples)) for s in range(0, n_samples, size)]
        shortest = min(MIN_TAIL_SECONDS * self.sample_rate, size / 2)
        if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < shortest:
            bounds.pop()
        return bounds or [(0, n_samples)]

    # -- the model ----------------------------------------------------------------------------------------------
    def adopt(self, model, device: torch.device) -> None:
        """Use an already loaded `model` on `device` instead of loading another."""
        self._cached("model", torch.device(device), lambda: model)

    def loaded(self) -> bool:
        """Whether a model was loaded (or adopted) by this frontend."""
        return any(slot[0] == "model" for slot in self.__dict__.get("_buffers", {}))

    def _model(self, device: torch.device):
        return self._cached("model", device, lambda: load_model(import_hear_module(self.module), self.module,
                                                                  self.weights, device))

    # -- computation -------------------------------------------------------------------------------------------
    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        module = import_hear_module(self.module)
        model = self._model(audio.device)
        ends = [audio.shape[1]] * audio.shape[0] if lengths is None else [int(n) for n in lengths.tolist()]
        pieces = [(row, k, s, e) for row, n in enumerate(ends) for k, (s, e) in enumerate(self.chunks(n))]
        out = torch.zeros(audio.shape[0], max(k for _, k, _, _ in pieces) + 1, self.embedding_size,
                          device=audio.device)
        by_length: dict[int, list] = {}
        for piece in pieces:  # chunks of one length go to the model together (the HEAR API takes equal lengths)
            by_length.setdefault(piece[3] - piece[2], []).append(piece)
        for group in by_length.values():
            for i in range(0, len(group), self.batch_size):
                part = group[i : i + self.batch_size]
                x = torch.stack([audio[row, s:e] for row, _, s, e in part])
                emb = scene_embeddings(module, self.module, model, x).to(audio.device)
                out[[p[0] for p in part], [p[1] for p in part]] = emb
        return out

    def reference(self, audio: np.ndarray) -> np.ndarray:
        """The same embeddings one chunk at a time (no batching): what `forward` must agree with."""
        module, x = import_hear_module(self.module), torch.as_tensor(np.asarray(audio, dtype=np.float32))
        model = self._model(torch.device("cpu"))
        rows = [scene_embeddings(module, self.module, model, x[None, s:e])[0] for s, e in self.chunks(len(x))]
        return torch.stack(rows).cpu().numpy()


def pool_chunks(chunks: np.ndarray, pool: str) -> np.ndarray:
    """One vector per track from its (chunks, dims) embeddings: their mean or their element-wise max."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    chunks = np.asarray(chunks, dtype=np.float32)
    return chunks.mean(axis=0) if pool == "mean" else chunks.max(axis=0)
