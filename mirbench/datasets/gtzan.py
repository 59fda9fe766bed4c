"""GTZAN (Tzanetakis & Cook 2002): 10 genres x 100 excerpts of about 30 s, and its two published protocols.

The index is the 1000 canonical names (`blues.00000` ... `rock.00099`) whether
or not each file is on disk, so that published split sizes stay exact; a file
absent from the user's copy is reported by `validate` and skipped by the runner.
See docs/datasets/gtzan.md.
"""

from __future__ import annotations

import functools
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import ClassVar

from mirbench.datasets.base import Dataset, DatasetError, Track, UnknownEntryError, ValidationReport
from mirbench.fetch import Resource, checked, fetch, md5sum
from mirbench.protocols import KFOLD, FixedSplit, Fold, Protocol, StratifiedGroupKFold

__all__ = ["GTZANDataset", "GTZANRandom4Fold", "GTZANFaultFiltered", "GENRES", "FAULT_FILTERED_LISTS", "track_id"]

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
TRACKS_PER_GENRE = 100
SAMPLE_RATE = 22050
EXTENSIONS = (".wav", ".au")  # preferred first: a track present in both formats is read from its .wav
#: mirdata's folder for GTZAN under its home `~/mir_datasets` (the loader's default data_home), and where its
#: index puts the genre folders in it: version 1.0 (the full archive) and "mini" (10 tracks a genre).
MIRDATA_DIR = "gtzan_genre"
MIRDATA_AUDIO_DIRS = ("gtzan_genre/genres", "gtzan_mini-main/genres")
#: Where the genre folders may sit under the dataset root: the archive, the Kaggle copy, mirdata's download.
AUDIO_DIRS = ("genres", "Data/genres_original") + MIRDATA_AUDIO_DIRS
#: The md5s of mirdata's gtzan_genre index 1.0, shipped in this package (file name under mirbench/datasets/).
MIRDATA_MD5S = "gtzan_mirdata_md5.json"
MIRDATA = "mirdata"  # the `checksums` value that names them

EXPECTED_LAYOUT = """\
    gtzan/
      genres/blues/blues.00000.wav    (.au in the original distribution)
      genres/blues/blues.00001.wav
      ...
      genres/rock/rock.00099.wav
    (the Kaggle copy, gtzan/Data/genres_original/<genre>/..., is found too, and mirdata's download
    where mirdata puts it: gtzan_genre/gtzan_genre/genres/<genre>/..., with --data-root ~/mir_datasets)"""

_ID = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")

# The fault-filtered split of Kereliuk, Sturm & Larsen (2015), as published with their code.
_DNN_MGR = ("coreyker/dnn-mgr", "bdad579ea6cb37b665ea6019fe1026a6ce20cbc7")
FAULT_FILTERED_LISTS = {
    part: Resource(f"gtzan/{part}_filtered.txt", *_DNN_MGR, f"gtzan/{part}_filtered.txt", md5)
    for part, md5 in (
        ("train", "d55795dd4bc006e94d1c1b092bfe9da3"),
        ("valid", "bf8b8540ab13630c984d6331b3102191"),
        ("test", "6dbab6aabd0c49a20bc3b6df10986454"),
    )
}


def track_id(genre: str, number: int) -> str:
    """The id of a GTZAN track: its file name without extension, e.g. `jazz.00054`."""
    return f"{genre}.{number:05d}"


def audio_dir_under(root: Path) -> Path | None:
    """The first of `root/<AUDIO_DIRS>` that holds a genre folder, or None."""
    for rel in AUDIO_DIRS:
        folder = root / rel
        if folder.is_dir() and any((folder / g).is_dir() for g in GENRES):
            return folder
    return None


def find_audio_dir(root: Path) -> Path:
    """The folder holding the genre folders under `root`; DatasetError saying where it looked otherwise."""
    folder = audio_dir_under(root)
    if folder is not None:
        return folder
    looked = ", ".join(f"{root / rel}/<genre>/" for rel in AUDIO_DIRS)
    raise DatasetError(
        f"gtzan: no GTZAN genre folders under {root} (looked for {looked}).\n"
        f"Expected layout under the data root (--data-root DIR or MIRBENCH_DATA):\n{EXPECTED_LAYOUT}"
    )


def read_checksums(path: str | os.PathLike) -> dict[str, str]:
    """Known md5s by track id, from mirdata's GTZAN index (`{"tracks": {id: {"audio": [path, md5]}}}`)
    or from a flat JSON object `{id: md5}`. Errors name the file and the entry, never its content: an entry is
    named by its key only when the key is a GTZAN track id, else by its position."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"gtzan: cannot read the checksum file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"gtzan: the checksum file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise DatasetError(f"gtzan: the checksum file {path} is nested too deeply to be a checksum index") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"gtzan: the checksum file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}") from None
    entries = data.get("tracks", data) if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise DatasetError(f"gtzan: the checksum file {path} must be a JSON object of track id -> md5")
    known = {}
    for n, (tid, value) in enumerate(entries.items(), 1):
        audio = value.get("audio") if isinstance(value, dict) else None
        md5 = (audio[1] if isinstance(audio, list) and len(audio) > 1 else None) if isinstance(value, dict) else value
        if not (isinstance(md5, str) and re.fullmatch(r"[0-9a-f]{32}", md5)):
            match = _ID.match(tid)
            entry = repr(tid) if match and match["genre"] in GENRES else f"entry {n}"
            raise DatasetError(f"gtzan: the checksum file {path} has no md5 for {entry} (expected 32 lowercase hex "
                               "digits); use mirdata's gtzan_genre_index_1.0.json or a JSON object of track id -> md5")
        known[tid] = md5
    return known


@functools.lru_cache(maxsize=1)
def _published_md5s() -> dict[str, str]:
    with resources.as_file(resources.files("mirbench.datasets") / MIRDATA_MD5S) as path:
        return read_checksums(path)


def published_md5s() -> dict[str, str]:
    """md5 by track id of the 1000 files of mirdata's gtzan_genre index 1.0, shipped with mirbench (a copy)."""
    return dict(_published_md5s())


class GTZANDataset(Dataset):
    """GTZAN from `<root>/genres/<genre>/<genre>.000NN.{wav,au}` (or the Kaggle `Data/genres_original/`, or
    mirdata's `gtzan_genre/genres/`).

    `checksums`: "mirdata" (the md5s of mirdata's index, shipped with
    mirbench), or a path to a JSON of known md5s (mirdata's
    `gtzan_genre_index_1.0.json`, or `{id: md5}`); `validate` then warns
    ("checksum") for every .wav file that differs. Unset, a copy in mirdata's
    layout is checked against mirdata's md5s, and any other copy is not.
    `tracks_per_genre` (100) indexes only the first N tracks of each genre,
    for tests and subsets.
    """

    name = "gtzan"
    needs_root = True
    expected_sample_rate = SAMPLE_RATE
    expected_layout = EXPECTED_LAYOUT  # shown when the dataset is not found

    fixed_task = "single-label"

    def __init__(self, root=None, checksums: str | None = None, tracks_per_genre: int = TRACKS_PER_GENRE):
        if root is None:
            raise DatasetError(
                "gtzan is read from your copy of the dataset, but no data root is set; pass --data-root DIR "
                f"or set MIRBENCH_DATA, with the dataset under DIR/gtzan/:\n{EXPECTED_LAYOUT}"
            )
        self.check_params(checksums, tracks_per_genre)
        n = tracks_per_genre
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DatasetError(
                f"gtzan: dataset folder {root} does not exist.\n"
                f"Expected layout under the data root (--data-root DIR or MIRBENCH_DATA):\n{EXPECTED_LAYOUT}"
            )
        self.root = root
        self.audio_dir = find_audio_dir(root)
        in_mirdata_layout = self.audio_dir.relative_to(root).as_posix() in MIRDATA_AUDIO_DIRS
        #: where the known md5s come from: "mirdata", a path, or None (not checked)
        self.checksum_source = checksums if checksums else (MIRDATA if in_mirdata_layout else None)
        if self.checksum_source == MIRDATA:
            self.checksums = published_md5s()
        else:
            self.checksums = read_checksums(self.checksum_source) if self.checksum_source else None
        tracks = []
        for genre in GENRES:
            folder = self.audio_dir / genre
            on_disk = set(os.listdir(folder)) if folder.is_dir() else set()
            for number in range(n):
                tid = track_id(genre, number)
                ext = next((e for e in EXTENSIONS if tid + e in on_disk), None)
                path = folder / (tid + (ext or EXTENSIONS[0]))
                meta = {"genre": genre, "number": number, "format": ext[1:] if ext else None}
                tracks.append(Track(tid, path, (genre,), meta=meta))
        params = {"checksums": str(checksums) if checksums else None, "tracks_per_genre": n}
        super().__init__(tracks, GENRES, "single-label", SAMPLE_RATE, params=params)

    @classmethod
    def locate_root(cls, data_root: Path, name: str) -> Path:
        """`<data root>/gtzan` if it holds GTZAN, else mirdata's `<data root>/gtzan_genre` if that does (so that
        `--data-root ~/mir_datasets` finds mirdata's download); DatasetError naming both places otherwise."""
        candidates = [data_root / name, data_root / MIRDATA_DIR]
        for folder in candidates:
            if folder.is_dir() and audio_dir_under(folder) is not None:
                return folder
        mine, theirs = candidates
        looked = ", ".join(f"{rel}/<genre>/" for rel in AUDIO_DIRS)
        raise DatasetError(
            f"gtzan: no GTZAN genre folders under {mine}/ or {theirs}/ (mirdata's folder); looked in each for "
            f"{looked}.\nExpected layout under the data root (--data-root DIR or MIRBENCH_DATA):\n{EXPECTED_LAYOUT}"
        )

    @classmethod
    def check_params(cls, checksums: str | None = None, tracks_per_genre: int = TRACKS_PER_GENRE) -> None:
        """`tracks_per_genre` from 1 to 100; `checksums` "mirdata" or a path (read when the dataset opens)."""
        n = tracks_per_genre
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= TRACKS_PER_GENRE:
            raise DatasetError(f"gtzan: tracks_per_genre must be an integer from 1 to {TRACKS_PER_GENRE}, got {n!r}")
        if checksums is not None and not isinstance(checksums, (str, os.PathLike)):
            raise DatasetError(f"gtzan: checksums must be \"mirdata\" or the path of a JSON file of md5s, got {checksums!r}")

    def validate(self) -> ValidationReport:
        """Missing, unreadable and wrong-rate files; with known md5s (`checksums`), .wav files whose md5 differs."""
        report = super().validate()
        if self.checksums is None:
            return report
        source = "mirdata's gtzan_genre index 1.0" if self.checksum_source == MIRDATA else self.checksum_source
        for t in self.tracks:
            known = self.checksums.get(t.id)
            # the known md5s are those of the .wav archive; an .au copy cannot be compared
            if known is None or t.id in report.problems or t.meta["format"] != "wav":
                continue
            actual = md5sum(t.path)
            if actual != known:
                report.warn(t.id, "checksum", f"{t.path}: md5 {actual}, the published file has {known} (per {source})")
        return report


class GTZANRandom4Fold(StratifiedGroupKFold):
    """Sigtia & Dixon (2014): 4 folds of 50/25/25 % per genre, seeded; the 4 test sets partition GTZAN.

    A k-fold rotation (fold i tests on quarter i, validates on quarter i+1 and
    trains on the other two), stratified by genre: with 100 tracks per genre,
    each fold has 500/250/250 tracks, 50/25/25 of every genre.
    """

    name: ClassVar[str] = "gtzan-random-4fold"
    dataset: ClassVar[str] = "gtzan"

    def __init__(self, seed: int = 0):
        super().__init__(folds=4, proportions=KFOLD, seed=seed, groups=False)

    def params(self) -> dict:
        return {"seed": self.seed}


def list_id(entry: str, where: str) -> str:
    """`genre/genre.000NN.wav` (or .au, or a bare file name) -> the track id `genre.000NN`."""
    parts = entry.replace("\\", "/").split("/")
    stem, ext = os.path.splitext(parts[-1])
    match = _ID.match(stem)
    if match and ext.lower() in EXTENSIONS + ("",) and match["genre"] not in GENRES:
        raise UnknownEntryError(
            f"{where}: {entry!r} names the genre {match['genre']!r}, which is not one of GTZAN's ({', '.join(GENRES)}); "
            "use the published list"
        )
    if ext.lower() not in EXTENSIONS + ("",) or not match:
        raise UnknownEntryError(f"{where}: {entry!r} does not name a GTZAN track (expected genre/genre.000NN.wav)")
    if len(parts) > 1 and parts[-2] != match["genre"]:
        raise UnknownEntryError(f"{where}: {entry!r} puts a {match['genre']} track under the folder {parts[-2]!r}")
    return stem


class GTZANFaultFiltered(Protocol):
    """Kereliuk, Sturm & Larsen (2015): the fault-filtered train/valid/test lists (443/197/290 tracks).

    The lists are fetched from coreyker/dnn-mgr at a pinned commit and checked
    by md5 (see `FAULT_FILTERED_LISTS`); `train`, `valid`, `test` may instead
    be paths to local copies, which must match the same md5s. Listed tracks
    that the index lacks are one UnknownEntryError (a DatasetError and a
    ValueError) naming the list files, the first ids and their count; a listed
    track that is in the index but absent or unreadable on disk is reported by
    `validate` and skipped by the runner, which records it in each trial.
    """

    name: ClassVar[str] = "gtzan-fault-filtered"
    dataset: ClassVar[str] = "gtzan"

    def __init__(self, train: str | None = None, valid: str | None = None, test: str | None = None):
        self._given = {"train": train, "valid": valid, "test": test}
        for part, value in self._given.items():
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise ValueError(f"{self.name}: {part!r} must be a path to a local copy of the list, got {value!r}")

    def params(self) -> dict:
        return {part: None if v is None else str(v) for part, v in self._given.items()}

    def list_path(self, part: str) -> Path:
        """A verified copy of the published list of `part`: the given local file, else fetched."""
        resource = FAULT_FILTERED_LISTS[part]
        given = self._given[part]
        if given is None:
            return fetch(resource)
        path = Path(given).expanduser()
        if not path.is_file():
            what = "is a directory, not the list file" if path.is_dir() else "does not exist"
            raise FileNotFoundError(f"{self.name}: the {part} list {path} {what}")
        return checked(path, resource, f"the {part} list {path}")

    def lists(self) -> dict[str, list[str]]:
        """Track ids of each part, in the order of the published files."""
        return {part: ids for part, (_, ids) in self.read_lists().items()}

    def read_lists(self) -> dict[str, tuple[Path, list[str]]]:
        """Each part's list file and its track ids, in file order; an entry that names no GTZAN track names its line."""
        out = {}
        for part in FAULT_FILTERED_LISTS:
            path = self.list_path(part)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise DatasetError(f"{self.name}: cannot read the {part} list {path} ({reason}); replace it with the published file") from None
            out[part] = (path, [list_id(s.strip(), f"{path}:{k}") for k, s in enumerate(lines, 1) if s.strip()])
        return out

    def folds(self, dataset: Dataset) -> list[Fold]:
        lists = self.read_lists()
        known = {t.id for t in dataset.tracks}
        unknown = {path: [i for i in ids if i not in known] for path, ids in lists.values()}
        flat = [i for ids in unknown.values() for i in ids]
        if flat:
            shown = ", ".join(flat[:5]) + (f" and {len(flat) - 5} more" if len(flat) > 5 else "")
            files = ", ".join(f"{path} ({len(ids)})" for path, ids in unknown.items() if ids)
            short = dataset.params.get("tracks_per_genre", 100) < 100
            fix = "tracks_per_genre is below 100: index all 100 tracks of each genre" if short else "use the published lists"
            raise UnknownEntryError(
                f"{self.name}: {len(flat)} listed track(s) are not in the {dataset.name!r} index: {shown}; "
                f"listed in {files} ({fix})"
            )
        return FixedSplit(**{part: ids for part, (_, ids) in lists.items()}).folds(dataset)
