"""MagnaTagATune: index and validation of the published layout, the top-N tags, and both protocols
at scaled-down size (a tiny tree with audio) and full size (the 25,863 real clip ids and paths)."""

from __future__ import annotations

import hashlib
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from mirbench.cli import main
from mirbench.datasets.base import DatasetError
from mirbench.datasets.mtat import (
    KNOWN_BAD,
    MTAT1213,
    MTATCleaned,
    MTATDataset,
    PUBLISHED_SIZES,
    TAGS,
    TEST,
    VALID,
    read_annotations,
    top_tags,
)
from mirbench.datasets.mtat.lists import read_entries
from mirbench.fetch import FetchError
from mirbench.registry import datasets, protocols
from tests.fixtures.mtat_tree import (
    TAG_NAMES,
    TEST_DIRS,
    TOP5,
    TOP50,
    TRAIN_DIRS,
    VALID_DIRS,
    build_tiny_tree,
    full_size_annotations,
    write_annotations,
    write_cleaned_lists,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "reference" / "index_mtt.tsv").is_file(), reason="../shared/data is not available"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_tree(tmp_path_factory.mktemp("mtat-tiny") / "data")


@pytest.fixture
def shared_splits(monkeypatch):
    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A full-size annotations_final.csv (real ids and paths, synthetic tags for 0-b) and its dataset; no audio."""
    if not (SHARED / "reference" / "index_mtt.tsv").is_file():
        pytest.skip("../shared/data is not available")
    root = tmp_path_factory.mktemp("mtat-full") / "mtat"
    info = full_size_annotations(root / "annotations_final.csv", SHARED / "reference")
    return info, MTATDataset(root)


def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr("urllib.request.urlopen", refuse)


# ----------------------------------------------------------------------------- index


def test_index_names_every_clip_with_its_top_tags(tiny):
    ds = MTATDataset(tiny.root, n_tags=5)
    assert ds.task == "multi-label" and ds.sample_rate == 16_000
    assert ds.classes == TOP5  # sums strictly decrease in this order in the tiny tree
    assert [t.id for t in ds.index()] == [c.clip_id for c in tiny.clips]  # every row, missing audio included
    for row, (track, clip) in enumerate(zip(ds.tracks, tiny.clips)):
        assert track.labels == tuple(t for t in TOP5 if t in clip.tags)
        assert track.path == tiny.root / clip.mp3_path
        assert track.meta == {"row": row, "directory": clip.mp3_path[0], "mp3_path": clip.mp3_path}
    untagged = [t.id for t in ds.tracks if not t.labels]
    assert len(untagged) == 5  # kept in the index with no labels
    bad = ds["35644"]
    assert bad.group == "norine_braun-now_and_zen-08-gently" and bad.labels == ("guitar", "classical")


def test_annotations_are_read_as_published(tiny):
    ann = read_annotations(tiny.root / "annotations_final.csv")
    assert ann.tag_names == TAG_NAMES and len(TAG_NAMES) == 188 and set(TOP50) <= set(TAG_NAMES)
    assert ann.tags.shape == (len(tiny.clips), 188)
    first_line = (tiny.root / "annotations_final.csv").read_text().splitlines()[0]
    assert first_line.startswith('"clip_id"\t"no voice"\t"singer"') and first_line.endswith('"english"\t"mp3_path"')


def test_top_tags_break_ties_by_column_order(tmp_path):
    names = ("a", "b", "c", "d")
    rows = [("1", "0/x-1-0-29.mp3", [1, 1, 1, 0]), ("2", "0/x-1-30-59.mp3", [0, 1, 1, 1]), ("3", "0/y-2-0-29.mp3", [0, 0, 0, 1])]
    write_annotations(tmp_path / "annotations_final.csv", rows, names, newline="\r\n")
    ann = read_annotations(tmp_path / "annotations_final.csv")
    assert ann.sums().tolist() == [1, 2, 2, 2]
    assert top_tags(ann, 3) == ("b", "c", "d") and top_tags(ann, 4) == ("b", "c", "d", "a")
    ds = MTATDataset(tmp_path, n_tags=2)
    assert ds.classes == ("b", "c") and ds["3"].labels == () and ds["1"].labels == ("b", "c")
    assert ds["1"].group == ds["2"].group == "x-1"  # two segments of one song


@pytest.mark.parametrize("n_tags", [0, -1, True, 2.5])
def test_bad_n_tags_is_a_clear_error(tiny, n_tags):
    with pytest.raises(DatasetError, match="n_tags must be a positive integer"):
        MTATDataset(tiny.root, n_tags=n_tags)


def test_n_tags_beyond_the_columns_and_unknown_tag_choice(tiny):
    with pytest.raises(DatasetError, match="n_tags=189 but .* has only 188 tag columns"):
        MTATDataset(tiny.root, n_tags=189)
    with pytest.raises(DatasetError, match="tags must be one of 'top', 'published'"):
        MTATDataset(tiny.root, tags="all")
    with pytest.raises(DatasetError, match="n_tags=10 contradicts it"):
        MTATDataset(tiny.root, n_tags=10, tags="published")


@needs_shared
def test_published_tags_come_from_the_checked_list(tiny, shared_splits):
    ds = MTATDataset(tiny.root, tags="published")
    assert ds.classes == TOP50 and ds.params == {"n_tags": 50, "tags": "published"}
    assert ds["1007"].labels == ("guitar", "no voice")  # a top-50 tag beyond the tiny tree's top 5


def test_published_tags_unavailable_is_a_dataset_error(tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("MIRBENCH_SPLITS", str(tmp_path))  # empty: falls through to the (refused) download
    offline(monkeypatch)
    with pytest.raises(DatasetError, match="tags='published' needs the published tag list: could not download mtat/tags.npy"):
        MTATDataset(tiny.root, tags="published")


def test_mp3_subdirectory_layout_is_detected(tmp_path):
    tree = build_tiny_tree(tmp_path / "data", mp3_subdir=True, seconds=0.3)
    ds = MTATDataset(tree.root, n_tags=5)
    assert ds.audio_root == tree.root / "mp3"
    assert ds["1007"].path == tree.root / "mp3" / "0" / "artist_00-album_0-01-song_00-0-29.mp3"
    assert set(ds.validate().problems) == {"1238", *KNOWN_BAD}


def test_no_root_and_wrong_root_say_where_they_looked(tmp_path):
    with pytest.raises(DatasetError) as info:
        MTATDataset(None)
    assert "--data-root" in str(info.value) and "MIRBENCH_DATA" in str(info.value)
    assert "annotations_final.csv" in str(info.value) and "0/ 1/ ... 9/ a/ ... f/" in str(info.value)
    (tmp_path / "mtat" / "0").mkdir(parents=True)
    with pytest.raises(DatasetError) as info:
        MTATDataset(tmp_path / "mtat")
    message = str(info.value)
    assert f"looked for {tmp_path / 'mtat' / 'annotations_final.csv'}" in message and "has no annotations_final.csv" in message
    assert 3 <= len(message.splitlines()) <= 8
    with pytest.raises(DatasetError, match="does not exist"):
        MTATDataset(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.replace("\t", ",", 3), "expected a TAB-separated header 'clip_id'"),
        (lambda t: t.replace('"0"', '"2"', 1), r"line 2: tag values must be 0 or 1, got '2' for tag 'singer'"),
        (lambda t: t.replace('"0/artist_00', '"g/artist_00', 1), r"line 2: mp3_path 'g/artist_00.* 16 directories"),
        (lambda t: t.replace('"1014"', '"1007"', 1), r"line 3: clip_id '1007' already on line 2"),
        (lambda t: t.replace('\t"0/artist_01', '\t"0"\t"0/artist_01', 1), r"line 3: 191 fields, but the header has 190"),
        (lambda t: "", "the file is empty"),
    ],
)
def test_malformed_annotations_name_the_line(tiny, tmp_path, mutate, message):
    text = (tiny.root / "annotations_final.csv").read_text()
    (tmp_path / "annotations_final.csv").write_text(mutate(text))
    with pytest.raises(DatasetError, match=message):
        MTATDataset(tmp_path, n_tags=5)


# ----------------------------------------------------------------------------- validate


def test_validate_reports_missing_corrupt_and_off_rate_clips(tiny):
    report = MTATDataset(tiny.root, n_tags=5).validate()
    assert report.kinds == {
        "35644": "missing",
        "1238": "missing",
        "55753": "unreadable",
        "57881": "unreadable",
        "1147": "sample-rate",
    }
    assert set(report.problems) == {"35644", "1238", "55753", "57881"} and set(report.warnings) == {"1147"}
    assert "known-bad clip: missing from the published mp3 archive" in report.problems["35644"]
    assert "known-bad clip: corrupt" in report.problems["55753"] and "known-bad" not in report.problems["1238"]
    assert "22050 Hz, expected 16000 Hz" in report.warnings["1147"]
    assert report.summary().startswith(f"mtat: {len(tiny.clips) - 4}/{len(tiny.clips)} tracks usable")


def test_registry_names_and_task(tiny):
    assert datasets.get("mtat") is MTATDataset and MTATDataset.needs_root
    assert MTATDataset.task_for({}) == "multi-label"
    assert protocols.get("mtat-12-1-3") is MTAT1213 and protocols.get("mtat-cleaned") is MTATCleaned
    assert MTAT1213.dataset == MTATCleaned.dataset == "mtat"
    assert MTAT1213().params() == {} and MTATCleaned().params() == {"train": None, "valid": None, "test": None, "verify": True}


# ----------------------------------------------------------------------------- mtat-12-1-3


def test_12_1_3_splits_by_directory_and_drops_the_known_bad_clips(tiny):
    ds = MTATDataset(tiny.root, n_tags=5)
    fold = MTAT1213().folds(ds)
    assert len(fold) == 1
    (fold,) = fold
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (24, 5, 9)
    assert set(fold.train) == tiny.ids(TRAIN_DIRS) and set(fold.valid) == tiny.ids(VALID_DIRS)
    assert set(fold.test) == tiny.ids(TEST_DIRS)
    assert not set(KNOWN_BAD) & set(fold.train + fold.valid + fold.test)
    assert "1238" in fold.test  # missing on disk but in the split: the runner skips and counts it
    untagged = {t for t in fold.train + fold.valid + fold.test if not ds[t].labels}
    assert len(untagged) == 5 and untagged == tiny.ids(TRAIN_DIRS + VALID_DIRS + TEST_DIRS, tagged=False)
    again = MTAT1213().folds(MTATDataset(tiny.root, n_tags=5))[0]
    assert again == fold and again.split_hash() == fold.split_hash()


def test_12_1_3_refuses_other_datasets():
    from mirbench.testing import SyntheticDataset

    with pytest.raises(ValueError, match="needs the 'mtat' dataset"):
        MTAT1213().folds(SyntheticDataset(per_class=2, seconds=0.2))


def test_12_1_3_full_size_counts(full):
    info, ds = full
    assert len(ds) == 25_863
    (fold,) = MTAT1213().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (18_706, 1_825, 5_329)
    assert not set(KNOWN_BAD) & set(fold.train + fold.valid + fold.test)
    gt = {ln.split("\t")[0] for ln in (SHARED / "reference" / "val_gt_mtt.tsv").read_text().splitlines()}
    assert set(fold.valid) == gt
    gt = {ln.split("\t")[0] for ln in (SHARED / "reference" / "test_gt_mtt.tsv").read_text().splitlines()}
    assert set(fold.test) == gt
    assert sum(1 for i in fold.train if not ds[i].labels) == 3_462  # clips without tags stay in


def test_full_size_top_50_is_the_published_list_in_order(full):
    info, ds = full
    assert ds.classes == TOP50
    assert [t.strip() for t in np.load(SHARED / "mtat" / "tags.npy")] == list(TOP50)


# ----------------------------------------------------------------------------- mtat-cleaned


@needs_shared
def test_shared_lists_load_without_pickle_and_have_the_published_sizes():
    assert len(read_entries(SHARED / "mtat" / "valid.npy", "valid")) == PUBLISHED_SIZES["valid"] == 1_529
    assert len(read_entries(SHARED / "mtat" / "test.npy", "test")) == PUBLISHED_SIZES["test"] == 4_332
    for resource in (TAGS, VALID, TEST):
        assert hashlib.md5((SHARED / resource.name).read_bytes()).hexdigest() == resource.md5
        assert resource.repository == "minzwon/sota-music-tagging-models"
        assert resource.commit == "c5c726c0caff82d3c2127618bd4cd8185940837a"


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "valid.npy", np.array(["5\tc/x.mp3", None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a numpy array of strings"):
        read_entries(tmp_path / "valid.npy", "the valid list")


def test_cleaned_full_size_counts(full, shared_splits):
    info, ds = full
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the derived train has the published size: no warning
        (fold,) = MTATCleaned().folds(ds)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (15_244, 1_529, 4_332)
    assert {ds[i].meta["directory"] for i in fold.valid} == {"c"}
    assert {ds[i].meta["directory"] for i in fold.test} == set(TEST_DIRS)
    assert {ds[i].meta["directory"] for i in fold.train} <= set(TRAIN_DIRS)
    # the lists' rule, checked on the real ground truth of c and d-f: every clip there with a top-50 tag
    for part, dirs in (("valid", VALID_DIRS), ("test", TEST_DIRS)):
        tagged = {t.id for t in ds.tracks if t.meta["directory"] in dirs and t.labels}
        assert set(getattr(fold, part)) == tagged
    assert all(ds[i].labels for i in fold.train) and not set(KNOWN_BAD) & set(fold.train)
    assert all(ds[k].labels for k in KNOWN_BAD)  # tagged, so left out by the protocol's rule for known-bad clips
    assert MTATCleaned().folds(ds)[0].split_hash() == fold.split_hash()


def test_cleaned_full_size_with_published_tags(full, shared_splits):
    info, ds = full
    published = MTATDataset(ds.root, tags="published")
    assert published.classes == TOP50
    (fold,) = MTATCleaned().folds(published)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (15_244, 1_529, 4_332)


def test_cleaned_train_list_of_another_size_is_flagged(full, shared_splits, tmp_path):
    info, ds = full
    entries = [f"{t.meta['row']}\t{t.meta['mp3_path']}" for t in ds.tracks if t.meta["directory"] == "0" and t.labels]
    np.save(tmp_path / "train.npy", np.array(entries))
    with pytest.warns(UserWarning, match=rf"the list .*train.npy has {len(entries)} clips, the published train list 15244"):
        (fold,) = MTATCleaned(train=str(tmp_path / "train.npy")).folds(ds)
    assert len(fold.train) == len(entries) and len(fold.test) == 4_332


@needs_shared
@pytest.mark.parametrize("where", ["splits", "cache"])
def test_tampered_list_is_a_clear_error(full, tmp_path, monkeypatch, where, isolated_cache):
    info, ds = full
    folder = tmp_path / "splits" if where == "splits" else isolated_cache / "downloads"
    (folder / "mtat").mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED / "mtat" / "tags.npy", folder / "mtat" / "tags.npy")
    entries = np.load(SHARED / "mtat" / "test.npy")
    np.save(folder / "mtat" / "test.npy", entries[:-1])  # one clip dropped
    shutil.copy(SHARED / "mtat" / "valid.npy", folder / "mtat" / "valid.npy")
    if where == "splits":
        monkeypatch.setenv("MIRBENCH_SPLITS", str(folder))
    else:
        monkeypatch.delenv("MIRBENCH_SPLITS", raising=False)
    offline(monkeypatch)
    try:
        with pytest.raises(FetchError) as info_:
            MTATCleaned().folds(ds)
    finally:
        if where == "cache":
            shutil.rmtree(folder / "mtat")
    message = str(info_.value)
    source = "minzwon/sota-music-tagging-models @ c5c726c0caff : split/mtat/test.npy"
    assert f"but mtat/test.npy as published ({source}) has md5 {TEST.md5}" in message
    assert "recorded from a copy vendored by another repository" in message


def test_cleaned_local_copies_are_checked_unless_told_not_to(full, shared_splits, tmp_path):
    info, ds = full
    (fold,) = MTATCleaned(valid=str(SHARED / "mtat" / "valid.npy"), test=SHARED / "mtat" / "test.npy").folds(ds)
    assert (len(fold.valid), len(fold.test)) == (1_529, 4_332)
    np.save(tmp_path / "valid.npy", np.load(SHARED / "mtat" / "valid.npy")[:100])
    with pytest.raises(FetchError, match=r"valid.npy has md5 .* but mtat/valid.npy as published"):
        MTATCleaned(valid=str(tmp_path / "valid.npy")).folds(ds)
    (fold,) = MTATCleaned(valid=str(tmp_path / "valid.npy"), verify=False).folds(ds)
    assert len(fold.valid) == 100
    with pytest.raises(FetchError, match="no such file"):
        MTATCleaned(valid=str(tmp_path / "absent.npy")).folds(ds)


def test_cleaned_parameters_are_checked_when_built():
    with pytest.raises(ValueError, match="verify=false only applies to local copies"):
        MTATCleaned(verify=False)
    with pytest.raises(ValueError, match="verify must be true or false"):
        MTATCleaned(verify="no")
    with pytest.raises(ValueError, match="valid must be a path"):
        MTATCleaned(valid=3)


@needs_shared
def test_cleaned_lists_must_match_this_copy_of_the_annotations(tiny, shared_splits):
    ds = MTATDataset(tiny.root, tags="published")
    with pytest.raises(ValueError, match=r"the valid list .*valid.npy: 1529 of its 1529 entries do not match .*row 5 is"):
        MTATCleaned().folds(ds)


@needs_shared
def test_cleaned_needs_the_published_tags(tiny, shared_splits):
    with pytest.raises(ValueError, match=r"tags.npy, but the dataset's classes differ .* set tags = \"published\""):
        MTATCleaned().folds(MTATDataset(tiny.root, n_tags=5))


@needs_shared
def test_cleaned_on_the_tiny_tree_with_its_own_lists(tiny, shared_splits, tmp_path):
    lists = write_cleaned_lists(tiny, tmp_path)
    ds = MTATDataset(tiny.root, tags="published")
    (derived,) = MTATCleaned(valid=str(lists["valid"]), test=str(lists["test"]), verify=False).folds(ds)
    assert (len(derived.train), len(derived.valid), len(derived.test)) == (22, 4, 7)
    assert set(derived.train) == tiny.ids(TRAIN_DIRS, tagged=True)
    assert "1238" in derived.test  # missing on disk, still counted in the split
    held_out = {"valid": str(lists["valid"]), "test": str(lists["test"]), "verify": False}
    (listed,) = MTATCleaned(train=str(lists["train"]), **held_out).folds(ds)
    assert listed == derived
    np.save(tmp_path / "overlap.npy", np.concatenate([np.load(lists["train"]), np.load(lists["valid"])[:1]]))
    with pytest.raises(ValueError, match="is in both 'train' and 'valid'"):
        MTATCleaned(train=str(tmp_path / "overlap.npy"), **held_out).folds(ds)
    paths = "\n".join(ds[i].meta["mp3_path"] for i in derived.train)
    (tmp_path / "paths.txt").write_text("# bare mp3 paths are matched by path\n" + paths)
    (by_path,) = MTATCleaned(train=str(tmp_path / "paths.txt"), **held_out).folds(ds)
    assert by_path.train == derived.train
    (tmp_path / "wrong.txt").write_text(f"0\t{ds.tracks[1].meta['mp3_path']}\n")
    with pytest.raises(ValueError, match=r"the train list .*wrong.txt: 1 of its 1 entries .* row 0 is '0/artist_00"):
        MTATCleaned(train=str(tmp_path / "wrong.txt"), **held_out).folds(ds)


# ----------------------------------------------------------------------------- suites, end to end


@pytest.mark.parametrize("name", ["mtat-12-1-3", "mtat-cleaned"])
def test_suites_validate(name, tiny, capsys):
    assert main(["validate", str(REPO / "suites" / f"{name}.toml"), "--data-root", str(tiny.data_root)]) == 0
    assert "ok — 1 variant(s)" in capsys.readouterr().out


def test_12_1_3_suite_runs_quick_on_the_tiny_tree(tiny, tmp_path, capsys):
    args = ["run", str(REPO / "suites" / "mtat-12-1-3.toml"), "--quick", "--data-root", str(tiny.data_root)]
    args += ["--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-vs-rest on tags absent from the tiny training set
        code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 trials: 0 already done, 1 ran ok, 0 failed" in out
    report = (tmp_path / "rep" / "mtat-12-1-3-quick.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| MFCC "))
    values = [float(v) for v in row.split("|")[2:6]]
    assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values), row
    assert "| roc_auc_macro " in report and "1 track(s) could not be used" in report
    assert re.search(r"\|\s+1238 \| .*file not found", report)


@needs_shared
def test_cleaned_suite_runs_quick_with_local_lists(tiny, tmp_path, capsys, shared_splits):
    lists = write_cleaned_lists(tiny, tmp_path / "lists")
    suite = tmp_path / "cleaned-tiny.toml"
    suite.write_text(
        f'extends = "{REPO / "suites" / "mtat-cleaned.toml"}"\nversion = "1"\n'
        f'[protocol]\nvalid = "{lists["valid"]}"\ntest = "{lists["test"]}"\nverify = false\n'
        "[quick]\ntracks_per_class = 40\n"
    )
    args = ["run", str(suite), "--quick", "--data-root", str(tiny.data_root), "--results", str(tmp_path / "res")]
    args += ["--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    report = (tmp_path / "rep" / "cleaned-tiny-quick.md").read_text()
    assert "**Split sizes** (train/valid/test, typical fold): 22/4/6" in report  # 7 test clips, 1238 missing
    assert "verify=False" in report


def test_absent_dataset_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "mtat").mkdir()
    assert main(["run", str(REPO / "suites" / "mtat-12-1-3.toml"), "--data-root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: mtat: looked for {tmp_path / 'mtat' / 'annotations_final.csv'}")
    assert "annotations_final.csv      TAB-separated" in err and "Traceback" not in err
