"""The FMA dataset (Defferrard et al. 2017): genre_top of the small, medium or large subset, from the user's copy.

Indexing reads only `fma_metadata/tracks.csv` (no audio is opened); tracks it
names but whose mp3 is absent stay in the index so the official split sizes
stay exact, and `validate` reports them.
"""

from __future__ import annotations

import difflib
import hashlib
import numbers
from pathlib import Path

import numpy as np

from mirbench.datasets.base import Dataset, DatasetError, Track, ValidationReport
from mirbench.datasets.fma import metadata
from mirbench.datasets.fma.metadata import SUBSETS

#: fma_small files with no audio in the published archive (FMA errata: github.com/mdeff/fma issues #41, #44)
KNOWN_EMPTY = frozenset({"099134", "108925", "133297"})
SAMPLE_RATE = 44100  # most published clips are 44.1 kHz MP3; validate warns about the others (resampled on load)


def layout(subset: str) -> str:
    """The published layout under the data root, as shown in error messages."""
    audio = f"fma_{subset}/000/000002.mp3"
    return (
        "  DIR/fma/\n"
        f"    {'fma_metadata/tracks.csv':<26}(and genres.csv, features.csv; from fma_metadata.zip)\n"
        f"    {audio:<26}(fma_{subset}/<first 3 digits>/<6-digit track id>.mp3; from fma_{subset}.zip)"
    )


def track_id(number: int) -> str:
    """FMA's file name for a track: the id zero-padded to 6 digits (2 -> '000002')."""
    return f"{int(number):06d}"


def check_params(subset, top_genres) -> None:
    if not isinstance(subset, str) or subset not in SUBSETS:
        close = difflib.get_close_matches(str(subset), SUBSETS, n=1)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise DatasetError(f"dataset 'fma': subset must be one of {', '.join(SUBSETS)}, got {subset!r}{hint}")
    if top_genres is not None and (
        isinstance(top_genres, bool) or not isinstance(top_genres, numbers.Integral) or top_genres < 1
    ):
        raise DatasetError(f"dataset 'fma': top_genres must be a positive integer (or left out for all), got {top_genres!r}")


class FMADataset(Dataset):
    """FMA tracks of one subset labelled with their `genre_top` (single-label), grouped by artist.

    `subset`: "small" (8,000 tracks, 8 genres), "medium" (25,000, 16) or
    "large" (106,574, of which those with a genre_top); each includes the
    smaller ones, and audio is read from the folder of the requested subset,
    `fma_<subset>/`. `top_genres=N` keeps the N genres with the most tracks in
    the subset (all splits counted; ties go to the alphabetically first name)
    and only their tracks. Tracks without a genre_top are left out. Classes
    are the kept genre names in alphabetical order.
    """

    name = "fma"
    needs_root = True
    expected_layout = layout("small")  # shown when the dataset is not found
    expected_sample_rate = SAMPLE_RATE

    fixed_task = "single-label"

    def __init__(self, root=None, subset: str = "small", top_genres: int | None = None):
        self.check_params(subset, top_genres)
        if root is None:
            raise DatasetError(
                "dataset 'fma' is read from your copy of FMA, but no data root is set: pass --data-root DIR "
                f"or set MIRBENCH_DATA, with FMA in its published layout:\n{layout(subset)}"
            )
        self.root = Path(root)
        self.fma_subset = subset  # (not `subset`: Dataset.subset is a method)
        self.top_genres = None if top_genres is None else int(top_genres)
        self.audio_dir = self.root / f"fma_{subset}"
        tracks_csv = self.root / "fma_metadata" / "tracks.csv"
        if not tracks_csv.is_file():
            flat = (self.root / "tracks.csv").is_file()
            flat = " (tracks.csv is there directly: move it into fma_metadata/)" if flat else ""
            raise DatasetError(
                f"dataset 'fma': {tracks_csv} does not exist{flat}; FMA is read in its published layout from the "
                f"data root DIR given by --data-root or MIRBENCH_DATA:\n{layout(subset)}"
            )
        table = metadata.read_tracks(tracks_csv)
        rank = SUBSETS.index(subset)
        table = table[table["subset"].map(SUBSETS.index) <= rank]
        labelled = table[table["genre_top"].str.strip() != ""]
        #: tracks of the subset that have no genre_top, left out of the index
        self.n_without_genre = len(table) - len(labelled)
        counts = labelled["genre_top"].str.strip().value_counts()
        #: genre_top -> tracks in the subset (all splits), most frequent first, before any top_genres cut
        self.genre_counts = dict(sorted(((g, int(n)) for g, n in counts.items()), key=lambda kv: (-kv[1], kv[0])))
        kept = list(self.genre_counts)
        if self.top_genres is not None:
            if self.top_genres > len(kept):
                raise DatasetError(
                    f"dataset 'fma': top_genres={self.top_genres}, but the {subset} subset in {tracks_csv} "
                    f"has only {len(kept)} genre_top values"
                )
            kept = kept[: self.top_genres]
        keep = set(kept)
        tracks = []
        labelled = labelled.sort_index()
        columns = (labelled[c].str.strip() for c in ("genre_top", "split", "subset", "artist_id"))
        for number, genre, split, own_subset, artist in zip(labelled.index, *columns):
            if genre not in keep:
                continue
            tid = track_id(number)
            tracks.append(
                Track(
                    id=tid,
                    path=self.audio_dir / tid[:3] / f"{tid}.mp3",
                    labels=(genre,),
                    group=f"artist:{artist}" if artist else None,
                    meta={"split": split, "subset": own_subset, "artist_id": artist},
                )
            )
        super().__init__(
            tracks,
            sorted(keep),
            "single-label",
            SAMPLE_RATE,
            params={"subset": subset, "top_genres": self.top_genres},
        )

    @classmethod
    def check_params(cls, subset: str = "small", top_genres: int | None = None) -> None:
        """`subset` small, medium or large; `top_genres` a positive integer or absent."""
        check_params(subset, top_genres)

    @property
    def features_path(self) -> Path:
        """FMA's precomputed features: `fma_metadata/features.csv` (from fma_metadata.zip)."""
        return self.root / "fma_metadata" / "features.csv"

    def precomputed_features(self, track_ids) -> np.ndarray:
        """The rows of features.csv for `track_ids` ('000002' or 2), in order: (n, 518) float64.

        The file is read once per dataset object and kept.
        """
        path = self.features_path
        table = getattr(self, "_features_table", None)
        if table is None:
            if not path.is_file():
                raise DatasetError(
                    f"dataset 'fma': {path} does not exist; unzip features.csv from fma_metadata.zip into "
                    "fma_metadata/, or compute the features from the audio (features: computed)"
                )
            table = self._features_table = metadata.read_features(path)
        numbers = [int(t) for t in track_ids]
        missing = [track_id(n) for n in numbers if n not in table.index]
        if missing:
            raise DatasetError(
                f"dataset 'fma': {path} has no row for {len(missing)} track(s), e.g. {missing[0]}; use the "
                "features.csv of the same FMA release as tracks.csv, or compute the features (features: computed)"
            )
        return table.loc[numbers].to_numpy(dtype=np.float64)

    def validate(self) -> ValidationReport:
        """Missing, unreadable (the known empty files included) and off-rate mp3s; sha1 mismatches against
        the archive's `fma_<subset>/checksums` where present; metadata files not in their published form
        (warnings of kind "metadata" keyed by the file, e.g. "fma_metadata/features.csv")."""
        report = super().validate()
        folder = f"fma_{self.fma_subset}"
        absent = not self.audio_dir.is_dir()
        for tid, reason in list(report.problems.items()):
            kind = report.kinds[tid]
            if kind == "missing" and absent:
                report.problem(tid, kind, f"{reason} (no {folder}/ folder: unzip {folder}.zip there)")
            elif kind == "unreadable" and tid in KNOWN_EMPTY:
                path = str(self[tid].path)
                detail = reason[len(path) + 2 :] if reason.startswith(f"{path}: ") else reason
                report.problem(tid, kind, f"{path}: a known empty file of the published fma_small (FMA errata #41): {detail}")
        self._check_checksums(report)
        for name, reason in self.metadata_problems().items():
            report.warn(f"fma_metadata/{name}", "metadata", f"{self.root / 'fma_metadata' / name}: {reason}")
        return report

    def _check_checksums(self, report: ValidationReport) -> None:
        listing = self.audio_dir / "checksums"
        if not listing.is_file():
            return
        sums = metadata.read_checksums(listing)
        for t in self.tracks:
            rel = f"{t.id[:3]}/{t.id}.mp3"
            if t.id in report.problems or rel not in sums:
                continue
            h = hashlib.sha1()
            try:
                with open(t.path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            except OSError as exc:
                report.problem(t.id, "unreadable", f"{t.path}: cannot read file ({exc.strerror or exc})")
                continue
            if h.hexdigest() != sums[rel]:
                report.warn(t.id, "checksum", f"{t.path}: sha1 {h.hexdigest()} differs from {sums[rel]} in {listing}")

    def metadata_problems(self) -> dict[str, str]:
        """genres.csv and features.csv (not needed for the index) that are absent or not in their published form."""
        out = {}
        folder = self.root / "fma_metadata"
        genres, features = folder / "genres.csv", folder / "features.csv"
        roots, problem = metadata.top_level_genres(genres) if genres.is_file() else (None, "not found")
        if problem:
            out["genres.csv"] = problem
        elif unknown := sorted(set(self.classes) - roots):
            out["genres.csv"] = f"genre_top values {unknown} of tracks.csv are not root genres (parent 0) here"
        if features.is_file() and (problem := metadata.features_problem(features)):
            out["features.csv"] = problem
        return out
