"""Peak resident memory: one quickstart trial, the index of a 10,000-clip dataset, and streaming feature extraction.

asv's `peakmem_*` figure is the peak RSS of the whole benchmark process:
what asv imported before forking it (every benchmark module, torch among
them), `setup`, and the work. Beside each, `track_*_peak_increase` is the
peak above what the process held when the work began (MB): the part that is
the work's own data, which a regression moves by a large fraction where it
would move the whole-process peak by a few per cent. Data is written to disk
in `setup_cache` (a separate process); `setup` only opens it and does the
imports and one-time initialisation the work would do (`preimport`,
`warm_up`), so that the increase is neither the setup's nor the imports'.

Memory, not speed: everything runs on one thread (more threads add only
their scratch buffers), and nothing here depends on the machine.
"""

import importlib
import shutil
import tempfile

from benchmarks.machine import use_threads
from benchmarks.workloads import (
    MB,
    MTAT_SUITE,
    peak_rss,
    plan_mtat,
    quickstart_folder,
    quickstart_spec,
    run_cold_trial,
    tone_dataset,
    use_quickstart_folder,
    warm_up,
    write_mtat_tree,
    write_tones,
)

INDEX_CLIPS = 10_000
EXTRACTION_TRACKS = [50, 400]
EXTRACTION_SECONDS = 10.0
EXTRACTION_SAMPLE_RATE = 16_000


def preimport(*modules: str) -> None:
    """Import modules in `setup`, so that `track_*_peak_increase` counts the work and not the imports."""
    for name in modules:
        importlib.import_module(name)


class QuickstartTrialMemory:
    """One quickstart trial, as `bench_end_to_end` times it: the MFCC baseline on 24 synthetic 30 s tracks,
    4-fold protocol, cold feature cache; from opening the dataset to the result record."""

    params = ()
    param_names = ()
    version = 1
    timeout = 600

    def setup_cache(self):
        folder = quickstart_folder("quickstart")
        return folder, quickstart_spec(folder, threads=1)  # writes the tracks (in this separate process)

    def setup(self, cache):
        from mirbench.frontends import MFCC
        from mirbench.registry import systems

        self.folder, self.spec = cache
        use_quickstart_folder(self.folder)
        use_threads(1)
        systems.get(self.spec.variant.system)  # the system's module, scikit-learn with it
        preimport("mirbench.run.trial", "mirbench.metrics", "mirbench.features", "mirbench.datasets")
        warm_up(MFCC())  # the quickstart system's frontend
        self.before = peak_rss()

    def peakmem_quickstart_trial(self, cache):
        run_cold_trial(self.spec, self.folder)

    def track_quickstart_trial_peak_increase(self, cache):
        run_cold_trial(self.spec, self.folder)
        return (peak_rss() - self.before) / MB

    track_quickstart_trial_peak_increase.unit = "MB"


class IndexMemory:
    """What a run does before its first trial on a 10,000-clip MagnaTagATune tree (published layout, tiny mp3
    clips): read annotations_final.csv into the index, validate every clip's header, plan the 12/1/3 folds
    (suites/mtat-12-1-3.toml). The index is small: tracks, labels and paths, no audio."""

    params = ()
    param_names = ()
    version = 1
    timeout = 600

    def setup_cache(self):
        return write_mtat_tree("data", INDEX_CLIPS)

    def setup(self, data_root):
        from mirbench.suite import load_suite

        preimport("mirbench.datasets.mtat", "mirbench.run.runner")
        load_suite(MTAT_SUITE)  # checking a suite imports every system it names (scikit-learn, pandas)
        self.before = peak_rss()

    def peakmem_index_10000(self, data_root):
        plan_mtat(data_root)

    def track_index_10000_peak_increase(self, data_root):
        plan_mtat(data_root)
        return (peak_rss() - self.before) / MB

    track_index_10000_peak_increase.unit = "MB"


class FeatureExtractionMemory:
    """Log-mel features (128 bands) of 50 or 400 tracks of 10 s at 16 kHz through a cold FeatureStore with
    `mmap=True`, as the CNN systems ask for them. Extraction streams: the peak is one batch (16 tracks)
    whatever the number of tracks, so both parameters should give nearly the same figure, where holding
    the audio of every track would add 256 MB at 400."""

    params = (EXTRACTION_TRACKS,)
    param_names = ("tracks",)
    version = 1
    timeout = 600

    def setup_cache(self):
        return write_tones("tones", max(EXTRACTION_TRACKS), EXTRACTION_SECONDS, EXTRACTION_SAMPLE_RATE)

    def setup(self, folder, tracks):
        from mirbench.features import FeatureStore
        from mirbench.frontends import LogMel

        use_threads(1)
        self.dataset = tone_dataset(folder, tracks, EXTRACTION_SAMPLE_RATE)
        self.frontend = LogMel(sample_rate=EXTRACTION_SAMPLE_RATE)
        warm_up(self.frontend)
        self.cache = tempfile.mkdtemp(prefix="features-", dir=folder)  # cold: a new one for every process
        self.store = FeatureStore(self.cache)
        self.before = peak_rss()

    def teardown(self, folder, tracks):
        shutil.rmtree(self.cache, ignore_errors=True)

    def _extract(self):
        feats = self.store.get(self.dataset, self.dataset.tracks, self.frontend, mmap=True)
        if self.store.misses != len(self.dataset) or len(feats) != len(self.dataset):
            raise RuntimeError(f"expected {len(self.dataset)} computed tracks, got {self.store.misses}")

    def peakmem_feature_extraction(self, folder, tracks):
        self._extract()

    def track_feature_extraction_peak_increase(self, folder, tracks):
        self._extract()
        return (peak_rss() - self.before) / MB

    track_feature_extraction_peak_increase.unit = "MB"
