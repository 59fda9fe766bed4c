"""FMA: the index, validation and the official-split protocols, on tiny trees in the published layout
and on full-size synthetic metadata; and the FMA suites end to end."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mirbench.cli import main
from mirbench.datasets.base import Dataset, DatasetError, Track
from mirbench.datasets import open_dataset
from mirbench.datasets.fma import DatasetMismatch, FMADataset, FMAMedium, FMASmall, FMATop10
from mirbench.registry import datasets, protocols
from mirbench.suite import load_suite
from tests.fixtures import fma_tree as ft

REPO = Path(__file__).resolve().parent.parent
SUITES = [REPO / "suites" / f"fma-{name}.toml" for name in ("small", "medium", "top10")]
TOP10 = {"Rock", "Electronic", "Experimental", "Hip-Hop", "Folk", "Instrumental", "Pop", "International",
         "Classical", "Old-Time / Historic"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> ft.TinyTree:
    """Read-only: fma_small/ and fma_medium/ audio; no fma_large/."""
    return ft.build_tiny_tree(tmp_path_factory.mktemp("fma-tiny"), audio=("small", "medium"))


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """Metadata only, with the published split sizes of fma_small and fma_medium."""
    return ft.write_full_size_metadata(tmp_path_factory.mktemp("fma-full"))


def metadata_only(base: Path, rows=None) -> Path:
    """A tree with tracks.csv and genres.csv of the tiny rows and no audio; returns its fma/ folder."""
    fma = base / "fma"
    ft.write_tracks_csv(fma / "fma_metadata" / "tracks.csv", rows if rows is not None else ft.tiny_rows())
    ft.write_genres_csv(fma / "fma_metadata" / "genres.csv")
    return fma


def part_counts(dataset, fold) -> dict[str, Counter]:
    return {p: Counter(dataset[i].labels[0] for i in getattr(fold, p)) for p in ("train", "valid", "test")}


# ----------------------------------------------------------------------------- the fixture is the published format


def test_fixture_csvs_read_like_the_published_ones(tiny):
    meta = tiny.fma / "fma_metadata"
    lines = (meta / "tracks.csv").read_text().splitlines()
    assert lines[0].startswith(",album,album,") and lines[1].startswith(",comments,date_created,")
    assert re.fullmatch(r"track_id,+", lines[2])
    tracks = pd.read_csv(meta / "tracks.csv", index_col=0, header=[0, 1])  # as FMA's own utils.load reads it
    assert tracks.index.name == "track_id" and tracks.shape[1] == 52
    assert tracks.loc[ft.EMPTY_ID, ("set", "subset")] == "small"
    assert tracks.loc[2, ("artist", "bio")].count("\n") == 1  # a quoted multi-line field
    features = pd.read_csv(meta / "features.csv", index_col=0, header=[0, 1, 2])
    assert features.shape[1] == 518 and features.columns.names == ["feature", "statistics", "number"]
    assert features.columns[0] == ("chroma_cens", "kurtosis", "01")
    genres = pd.read_csv(meta / "genres.csv", index_col=0)
    assert list(genres.columns) == ["#tracks", "parent", "title", "top_level"]
    assert (tiny.fma / "fma_small" / "000" / "000002.mp3").stat().st_size > 1000


# ----------------------------------------------------------------------------- index


def test_registered_names():
    assert datasets.get("fma") is FMADataset and FMADataset.task_for({}) == "single-label"
    assert [protocols.get(n) for n in ("fma-small", "fma-medium", "fma-top10")] == [FMASmall, FMAMedium, FMATop10]
    assert {FMASmall.dataset, FMAMedium.dataset, FMATop10.dataset} == {"fma"}


def test_index_of_small(tiny):
    ds = FMADataset(tiny.fma, subset="small")
    assert [t.id for t in ds.tracks] == tiny.ids("small") and len(ds) == 40
    assert ds.classes == ("Electronic", "Folk", "Hip-Hop", "Rock") and ds.task == "single-label"
    t = ds["000002"]
    assert t.path == tiny.fma / "fma_small" / "000" / "000002.mp3"
    assert t.labels == ("Electronic",) and t.group == "artist:101"
    assert dict(t.meta) == {"split": "training", "subset": "small", "artist_id": "101"}
    assert ds["099134"].path == tiny.fma / "fma_small" / "099" / "099134.mp3"
    assert "001499" in {t.id for t in ds.tracks} and not ds["001499"].path.exists()  # absent on disk, kept in the index
    assert ds.params == {"subset": "small", "top_genres": None} and ds.sample_rate == 44100


def test_medium_includes_small_and_reads_its_own_folder(tiny):
    ds = FMADataset(tiny.fma, subset="medium")
    assert len(ds) == 69 and [t.id for t in ds.tracks] == tiny.ids("medium")
    assert set(tiny.ids("small")) < {t.id for t in ds.tracks}
    assert all(t.path.parent.parent == tiny.fma / "fma_medium" for t in ds.tracks)
    assert ds.genre_counts == {
        "Rock": 16, "Electronic": 13, "Folk": 10, "Hip-Hop": 10, "Classical": 4, "Experimental": 3,
        "Instrumental": 3, "International": 2, "Jazz": 2, "Old-Time / Historic": 2, "Pop": 2, "Blues": 1, "Country": 1,
    }
    assert ds["000002"].meta["subset"] == "small" and ds.subset(["000002"])[0].id == "000002"


def test_large_leaves_out_tracks_without_genre_top(tiny):
    ds = FMADataset(tiny.fma, subset="large")
    assert ds.n_without_genre == 4 and len(ds) == 69 + 3
    assert all(t.labels[0] for t in ds.tracks) and "Pop" in ds.classes


def test_top_genres_counts_all_splits_and_breaks_ties_by_name(tiny):
    ds = FMADataset(tiny.fma, subset="medium", top_genres=10)
    # counts 16, 13, 10, 10, 4, 3, 3, then four genres tie at 2 for the last three places: Pop is the one left out
    assert set(ds.classes) == {"Rock", "Electronic", "Folk", "Hip-Hop", "Classical", "Experimental", "Instrumental",
                               "International", "Jazz", "Old-Time / Historic"}
    assert len(ds) == 69 - 2 - 1 - 1 and {t.labels[0] for t in ds.tracks} == set(ds.classes)
    assert FMADataset(tiny.fma, subset="medium", top_genres=3).classes == ("Electronic", "Folk", "Rock")
    assert ds.params == {"subset": "medium", "top_genres": 10}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"subset": "smal"}, "did you mean 'small'"),
        ({"subset": "full"}, "subset must be one of small, medium, large"),
        ({"subset": "medium", "top_genres": 0}, "top_genres must be a positive integer"),
        ({"subset": "medium", "top_genres": True}, "top_genres must be a positive integer"),
        ({"subset": "medium", "top_genres": 14}, "has only 13 genre_top values"),
    ],
)
def test_bad_parameters(tiny, params, message):
    with pytest.raises(DatasetError, match=re.escape(message)):
        FMADataset(tiny.fma, **params)


def test_no_root_or_no_metadata_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetError) as no_root:
        FMADataset(None, subset="medium")
    assert "--data-root" in str(no_root.value) and "MIRBENCH_DATA" in str(no_root.value)
    (tmp_path / "fma").mkdir()
    with pytest.raises(DatasetError) as absent:
        FMADataset(tmp_path / "fma", subset="medium")
    text = str(absent.value)
    assert str(tmp_path / "fma" / "fma_metadata" / "tracks.csv") in text
    assert "fma_metadata/tracks.csv" in text.splitlines()[2] and "fma_medium/000/000002.mp3" in text.splitlines()[3]
    (tmp_path / "fma" / "tracks.csv").write_text("")
    with pytest.raises(DatasetError, match="move it into fma_metadata/"):
        FMADataset(tmp_path / "fma")


def test_malformed_tracks_csv(tmp_path):
    path = tmp_path / "fma" / "fma_metadata" / "tracks.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"split": ["training"], "genre_top": ["Rock"]}, index=pd.Index([2], name="track_id")).to_csv(path)
    with pytest.raises(DatasetError, match="two header rows"):
        FMADataset(tmp_path / "fma")
    frame = pd.DataFrame([["small", "Rock", 1]], index=pd.Index([2], name="track_id"))
    frame.columns = pd.MultiIndex.from_tuples([("set", "subset"), ("track", "genre_top"), ("artist", "id")])
    frame.to_csv(path)
    with pytest.raises(DatasetError, match=re.escape("no column ('set', 'split')")):
        FMADataset(tmp_path / "fma")
    rows = [ft.Row(2, "training", "small", "Rock", 1), ft.Row(5, "train", "small", "Rock", 1)]
    ft.write_tracks_csv(path, rows)
    with pytest.raises(DatasetError, match=r"must be one of training, validation, test.*track 000005 has 'train'"):
        FMADataset(tmp_path / "fma")


# ----------------------------------------------------------------------------- validate


def test_validate_reports_the_empty_missing_off_rate_and_corrupt_files(tiny):
    for subset in ("small", "medium"):
        report = FMADataset(tiny.fma, subset=subset).validate()
        assert report.problems.keys() == {"001499", "099134", "108925"}
        assert report.kinds["001499"] == "missing" and "file not found" in report.problems["001499"]
        assert report.kinds["099134"] == "unreadable"
        assert "file is empty (0 bytes)" in report.problems["099134"] and "known empty" in report.problems["099134"]
        assert report.kinds["108925"] == "unreadable" and "known empty" in report.problems["108925"]
        assert report.warnings.keys() == {"002996", "004992"}
        assert report.kinds["002996"] == "sample-rate" and "48000 Hz" in report.warnings["002996"]
        assert report.kinds["004992"] == "checksum" and f"fma_{subset}/checksums" in report.warnings["004992"]
        assert report.summary().startswith(f"fma: {report.n_tracks - 3}/{report.n_tracks} tracks usable")


def test_validate_without_the_audio_folder_reports_every_track_missing(tiny):
    report = FMADataset(tiny.fma, subset="large").validate()
    assert len(report.problems) == report.n_tracks == 72
    assert set(report.kinds.values()) == {"missing"}
    assert all("no fma_large/ folder: unzip fma_large.zip there" in why for why in report.problems.values())


def test_validate_checks_the_metadata_files(tmp_path):
    good = metadata_only(tmp_path / "good")
    assert FMADataset(good).metadata_problems() == {}  # features.csv is optional
    bad = metadata_only(tmp_path / "bad")
    ids = [r.track_id for r in ft.tiny_rows()]
    ft.write_features_csv(bad / "fma_metadata" / "features.csv", ids, n_columns=517)
    (bad / "fma_metadata" / "genres.csv").unlink()
    report = FMADataset(bad).validate()
    assert report.kinds["fma_metadata/features.csv"] == "metadata"
    assert "517 feature columns, expected 518" in report.warnings["fma_metadata/features.csv"]
    assert "not found" in report.warnings["fma_metadata/genres.csv"]
    ft.write_features_csv(bad / "fma_metadata" / "features.csv", ids)
    pd.DataFrame({"genre_id": [12], "#tracks": [1], "parent": [0], "title": ["Rock"], "top_level": [12]}).to_csv(
        bad / "fma_metadata" / "genres.csv", index=False
    )
    assert FMADataset(bad).metadata_problems() == {
        "genres.csv": "genre_top values ['Electronic', 'Folk', 'Hip-Hop'] of tracks.csv are not root genres (parent 0) here"
    }


# ----------------------------------------------------------------------------- protocols, scaled down


def test_fma_small_is_the_official_split(tiny):
    ds = FMADataset(tiny.fma, subset="small")
    [fold] = FMASmall().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (32, 4, 4)  # 8:1:1 per genre, as published
    for part, split in (("train", "training"), ("valid", "validation"), ("test", "test")):
        assert list(getattr(fold, part)) == tiny.ids("small", split)
        assert part_counts(ds, fold)[part] == {g: ft.TINY_PER_SPLIT[split] for g in ft.TINY_GENRES}
    owner = {}
    for part in ("train", "valid", "test"):
        for i in getattr(fold, part):
            assert owner.setdefault(ds[i].group, part) == part  # artist-filtered: no artist in two parts
    assert FMASmall().params() == {}


def test_fma_medium_and_top10_scaled_down(tiny):
    [medium] = FMAMedium().folds(FMADataset(tiny.fma, subset="medium"))
    assert (len(medium.train), len(medium.valid), len(medium.test)) == (45, 14, 10)
    [top] = FMATop10().folds(FMADataset(tiny.fma, subset="medium", top_genres=10))
    assert (len(top.train), len(top.valid), len(top.test)) == (42, 13, 10)
    assert set(top.train) <= set(medium.train) and set(top.test) <= set(medium.test)


@pytest.mark.parametrize(
    "protocol, params",
    [
        (FMASmall, {"subset": "medium"}),
        (FMAMedium, {"subset": "medium", "top_genres": 3}),
        (FMATop10, {"subset": "medium"}),
    ],
)
def test_protocols_need_the_matching_dataset(tiny, protocol, params):
    ds = FMADataset(tiny.fma, **params)
    with pytest.raises(DatasetMismatch) as err:
        protocol().folds(ds)
    assert isinstance(err.value, ValueError) and isinstance(err.value, DatasetError)
    want = f'subset = "{protocol.subset}"' + (", top_genres = 10" if protocol.top_genres else " (and no top_genres)")
    assert f"put this in the suite's [dataset] table: name = \"fma\", {want}" in str(err.value)


def test_protocols_refuse_another_dataset():
    other = Dataset([Track("blues.00000", Path("blues.00000.wav"), ("blues",))], ["blues"], "single-label", 22050, name="gtzan")
    with pytest.raises(DatasetMismatch, match="given dataset 'gtzan'; put this"):
        FMASmall().folds(other)


def test_index_and_folds_are_deterministic_and_independent_of_row_order(tiny, tmp_path):
    a = FMADataset(tiny.fma, subset="medium", top_genres=10)
    b = FMADataset(tiny.fma, subset="medium", top_genres=10)
    shuffled = FMADataset(metadata_only(tmp_path, ft.tiny_rows()[::-1]), subset="medium", top_genres=10)
    assert a.fingerprint() == b.fingerprint() == shuffled.fingerprint()
    hashes = {FMATop10().folds(ds)[0].split_hash() for ds in (a, b, shuffled)}
    assert len(hashes) == 1


# ----------------------------------------------------------------------------- full size (metadata only)


def test_full_size_fma_small(full, monkeypatch):
    import soundfile

    def no_audio(*args, **kwargs):
        raise AssertionError("indexing must not open audio")

    monkeypatch.setattr(soundfile, "info", no_audio)
    monkeypatch.setattr(soundfile, "read", no_audio)
    ds = FMADataset(full, subset="small")
    assert len(ds) == 8000 and ds.classes == tuple(sorted(ft.SMALL_GENRES))
    [fold] = FMASmall().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (6400, 800, 800)
    counts = part_counts(ds, fold)
    assert all(counts[p] == {g: n for g in ft.SMALL_GENRES} for p, n in (("train", 800), ("valid", 100), ("test", 100)))


def test_full_size_fma_medium(full):
    ds = FMADataset(full, subset="medium")
    assert len(ds) == 25000 and len(ds.classes) == 16
    [fold] = FMAMedium().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (19922, 2505, 2573)
    counts = part_counts(ds, fold)
    assert {g: (counts["train"][g], counts["valid"][g], counts["test"][g]) for g in ds.classes} == ft.MEDIUM_COUNTS


def test_full_size_fma_top10(full):
    ds = FMADataset(full, subset="medium", top_genres=10)
    assert set(ds.classes) == TOP10 and list(ds.genre_counts)[:10] == [
        "Rock", "Electronic", "Experimental", "Hip-Hop", "Folk", "Instrumental", "Pop", "International",
        "Classical", "Old-Time / Historic",
    ]
    [fold] = FMATop10().folds(ds)
    # the synthetic metadata's counts (its per-genre split is constructed); read a real copy's with
    # `mirbench data splits fma-top10`
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (19181, 2413, 2477)
    assert len(ds) == 24071 == sum(sum(ft.MEDIUM_COUNTS[g]) for g in TOP10)


def test_full_size_large_keeps_only_tracks_with_a_genre_top(full):
    ds = FMADataset(full, subset="large")
    assert ds.n_without_genre == 2000 and len(ds) == 25000 + 1000 and len(ds.classes) == 16


# ----------------------------------------------------------------------------- suites and the command line


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suites_open_the_dataset_their_protocol_needs(path, tmp_path):
    suite = load_suite(path)
    spec = dict(suite.dataset)
    name = spec.pop("name")
    protocol = protocols.get(suite.protocol["name"])
    assert name == protocol.dataset == "fma" and suite.version == "2"
    protocol.check_dataset(name, spec)  # raises on a mismatch
    systems = ["fma.mlp"] * 12 + ["fma.logreg", "fma.linear-svm", "fma.svm", "fma.knn", "fma.rf", "mfcc"]
    assert [v.system for v in suite.variants] == systems and "tracks_per_class" in suite.quick
    published = suite.report.get("published", [])
    assert published == ([{"system": "SVM", "metric": "accuracy", "value": 0.6288, "source": published[0]["source"]}]
                         if path.stem == "fma-medium" else [])
    (tmp_path / "fma").mkdir()
    assert main(["validate", str(path), "--data-root", str(tmp_path)]) == 0


def test_run_quick_on_the_tiny_tree_reports_the_skipped_files(tiny, tmp_path, capsys):
    code = main(["run", str(SUITES[0]), "--quick", "--data-root", str(tiny.root), "--results", str(tmp_path / "res"),
                 "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "18 trials: 0 already done, 18 ran ok, 0 failed" in out and "3 track(s) skipped" in out
    report = (tmp_path / "rep" / "fma-small-quick.md").read_text()
    assert "29/4/4" in report  # 32 training tracks less the two empty ones and the missing one
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    for system in ("MLP", "LogReg", "LinearSVM", "SVM", "kNN", "RF", "MFCC (audio)"):
        assert any(line.startswith(f"| {system} ") for line in rows), system
    assert "## Split sizes by class" in report
    skipped = report[report.index("## Skipped tracks"):].split("\n## ")[0]
    assert "3 track(s) could not be used" in skipped
    assert re.search(r"\| +099134 \|.*099134.mp3: a known empty file .*: file is empty \(0 bytes\)", skipped)
    assert re.search(r"\| +108925 \|.*108925.mp3: a known empty file .*: cannot read audio header", skipped)
    assert re.search(r"\| +001499 \|.*file not found", skipped)


def test_run_without_the_dataset_is_a_clear_error(tmp_path, capsys):
    args = ["run", str(SUITES[2]), "--quick", "--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep")]
    assert main(args + ["--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {SUITES[2]}: dataset 'fma' expected at {tmp_path / 'fma'}, which does not exist")
    assert "expected layout:" in err and "fma_metadata/tracks.csv" in err
    (tmp_path / "fma").mkdir()
    assert main(args + ["--data-root", str(tmp_path)]) == 2
    stage, *lines = capsys.readouterr().err.strip().splitlines()
    assert stage == "mirbench: indexing dataset fma..."
    assert lines[0].startswith(f"error: dataset 'fma': {tmp_path / 'fma' / 'fma_metadata' / 'tracks.csv'} does not exist")
    assert [line.split()[0] for line in lines[1:]] == ["DIR/fma/", "fma_metadata/tracks.csv", "fma_medium/000/000002.mp3"]


def test_open_dataset_through_the_registry(tiny):
    ds = open_dataset({"name": "fma", "subset": "medium", "top_genres": 10}, tiny.root)
    assert isinstance(ds, FMADataset) and len(ds) == 65
