"""`hear`: any HEAR 2021 module's scene embeddings (a cached frontend), pooled over chunks, then a probe."""

from __future__ import annotations

import math
import time

import numpy as np

from mirbench.errors import InputError
from mirbench.system import System, TrackSet, is_int
from mirbench_baselines.hear.embeddings import POOLS, HEAREmbeddings, pool_chunks
from mirbench_baselines.hear.module import (import_hear_module, load_model, model_spec, module_version, read_spec,
                                            spec_path, weights_sha256, write_spec)
from mirbench_baselines.hear.probe import VALIDATION_METRIC, grid_points, select


class HEARSystem(System):
    """Embeddings of a HEAR module (`module`, with its `weights` file or "" for none) -> a probe.

    Each track is cut into `chunk_seconds` chunks (30 s: the longest clips HEAR's scene tasks gave a model, and
    MARBLE's window for full tracks; a standard 30 s excerpt is one chunk, so its embedding is the module's own),
    each chunk's scene embedding is computed (cached, `batch_size` chunks per call, on the run's device, audio at
    the model's sample rate) and the chunks are pooled (`pool`: "mean" or "max"). `probe` ("logreg", "mlp",
    "svm") is fit at every point of its grid (`probe_grid` replaces values of the default grid, see
    `mirbench_baselines.hear.probe.GRIDS`) and the best on the validation tracks is kept.
    """

    version = 1
    SMOKE_PARAMS = {"probe_grid": {"C": [1.0]}}

    def __init__(
        self,
        module: str = "hearbaseline.naive",
        weights: str = "",
        probe: str = "logreg",
        probe_grid: dict | None = None,
        chunk_seconds: float = 30.0,
        pool: str = "mean",
        batch_size: int = 16,
        random_state: int = 0,
    ):
        self.module = module
        self.weights = weights
        self.probe = probe
        self.probe_grid = probe_grid
        self.chunk_seconds = chunk_seconds
        self.pool = pool
        self.batch_size = batch_size
        self.random_state = random_state

    @classmethod
    def code_dependencies(cls, params: dict) -> dict:
        """The HEAR module's version and its weights' hash, part of every trial's identity: upgrading the module or
        replacing its weights reruns the stored trials that used them (the module is imported to read its version;
        one that cannot be, or a missing weights file, is recorded as such, and the trials fail with the reason)."""
        system = cls(**params)
        try:  # a module or weights file missing here fails each trial with its reason; a verifier needs neither
            version = module_version(import_hear_module(system.module))
        except InputError:
            version = "not importable"
        try:
            weights = weights_sha256(system.weights)
        except InputError:
            weights = "missing"
        return {"hear_module": system.module, "version": version, "weights_sha256": weights}

    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value (the module itself is checked by `fit`)."""
        if not isinstance(self.module, str) or not self.module.strip():
            raise ValueError(f"module must name a HEAR module (e.g. 'hearbaseline.naive'), got {self.module!r}")
        if not isinstance(self.weights, str):
            raise ValueError(f"weights must be the path of a weights file, or \"\" for none, got {self.weights!r}")
        grid_points(self.probe, self.probe_grid)
        ok = isinstance(self.chunk_seconds, (int, float)) and not isinstance(self.chunk_seconds, bool)
        if not ok or not math.isfinite(self.chunk_seconds) or self.chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be a positive number of seconds, got {self.chunk_seconds!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if not is_int(self.batch_size):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not is_int(self.random_state, 0):
            raise ValueError(f"random_state must be an integer >= 0, got {self.random_state!r}")

    # -- embeddings ---------------------------------------------------------------------------------------------
    def embeddings(self, tracks: TrackSet) -> HEAREmbeddings:
        """The frontend for this module, its model's sample rate and size read from the cache's record of it (so
        that a fit whose embeddings are all cached loads no model), else from the loaded model (then recorded)."""
        module = import_hear_module(self.module)
        identity = {"module": self.module, "version": module_version(module), "weights_sha256": weights_sha256(self.weights)}
        store, model = tracks.store, None
        path = spec_path(store.cache_dir, identity) if store.cache_dir is not None else None
        spec = read_spec(path, identity) if path is not None else None
        if spec is None:
            model = load_model(module, self.module, self.weights, store.device)
            spec = model_spec(model, self.module)
            if path is not None:
                write_spec(path, identity, spec)
        frontend = HEAREmbeddings(self.module, identity["version"], self.weights, identity["weights_sha256"],
                                  spec["sample_rate"], spec["scene_embedding_size"], self.chunk_seconds, self.batch_size)
        if model is not None:
            frontend.adopt(model, store.device)
        return frontend

    def vectors(self, tracks: TrackSet) -> np.ndarray:
        """One pooled embedding per track: (n, scene_embedding_size)."""
        return np.stack([pool_chunks(chunks, self.pool) for chunks in tracks.features(self.frontend_)])

    # -- estimator ----------------------------------------------------------------------------------------------
    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "HEARSystem":
        self.check_params()
        store = train.store
        misses, seconds, start = store.misses, store.seconds, time.perf_counter()
        self.frontend_ = self.embeddings(train)  # imports the module; loads its model only when not recorded
        setup_s = time.perf_counter() - start
        X = self.vectors(train)
        has_valid = valid is not None and len(valid) > 0
        X_valid = self.vectors(valid) if has_valid else None
        computed = store.misses - misses
        self.multilabel_ = train.multilabel
        self.n_classes_ = len(train.classes)
        fit_start = time.perf_counter()
        self.probe_, point, score, scores = select(
            self.probe, grid_points(self.probe, self.probe_grid), (X, train.targets),
            (X_valid, valid.targets) if has_valid else None, self.n_classes_, self.multilabel_,
            int(self.random_state), train.device, train.precision,
        )
        self.info_ = {
            "embedding_s": setup_s + store.seconds - seconds,  # import, model load, audio, embeddings, cache
            "embeddings_cached": computed == 0,
            "embeddings_computed": computed,
            "model_loaded": self.frontend_.loaded(),
            "module_version": self.frontend_.module_version,
            "embedding_size": self.frontend_.embedding_size,
            "probe": self.probe,
            "grid_point": point,
            "validation_metric": VALIDATION_METRIC[self.multilabel_] if has_valid else None,
            "validation_score": score,
            "grid_scores": scores,
            "probe_fit_s": time.perf_counter() - fit_start,
            **self.probe_.info(),
        }
        return self

    def predict(self, tracks: TrackSet) -> np.ndarray:
        return self.probe_.scores(self.vectors(tracks))

    def n_parameters(self) -> int | None:
        """The probe's learned parameters (the MLP's); None for the scikit-learn probes."""
        probe = getattr(self, "probe_", None)
        return probe.n_parameters() if hasattr(probe, "n_parameters") else None

    def training_info(self) -> dict:
        return dict(getattr(self, "info_", {}))
