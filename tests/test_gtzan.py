"""GTZAN: the index from the published layouts, validation, and the two protocols at scaled-down and full size."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mirbench.cli import main
from mirbench.datasets.base import DatasetError
from mirbench.datasets import gtzan
from mirbench.datasets.gtzan import GENRES, GTZANDataset, GTZANFaultFiltered, GTZANRandom4Fold, list_id
from mirbench.fetch import FetchError, Resource
from mirbench.registry import datasets, protocols
from mirbench.suite import load_suite
from tests.fixtures.gtzan_tree import write_gtzan_names, write_gtzan_tree

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "gtzan").is_dir(), reason="../shared/data is not available")


def genre_counts(ids) -> Counter:
    return Counter(i.split(".")[0] for i in ids)


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory) -> Path:
    """All 1000 tracks as half-second audio, jazz.00054 unreadable and blues.00029 missing (both in the train list)."""
    root = tmp_path_factory.mktemp("gtzan-full") / "data"
    write_gtzan_tree(root / "gtzan", per_genre=100, seconds=0.5, missing=("blues.00029",))
    return root


# ----------------------------------------------------------------------------- index


def test_index_names_every_track_with_its_genre_in_wav_and_au(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=4, au=("blues.00001", "rock.00002"), corrupt=())
    ds = GTZANDataset(root, tracks_per_genre=4)
    assert len(ds.index()) == 40 and ds.classes == GENRES and ds.task == "single-label"
    assert [t.id for t in ds.tracks[:4]] == ["blues.00000", "blues.00001", "blues.00002", "blues.00003"]
    assert all(t.labels == (t.id.split(".")[0],) for t in ds.tracks)
    assert ds["blues.00001"].path == root / "genres" / "blues" / "blues.00001.au"
    assert ds["rock.00002"].meta["format"] == "au" and ds["rock.00003"].meta["format"] == "wav"
    assert ds["jazz.00000"].path.suffix == ".wav"
    assert ds.validate().ok


def test_original_au_distribution_reads_cleanly(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=2, au=True, corrupt=())
    ds = GTZANDataset(root, tracks_per_genre=2)
    assert {t.path.suffix for t in ds.tracks} == {".au"}
    report = ds.validate()
    assert report.ok and not report.warnings
    assert ds.load_audio(ds["metal.00001"], 22050).shape == (22050,)


def test_kaggle_nesting_is_detected(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=2, kaggle=True, corrupt=())
    ds = GTZANDataset(root, tracks_per_genre=2)
    assert ds.audio_dir == root / "Data" / "genres_original"
    assert ds["hiphop.00001"].path == root / "Data" / "genres_original" / "hiphop" / "hiphop.00001.wav"
    assert ds.validate().ok


def test_a_track_in_both_formats_is_read_from_its_wav(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=1, corrupt=())
    write_gtzan_tree(tmp_path / "gtzan", per_genre=1, au=True, corrupt=())
    assert GTZANDataset(root, tracks_per_genre=1)["pop.00000"].path.suffix == ".wav"


def test_indexing_does_not_open_audio(tmp_path):
    root = write_gtzan_names(tmp_path / "gtzan", kaggle=True, au_genres=("jazz", "rock"))  # zero-byte files
    ds = GTZANDataset(root)
    assert len(ds) == 1000 and genre_counts(t.id for t in ds.tracks) == {g: 100 for g in GENRES}
    assert ds["jazz.00054"].path.name == "jazz.00054.au" and ds["pop.00054"].path.name == "pop.00054.wav"


# ----------------------------------------------------------------------------- validate


def test_validate_reports_missing_unreadable_and_sample_rate(tmp_path):
    root = write_gtzan_tree(
        tmp_path / "gtzan", per_genre=55, seconds=0.05, missing=("pop.00003",), rates={"disco.00000": 44100}
    )
    report = GTZANDataset(root, tracks_per_genre=55).validate()
    assert report.kinds == {"jazz.00054": "unreadable", "pop.00003": "missing", "disco.00000": "sample-rate"}
    assert set(report.problems) == {"jazz.00054", "pop.00003"} and set(report.warnings) == {"disco.00000"}
    assert "jazz.00054.wav" in report.problems["jazz.00054"]
    assert report.problems["pop.00003"].endswith("pop.00003.wav: file not found")
    assert "44100 Hz, expected 22050 Hz" in report.warnings["disco.00000"]
    assert report.summary().startswith("gtzan: 548/550 tracks usable")


def test_checksums_warn_on_wav_files_that_differ(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=2, au=("rock.00000",), corrupt=())
    good = hashlib.md5((root / "genres" / "blues" / "blues.00000.wav").read_bytes()).hexdigest()
    known = {"blues.00000": good, "blues.00001": "0" * 32, "rock.00000": "1" * 32}  # rock.00000 is .au here
    (tmp_path / "md5.json").write_text(json.dumps(known))
    ds = GTZANDataset(root, checksums=str(tmp_path / "md5.json"), tracks_per_genre=2)
    report = ds.validate()
    assert report.ok and report.kinds == {"blues.00001": "checksum"}
    assert "the published file has 00000000000000000000000000000000" in report.warnings["blues.00001"]
    assert GTZANDataset(root, tracks_per_genre=2).validate().warnings == {}


@needs_shared
def test_checksums_from_mirdatas_index(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=2, au=("country.00001",), missing=("jazz.00000",))
    ds = GTZANDataset(root, checksums=str(SHARED / "reference" / "gtzan_index.json"), tracks_per_genre=2)
    assert len(ds.checksums) == 1000 and ds.checksums["jazz.00054"] == "8f0ab76fff2d2c6bc80eb9c9362318ca"
    report = ds.validate()
    # synthetic audio differs from every published file; the .au track cannot be compared, the missing one is a problem
    checksum = {i for i, k in report.kinds.items() if k == "checksum"}
    assert checksum == {t.id for t in ds.tracks} - {"country.00001", "jazz.00000"}
    assert report.kinds["jazz.00000"] == "missing"


@pytest.mark.parametrize(
    "content, match",
    [("not json", "not valid JSON"), ('{"blues.00000": "xyz"}', "no md5 for 'blues.00000'"), ("[1, 2]", "JSON object")],
)
def test_a_bad_checksum_file_is_a_clear_error(tmp_path, content, match):
    root = write_gtzan_names(tmp_path / "gtzan", per_genre=1)
    (tmp_path / "md5.json").write_text(content)
    with pytest.raises(DatasetError, match=match):
        GTZANDataset(root, checksums=str(tmp_path / "md5.json"), tracks_per_genre=1)
    with pytest.raises(DatasetError, match="cannot read the checksum file"):
        GTZANDataset(root, checksums=str(tmp_path / "absent.json"), tracks_per_genre=1)


def test_absent_data_says_where_it_looked_and_the_layout(tmp_path):
    with pytest.raises(DatasetError, match="no data root is set; pass --data-root DIR or set MIRBENCH_DATA"):
        GTZANDataset(None)
    with pytest.raises(DatasetError, match="does not exist") as exc:
        GTZANDataset(tmp_path / "nowhere")
    assert "genres/blues/blues.00000.wav" in str(exc.value)
    (tmp_path / "gtzan" / "genres").mkdir(parents=True)
    with pytest.raises(DatasetError) as exc:
        GTZANDataset(tmp_path / "gtzan")
    assert f"{tmp_path / 'gtzan' / 'genres'}/<genre>/" in str(exc.value)
    assert f"{tmp_path / 'gtzan' / 'Data' / 'genres_original'}/<genre>/" in str(exc.value)
    assert "genres/rock/rock.00099.wav" in str(exc.value)
    with pytest.raises(DatasetError, match="tracks_per_genre must be an integer from 1 to 100"):
        GTZANDataset(tmp_path / "gtzan", tracks_per_genre=101)


def test_run_on_an_absent_dataset_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "gtzan").mkdir()
    code = main(["run", str(REPO / "suites" / "gtzan-random-4fold.toml"), "--data-root", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "gtzan: no GTZAN genre folders under" in err.splitlines()[0]
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- random 4 folds


def test_random_4fold_scaled_down(tmp_path):
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan", per_genre=8), tracks_per_genre=8)
    folds = GTZANRandom4Fold(seed=0).folds(ds)
    assert len(folds) == 4
    for i, fold in enumerate(folds):
        assert (len(fold.train), len(fold.valid), len(fold.test)) == (40, 20, 20)
        assert genre_counts(fold.train) == {g: 4 for g in GENRES}
        assert genre_counts(fold.valid) == genre_counts(fold.test) == {g: 2 for g in GENRES}
        assert fold.valid == folds[(i + 1) % 4].test
    assert sorted(i for f in folds for i in f.test) == sorted(t.id for t in ds.tracks)


def test_random_4fold_full_size(tmp_path):
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan", au_genres=("classical",)))  # names only, no audio
    folds = GTZANRandom4Fold().folds(ds)
    for fold in folds:
        assert (len(fold.train), len(fold.valid), len(fold.test)) == (500, 250, 250)
        assert genre_counts(fold.train) == {g: 50 for g in GENRES}
        assert genre_counts(fold.valid) == genre_counts(fold.test) == {g: 25 for g in GENRES}
    tested = [i for f in folds for i in f.test]
    assert len(tested) == len(set(tested)) == 1000


def test_random_4fold_is_deterministic_and_seeded(tmp_path):
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan"))
    hashes = [f.split_hash() for f in GTZANRandom4Fold(seed=0).folds(ds)]
    assert hashes == [f.split_hash() for f in GTZANRandom4Fold(seed=0).folds(GTZANDataset(tmp_path / "gtzan"))]
    assert hashes != [f.split_hash() for f in GTZANRandom4Fold(seed=1).folds(ds)]
    # The published seed-0 folds: a change here changes every GTZAN result (regenerate by printing these hashes).
    assert hashes[0][:16] == GOLDEN_FOLD0_SEED0
    assert GTZANRandom4Fold(seed=3).params() == {"seed": 3}


GOLDEN_FOLD0_SEED0 = "9daeee6df0165dc6"  # sha256 prefix of fold 0 of seed 0 on the full index


def test_registry_names_and_dataset_binding():
    assert datasets.get("gtzan") is GTZANDataset
    assert protocols.get("gtzan-random-4fold") is GTZANRandom4Fold
    assert protocols.get("gtzan-fault-filtered") is GTZANFaultFiltered
    assert GTZANRandom4Fold.dataset == GTZANFaultFiltered.dataset == "gtzan"
    assert GTZANDataset.task_for({}) == "single-label" and GTZANDataset.expected_sample_rate == 22050


# ----------------------------------------------------------------------------- fault-filtered


@pytest.mark.parametrize(
    "entry, expected",
    [("blues/blues.00029.wav", "blues.00029"), ("jazz/jazz.00054.au", "jazz.00054"), ("rock.00001.wav", "rock.00001")],
)
def test_list_entries_map_to_track_ids(entry, expected):
    assert list_id(entry, "list:1") == expected


@pytest.mark.parametrize("entry", ["blues/blues.29.wav", "polka/polka.00001.wav", "rock/jazz.00001.wav", "blues/blues.00001.mp3"])
def test_bad_list_entries_are_errors(entry):
    with pytest.raises(ValueError, match="list:7"):
        list_id(entry, "list:7")


def fake_lists(tmp_path, monkeypatch, lists: dict[str, list[str]]) -> Path:
    """Serve `lists` as the published files (through MIRBENCH_SPLITS, with their own md5s)."""
    folder = tmp_path / "splits"
    for part, entries in lists.items():
        data = "".join(e + "\n" for e in entries).encode()
        (folder / "gtzan").mkdir(parents=True, exist_ok=True)
        (folder / "gtzan" / f"{part}_filtered.txt").write_bytes(data)
        old = gtzan.FAULT_FILTERED_LISTS[part]
        fake = Resource(old.name, old.repository, old.commit, old.path, hashlib.md5(data).hexdigest())
        monkeypatch.setitem(gtzan.FAULT_FILTERED_LISTS, part, fake)
    monkeypatch.setenv("MIRBENCH_SPLITS", str(folder))
    return folder


def test_fault_filtered_maps_lists_to_tracks_scaled_down(tmp_path, monkeypatch):
    fake_lists(
        tmp_path,
        monkeypatch,
        {
            "train": ["blues/blues.00000.wav", "jazz/jazz.00001.wav", "rock/rock.00002.wav"],
            "valid": ["blues/blues.00001.wav"],
            "test": ["jazz/jazz.00002.wav", "", "rock/rock.00000.wav"],
        },
    )
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan", per_genre=3, au_genres=("jazz",)), tracks_per_genre=3)
    (fold,) = GTZANFaultFiltered().folds(ds)
    assert fold.train == ("blues.00000", "jazz.00001", "rock.00002")  # the .au files on disk do not matter
    assert fold.valid == ("blues.00001",) and fold.test == ("jazz.00002", "rock.00000")


def test_fault_filtered_names_listed_tracks_the_index_lacks(tmp_path, monkeypatch):
    fake_lists(tmp_path, monkeypatch, {"train": ["blues/blues.00050.wav"], "valid": ["pop/pop.00001.wav"], "test": ["pop/pop.00099.wav"]})
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan", per_genre=10), tracks_per_genre=10)
    with pytest.raises(ValueError, match=r"2 listed track\(s\) are not in the 'gtzan' index: blues.00050, pop.00099"):
        GTZANFaultFiltered().folds(ds)


@needs_shared
def test_fault_filtered_full_size(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan", au_genres=("blues", "jazz")))
    (fold,) = GTZANFaultFiltered().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (443, 197, 290)
    assert "jazz.00054" in fold.train
    assert genre_counts(fold.test) == dict(zip(GENRES, (31, 31, 30, 29, 27, 27, 27, 30, 26, 32)))
    assert genre_counts(fold.valid) == dict(zip(GENRES, (23, 20, 23, 22, 18, 17, 20, 13, 17, 24)))
    assert GTZANFaultFiltered().folds(ds)[0].split_hash() == fold.split_hash()


@needs_shared
def test_fault_filtered_local_copies_are_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("MIRBENCH_SPLITS", raising=False)
    local = {p: shutil.copy(SHARED / "gtzan" / f"{p}_filtered.txt", tmp_path / f"{p}.txt") for p in ("train", "valid", "test")}
    ds = GTZANDataset(write_gtzan_names(tmp_path / "gtzan"))
    proto = GTZANFaultFiltered(**{p: str(v) for p, v in local.items()})
    assert [len(x) for x in proto.lists().values()] == [443, 197, 290]
    assert proto.params() == {p: str(v) for p, v in local.items()}
    assert len(proto.folds(ds)[0].test) == 290
    Path(local["test"]).write_text(Path(local["test"]).read_text() + "rock/rock.00099.wav\n")
    with pytest.raises(FetchError, match=r"as published \(coreyker/dnn-mgr @ bdad579ea6cb : gtzan/test_filtered.txt\)"):
        proto.folds(ds)
    with pytest.raises(FileNotFoundError, match="the valid list .* does not exist"):
        GTZANFaultFiltered(train=str(local["train"]), valid=str(tmp_path / "absent.txt")).folds(ds)


# ----------------------------------------------------------------------------- suites, end to end


@pytest.mark.parametrize("name", ["gtzan-random-4fold", "gtzan-fault-filtered"])
def test_suites_are_valid(name):
    suite = load_suite(REPO / "suites" / f"{name}.toml")
    assert suite.dataset["name"] == "gtzan" and suite.protocol["name"] == name
    assert {v.system for v in suite.variants} == ({"mfcc", "pmsc"} if name.endswith("4fold") else {"mfcc"})
    for v in suite.variants:
        assert v.params == {"window_seconds": 5.0, "hop_seconds": 2.5, "classifier": "rf", "vote": "majority"}


def run_quick(suite: Path, root: Path, tmp_path: Path, capsys) -> tuple[str, str]:
    code = main(
        ["run", str(suite), "--quick", "--data-root", str(root), "--results", str(tmp_path / "res"),
         "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out, (tmp_path / "rep" / f"{load_suite(suite).name}-quick.md").read_text()


def test_random_4fold_quick_run_reports_the_skipped_tracks(full_tree, tmp_path, capsys):
    out, report = run_quick(REPO / "suites" / "gtzan-random-4fold.toml", full_tree, tmp_path, capsys)
    assert "4 trials: 0 already done, 4 ran ok, 0 failed" in out
    assert "2 track(s) skipped as unusable" in out
    assert "2 track(s) could not be used (missing, unreadable or invalid audio) and were left out of every fold" in report
    skipped = [line for line in report.splitlines() if line.startswith(("| blues.", "| jazz."))]
    assert [line.split("|")[1].strip() for line in skipped] == ["blues.00029", "jazz.00054"]
    assert "blues.00029.wav: file not found" in skipped[0] and "cannot read audio header" in skipped[1]
    assert "| MFCC " in report and "| PMSC " in report


@needs_shared
def test_fault_filtered_quick_run(full_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))
    out, report = run_quick(REPO / "suites" / "gtzan-fault-filtered.toml", full_tree, tmp_path, capsys)
    assert "1 trials: 0 already done, 1 ran ok, 0 failed" in out
    # both bad tracks are in the published train list, so both are reported as left out
    assert "2 track(s) could not be used (missing, unreadable or invalid audio) and were left out of every fold" in report
    assert "| jazz.00054 " in report and "| blues.00029 " in report
