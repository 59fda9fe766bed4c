"""ISMIR2004 genre: quoted tracklists with awkward paths, mp3 validation, and the training/development protocol."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mirbench.cli import main
from mirbench.datasets.base import DatasetError
from mirbench.datasets.ismir2004 import CLASSES, SUBSETS, ISMIR2004Dataset, ISMIR2004TrainDev
from mirbench.registry import datasets, protocols
from mirbench.suite import load_suite
from tests.fixtures.ismir2004_tree import REAL_COUNTS, write_ismir2004_tree, write_tracklist

REPO = Path(__file__).resolve().parents[1]
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference" / "ismir04"
needs_shared = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data is not available")

APOSTROPHE = "training/classical/classical_artist_0/classical's_album_0/1-l'oracle_suite_(in_d).mp3"
COMMA = "training/classical/classical_artist_1/classical's_album_1/2-rock_&_roll,_part_2.mp3"


def classes_of(ds, ids) -> Counter:
    return Counter(ds[i].labels[0] for i in ids)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ismir") / "ismir2004"
    write_ismir2004_tree(root, per_class=4, subsets=SUBSETS, seconds=0.5)
    return root


# ----------------------------------------------------------------------------- index


def test_index_reads_quoted_fields_with_punctuation(tiny):
    ds = ISMIR2004Dataset(tiny)
    assert len(ds.index()) == 48 and ds.classes == CLASSES and ds.task == "single-label"
    assert Counter(t.meta["subset"] for t in ds.tracks) == {"training": 24, "development": 24}
    for tid in (APOSTROPHE, COMMA):  # a comma inside a quoted field must not split it
        track = ds[tid]
        assert track.labels == ("classical",) and track.path == tiny / "audio" / tid
        assert track.path.is_file()
    assert ds[COMMA].meta["track"] == "rock_&_roll,_part_2" and ds[COMMA].meta["album"] == "classical's_album_1"
    assert ds['training/world/world_artist_0/world\'s_album_0/4-say_"hi".mp3'].meta["track_number"] == "4"


def test_groups_are_artists_and_development_artists_stay_apart(tiny):
    ds = ISMIR2004Dataset(tiny, subsets=SUBSETS)
    assert ds[APOSTROPHE].group == "classical_artist_0"
    dev = [t for t in ds.tracks if t.meta["subset"] == "development"]
    assert dev[0].group == "development/artist_1" and dev[0].id == "development/artist_1_album_1_track_1.mp3"
    evaluation = [t for t in ds.tracks if t.meta["subset"] == "evaluation"]
    assert evaluation[0].group == "classical_artist_0"  # real names, shared with training
    assert evaluation[0].meta["extra"] == ["57000"] and ds[APOSTROPHE].meta["extra"] == []


def test_evaluation_is_opt_in(tiny):
    assert {t.meta["subset"] for t in ISMIR2004Dataset(tiny).tracks} == {"training", "development"}
    assert len(ISMIR2004Dataset(tiny, subsets=["evaluation"])) == 24
    assert ISMIR2004Dataset(tiny, subsets="training").params == {"subsets": ["training"], "clip_seconds": None}


def test_the_archives_top_folder_is_found(tmp_path):
    write_ismir2004_tree(tmp_path / "ismir2004" / "ismir04_genre", per_class=1, audio=False)
    ds = ISMIR2004Dataset(tmp_path / "ismir2004")
    assert ds.root == tmp_path / "ismir2004" / "ismir04_genre" and len(ds) == 12


def test_full_size_index_without_audio(tmp_path):
    write_ismir2004_tree(tmp_path, subsets=SUBSETS, audio=False, counts=REAL_COUNTS)
    ds = ISMIR2004Dataset(tmp_path, subsets=SUBSETS)
    assert len(ds) == 3 * 729
    for subset in SUBSETS:
        assert classes_of(ds, [t.id for t in ds.tracks if t.meta["subset"] == subset]) == REAL_COUNTS[subset]


@needs_shared
def test_real_tracklists(tmp_path):
    for subset in SUBSETS:
        (tmp_path / "metadata" / subset).mkdir(parents=True)
        (tmp_path / "metadata" / subset / "tracklist.csv").write_bytes((REAL / f"{subset}.csv").read_bytes())
    ds = ISMIR2004Dataset(tmp_path, subsets=SUBSETS)
    by_subset = Counter(t.meta["subset"] for t in ds.tracks)
    assert by_subset == {"training": 729, "development": 729, "evaluation": 729}
    assert classes_of(ds, [t.id for t in ds.tracks if t.meta["subset"] == "training"]) == REAL_COUNTS["training"]
    training = [t for t in ds.tracks if t.meta["subset"] == "training"]
    assert sum("'" in t.id for t in training) == 72 and len({t.group for t in training}) == 128
    track = ds["training/classical/american_baroque/dances_and_suites_of_rameau_an/26-l'oracle_suite_in_d_from_les.mp3"]
    assert track.meta["artist"] == "american_baroque" and track.meta["track_number"] == "26"
    assert all(len(t.meta["extra"]) == 1 for t in ds.tracks if t.meta["subset"] == "evaluation")


# ----------------------------------------------------------------------------- validate and errors


def test_validate_reports_missing_unreadable_and_sample_rate(tmp_path):
    dev = "development/artist_102_album_1_track_2.mp3"
    write_ismir2004_tree(tmp_path, per_class=2, seconds=0.5, corrupt=(APOSTROPHE,), missing=(dev,))
    other = "training/world/world_artist_1/world's_album_1/2-rock_&_roll,_part_2.mp3"
    sf.write(tmp_path / "audio" / other, np.zeros(11025, dtype=np.float32), 22050, format="MP3")
    report = ISMIR2004Dataset(tmp_path).validate()
    assert report.kinds == {APOSTROPHE: "unreadable", dev: "missing", other: "sample-rate"}
    assert report.problems[dev].endswith("artist_102_album_1_track_2.mp3: file not found")
    assert "22050 Hz, expected 44100 Hz" in report.warnings[other]
    assert report.summary().startswith("ismir2004: 22/24 tracks usable")


def test_clip_seconds_keeps_the_start_of_each_track(tmp_path):
    write_ismir2004_tree(tmp_path, per_class=1, seconds=1.0)
    whole, clipped = ISMIR2004Dataset(tmp_path), ISMIR2004Dataset(tmp_path, clip_seconds=0.5)
    track = whole.tracks[0]
    full = whole.load_audio(track, 22050)
    assert len(full) >= 22050 and clipped.load_audio(track, 22050).shape == (11025,)
    np.testing.assert_array_equal(clipped.load_audio(track, 22050), full[:11025])


def test_absent_data_says_where_it_looked_and_the_layout(tmp_path):
    with pytest.raises(DatasetError, match="no data root is set; pass --data-root DIR or set MIRBENCH_DATA"):
        ISMIR2004Dataset(None)
    with pytest.raises(DatasetError) as exc:
        ISMIR2004Dataset(tmp_path)
    assert str(tmp_path / "metadata" / "training" / "tracklist.csv") in str(exc.value)
    assert "audio/development/artist_1_album_1_track_1.mp3" in str(exc.value)


def test_run_on_an_absent_dataset_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "ismir2004").mkdir()
    code = main(["run", str(REPO / "suites" / "ismir2004-train-dev.toml"), "--data-root", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ismir2004: tracklists not found") and "Traceback" not in err


@pytest.mark.parametrize(
    "row, match",
    [
        (["country", "a", "b", "c", "1", "c/a/b/1-c.mp3"], r"row 2: unknown class 'country'; expected one of classical"),
        (["rock_pop", "a", "b", "c", "1"], r"row 2: 5 fields, expected 6"),
    ],
)
def test_bad_rows_name_the_file_and_row(tmp_path, row, match):
    write_tracklist(tmp_path / "metadata" / "training" / "tracklist.csv", [["world", "a", "b", "c", "1", "w/a/b/1-c.mp3"], row])
    with pytest.raises(DatasetError, match=match):
        ISMIR2004Dataset(tmp_path, subsets=["training"])


def test_bad_parameters_are_clear_errors(tiny):
    with pytest.raises(DatasetError, match="subsets must be distinct names among training, development, evaluation"):
        ISMIR2004Dataset(tiny, subsets=["train"])
    with pytest.raises(DatasetError, match="clip_seconds must be a positive number"):
        ISMIR2004Dataset(tiny, clip_seconds=0)
    with pytest.raises(ValueError, match=r"valid_fraction must be a number in \[0, 1\)"):
        ISMIR2004TrainDev(valid_fraction=1.0)
    with pytest.raises(ValueError, match="has no development tracks"):
        ISMIR2004TrainDev().folds(ISMIR2004Dataset(tiny, subsets=["training"]))


def test_duplicate_files_in_a_tracklist_are_an_error(tmp_path):
    row = ["world", "a", "b", "c", "1", "w/a/b/1-c.mp3"]
    write_tracklist(tmp_path / "metadata" / "training" / "tracklist.csv", [row, row])
    with pytest.raises(DatasetError, match="names 1 file\\(s\\) twice, e.g. 'w/a/b/1-c.mp3'"):
        ISMIR2004Dataset(tmp_path, subsets=["training"])


# ----------------------------------------------------------------------------- protocol


def test_train_dev_scaled_down(tmp_path):
    write_ismir2004_tree(tmp_path, per_class=10, audio=False)
    ds = ISMIR2004Dataset(tmp_path)
    (fold,) = ISMIR2004TrainDev(valid_fraction=0.2).folds(ds)
    training = {t.id for t in ds.tracks if t.meta["subset"] == "training"}
    assert set(fold.train) | set(fold.valid) == training and len(fold.test) == 60
    assert all(i.startswith("development/") for i in fold.test)
    assert not {ds[i].group for i in fold.train} & {ds[i].group for i in fold.valid}  # no artist in both
    assert 8 <= len(fold.valid) <= 16
    (plain,) = ISMIR2004TrainDev(valid_fraction=0.2, groups=False).folds(ds)
    assert (len(plain.train), len(plain.valid)) == (48, 12) and classes_of(ds, plain.valid) == {c: 2 for c in CLASSES}
    (none,) = ISMIR2004TrainDev(valid_fraction=0).folds(ds)
    assert (len(none.train), len(none.valid), len(none.test)) == (60, 0, 60)


def test_train_dev_is_deterministic_and_seeded(tmp_path):
    write_ismir2004_tree(tmp_path, per_class=10, audio=False)
    ds = ISMIR2004Dataset(tmp_path)
    first = ISMIR2004TrainDev(groups=False).folds(ds)[0]
    assert first == ISMIR2004TrainDev(groups=False).folds(ISMIR2004Dataset(tmp_path))[0]
    other = ISMIR2004TrainDev(seed=1, groups=False).folds(ds)[0]
    assert other.valid != first.valid and other.test == first.test
    assert ISMIR2004TrainDev().params() == {"valid_fraction": 0.2, "seed": 0, "groups": True}


def test_train_dev_full_size(tmp_path):
    write_ismir2004_tree(tmp_path, subsets=SUBSETS, audio=False, counts=REAL_COUNTS)
    ds = ISMIR2004Dataset(tmp_path, subsets=SUBSETS)  # the evaluation subset is indexed but never used
    (fold,) = ISMIR2004TrainDev(groups=False).folds(ds)
    assert (len(fold.train) + len(fold.valid), len(fold.test)) == (729, 729)
    assert (len(fold.train), len(fold.valid)) == (583, 146)
    assert classes_of(ds, fold.test) == REAL_COUNTS["development"]


@needs_shared
def test_train_dev_on_the_real_tracklists(tmp_path):
    for subset in ("training", "development"):
        (tmp_path / "metadata" / subset).mkdir(parents=True)
        (tmp_path / "metadata" / subset / "tracklist.csv").write_bytes((REAL / f"{subset}.csv").read_bytes())
    ds = ISMIR2004Dataset(tmp_path)
    (fold,) = ISMIR2004TrainDev().folds(ds)  # by artist: 128 artists, jazz_blues has only 5
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (582, 147, 729)
    assert not {ds[i].group for i in fold.train} & {ds[i].group for i in fold.valid}
    expected = {"classical": 64, "electronic": 23, "jazz_blues": 5, "metal_punk": 10, "rock_pop": 21, "world": 24}
    assert classes_of(ds, fold.valid) == expected


def test_registry_names_and_dataset_binding():
    assert datasets.get("ismir2004") is ISMIR2004Dataset
    assert protocols.get("ismir2004-train-dev") is ISMIR2004TrainDev and ISMIR2004TrainDev.dataset == "ismir2004"
    assert ISMIR2004Dataset.task_for({}) == "single-label"


# ----------------------------------------------------------------------------- suite, end to end


def test_suite_carries_the_published_baselines():
    suite = load_suite(REPO / "suites" / "ismir2004-train-dev.toml")
    published = {(p["system"], p["metric"]): p["value"] for p in suite.report["published"]}
    assert published == {("MFCC", "accuracy"): 0.6721, ("PMSC", "accuracy"): 0.6845}
    assert {v.system for v in suite.variants} == {"mfcc", "pmsc"}
    for v in suite.variants:
        assert v.params == {"window_seconds": 5.0, "hop_seconds": 2.5, "classifier": "rf", "vote": "majority"}
    assert suite.dataset["clip_seconds"] == 30.0


def test_quick_run_reports_the_skipped_track(tmp_path, capsys):
    root = tmp_path / "data"
    write_ismir2004_tree(root / "ismir2004", per_class=6, seconds=2.0, corrupt=(APOSTROPHE,))
    suite = tmp_path / "ismir-tiny.toml"
    suite.write_text(f'extends = "{REPO / "suites" / "ismir2004-train-dev.toml"}"\nversion = "1"\n')
    code = main(
        ["run", str(suite), "--quick", "--data-root", str(root), "--results", str(tmp_path / "res"),
         "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 trials: 0 already done, 2 ran ok, 0 failed" in out and "1 track(s) skipped as unusable" in out
    report = (tmp_path / "rep" / "ismir-tiny-quick.md").read_text()
    assert "1 track(s) could not be used (missing, unreadable or invalid audio) and were left out of every fold" in report
    assert f"| {APOSTROPHE} " in report
    assert "| MFCC " in report and "67.21" in report and "68.45" in report


def test_tracklist_writer_quotes_every_field(tmp_path):
    """The fixture writes the archive's format: every field double-quoted, no header."""
    write_ismir2004_tree(tmp_path, per_class=1, audio=False)
    first = (tmp_path / "metadata" / "training" / "tracklist.csv").read_text().splitlines()[0]
    assert first.startswith('"classical","classical_artist_0",') and first.count('"') == 12
    assert next(csv.reader([first]))[5] == "classical/classical_artist_0/classical's_album_0/1-l'oracle_suite_(in_d).mp3"
