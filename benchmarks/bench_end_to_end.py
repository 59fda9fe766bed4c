"""End to end: one quickstart trial (audio -> MFCC features -> MFCC baseline -> metrics), tracks per second.

The quickstart suite's MFCC system and 4-fold protocol on 24 synthetic 30 s
tracks (three tone classes), with a cold feature cache on every call so that
decoding and feature extraction count, as on a first run.
"""

from benchmarks.machine import THREADS, best_seconds, use_threads
from benchmarks.workloads import quickstart_folder, quickstart_spec, run_cold_trial, trial_tracks


class QuickstartTrial:
    params = (THREADS,)
    param_names = ("threads",)
    version = 2
    timeout = 600

    def setup_cache(self):
        return quickstart_folder("quickstart")  # asv's temporary directory; the tracks are written on first use

    def setup(self, folder, threads):
        use_threads(threads)
        self.spec = quickstart_spec(folder, threads)
        self.tracks = trial_tracks(self.spec)
        self.folder = folder
        self._trial()  # imports (scikit-learn, librosa, soundfile) outside the timing

    def _trial(self):
        run_cold_trial(self.spec, self.folder)

    def time_trial(self, folder, threads):
        self._trial()

    def track_tracks_per_second(self, folder, threads):
        return self.tracks / best_seconds(self._trial, repeats=3)

    track_tracks_per_second.unit = "tracks/s"
