"""The generic datasets of a user's own audio (issue #20): `folder` (one sub-folder per class) and `manifest` (CSV,
TSV or JSON Lines). Trees are written by code: tones of several formats, rates and channel counts; every bad input
ends in one line naming the file, the row and the column, or in a recorded skip."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mirbench.cli import main
from mirbench.datasets import open_dataset
from mirbench.datasets.base import DatasetError
from mirbench.datasets.folder import FolderDataset
from mirbench.datasets.manifest import ManifestDataset
from mirbench.protocols import folds_of
from mirbench.testing import check_dataset
from tests.fixtures.audio import class_tone
from tests.test_bad_input import cli_error

CLASSES = ("high", "low", "mid")  # sorted; the tones are an octave apart
PITCH = {"low": 0, "mid": 2, "high": 4}
MP3 = "MP3" in sf.available_formats()  # libsndfile >= 1.1 writes MP3
#: (extension, soundfile format, subtype): what the fixtures can write
FORMATS = [("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("au", "AU", "PCM_16")]
FORMATS += [("mp3", "MP3", None)] if MP3 else []
RATES = (8000, 16000, 22050, 44100, 48000)
RECORDINGS, EXCERPTS = 4, 2  # per class: 4 recordings of 2 excerpts each
GROUP_BY = r"^([^/]+/[^_.]+)"  # "low/rec0_part1.flac" -> "low/rec0"
BROKEN_WAV = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00" + bytes(6)


@pytest.fixture(autouse=True)
def fresh_datasets():
    """open_dataset caches per process by parameters: trees of different tests may share a relative path."""
    from mirbench.datasets import _open

    _open.cache_clear()
    yield
    _open.cache_clear()


def write_tone(path: Path, cls: str, seed: int, sample_rate: int, channels: int, ext: str = "wav") -> Path:
    _, fmt, subtype = next(f for f in FORMATS if f[0] == ext)
    y = class_tone(PITCH[cls], seed, 1.0, sample_rate)
    data = np.stack([y, 0.5 * y], axis=1) if channels == 2 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, format=fmt, subtype=subtype)
    return path


def audio_tree(root: Path, broken: bool = False) -> Path:
    """`root/<class>/rec<k>_part<j>.<ext>`: formats, rates and channel counts cycled over the files; plus what
    indexing must ignore (hidden files and folders, an AppleDouble twin, text files, a file beside the classes)."""
    n = 0
    for cls in CLASSES:
        for k in range(RECORDINGS):
            for j in range(EXCERPTS):
                ext = FORMATS[n % len(FORMATS)][0]
                write_tone(root / cls / f"rec{k}_part{j}.{ext}", cls, n, RATES[n % len(RATES)], 1 + n % 2, ext)
                n += 1
    (root / "low" / ".DS_Store").write_bytes(b"\0")
    (root / "low" / "._rec0_part0.wav").write_bytes(b"\0")
    (root / "mid" / "notes.txt").write_text("recorded in 2024\n")
    (root / ".cache").mkdir()
    write_tone(root / ".cache" / "x.wav", "low", 99, 8000, 1)
    (root / "README.md").write_text("my audio\n")
    if broken:
        (root / "low" / "broken.wav").write_bytes(BROKEN_WAV)
    return root


def folder_ids(broken: bool = False) -> list[str]:
    n, ids = 0, []
    for cls in CLASSES:
        for k in range(RECORDINGS):
            for j in range(EXCERPTS):
                ids.append(f"{cls}/rec{k}_part{j}")
                n += 1
    return sorted(ids + (["low/broken"] if broken else []))


def manifest_rows(root: Path, broken: bool = False) -> list[dict]:
    """One row per audio file of `audio_tree(root)`: path, label, group (the recording)."""
    rows = []
    for cls in CLASSES:
        for path in sorted((root / cls).iterdir()):
            if path.name.startswith(".") or path.suffix == ".txt" or (path.name == "broken.wav" and not broken):
                continue
            rel = path.relative_to(root).as_posix()
            rows.append({"path": rel, "label": cls, "group": re.match(GROUP_BY, rel).group(1)})
    return rows


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    columns = list(rows[0])
    lines = [delimiter.join(columns)] + [delimiter.join(str(r[c]) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tree(tmp_path) -> Path:
    return audio_tree(tmp_path / "my-audio")


# ============================================================================= folder: the index


def test_folder_indexes_classes_and_ids_and_ignores_what_is_not_audio(tree):
    ds = FolderDataset(path=str(tree))
    assert ds.classes == CLASSES and ds.task == "single-label"
    assert [t.id for t in ds.tracks] == folder_ids()
    assert len(ds) == len(CLASSES) * RECORDINGS * EXCERPTS
    assert all(t.labels == (t.id.split("/")[0],) and t.group is None for t in ds.tracks)
    assert {t.meta["format"] for t in ds.tracks} == {f[0] for f in FORMATS}
    assert ds.ignored == {"hidden": 3, "not audio": 1, "outside class folders": 1}
    assert ds.describe()["ignored"] == ds.ignored and ds.describe()["n_tracks"] == len(ds)
    assert ds.notes == (("ignored while indexing: 3 hidden (dot) file(s) or folder(s), 1 file(s) that are not audio "
                         "by extension, 1 file(s) beside the class folders"),)


def test_folder_reads_every_format_rate_and_channel_count(tree):
    ds = FolderDataset(path=str(tree))
    report = ds.validate()
    assert report.ok and not report.warnings, report.summary()
    rates = {sf.info(str(t.path)).samplerate for t in ds.tracks}
    channels = {sf.info(str(t.path)).channels for t in ds.tracks}
    assert rates == set(RATES) and channels == {1, 2}
    for t in ds.tracks:
        y = ds.load_audio(t, 16000)
        assert y.ndim == 1 and y.dtype == np.float32 and np.isfinite(y).all() and abs(len(y) - 16000) < 1200, t.id


@pytest.mark.skipif(not MP3, reason="this libsndfile cannot write MP3, so the fixtures cannot make one")
def test_folder_reads_mp3(tree):
    ds = FolderDataset(path=str(tree))
    mp3 = [t for t in ds.tracks if t.meta["format"] == "mp3"]
    assert mp3 and all(len(ds.load_audio(t, 22050)) > 20000 for t in mp3)


def test_folder_and_manifest_meet_the_dataset_contract(tree):
    check_dataset(FolderDataset, {"path": str(tree), "group_by": GROUP_BY})
    manifest = write_csv(tree / "labels.csv", manifest_rows(tree))
    check_dataset(ManifestDataset, {"path": str(manifest)})


def test_group_by_takes_the_first_capture_group_or_the_whole_match(tree):
    ds = FolderDataset(path=str(tree), group_by=GROUP_BY)
    assert ds["low/rec2_part1"].group == "low/rec2"
    assert len({t.group for t in ds.tracks}) == len(CLASSES) * RECORDINGS
    whole = FolderDataset(path=str(tree), group_by=r"rec\d")  # no capture group: the match itself
    assert whole["mid/rec3_part0"].group == "rec3"


@pytest.mark.parametrize("protocol", [
    {"name": "stratified-kfold", "folds": 3},
    {"name": "stratified-kfold", "folds": 4, "proportions": "k-fold"},
])
def test_folds_never_split_a_group(tree, protocol):
    ds = FolderDataset(path=str(tree), group_by=GROUP_BY)
    folds = folds_of(ds, protocol)
    assert folds
    for fold in folds:
        part_of = {i: p for p in ("train", "valid", "test") for i in getattr(fold, p)}
        assert sorted(part_of) == folder_ids()
        for group in {t.group for t in ds.tracks}:
            assert len({part_of[t.id] for t in ds.tracks if t.group == group}) == 1, (fold.index, group)


def test_group_by_that_misses_a_file_is_an_error(tree):
    with pytest.raises(DatasetError, match=r"finds no group in 24 of 24 files .* e\.g\. 'high/rec0_part0\.wav'"):
        FolderDataset(path=str(tree), group_by=r"^take(\d+)")


def test_fingerprint_follows_the_index(tree):
    def fp(**params):
        return FolderDataset(path=str(tree), **params).fingerprint()

    first = fp()
    assert fp() == first
    assert fp(group_by=GROUP_BY) != first  # groups
    (tree / "mid" / "notes.txt").write_text("edited")  # not audio: not in the index
    assert fp() == first
    wav = next(p for p in (tree / "low").glob("*.wav") if not p.name.startswith("."))
    wav.rename(wav.with_suffix(".WAV"))  # another file name, the same id
    renamed = fp()
    assert renamed != first
    wav.with_suffix(".WAV").rename(tree / "mid" / "moved.WAV")  # another class, another id
    assert fp() not in (first, renamed)


# ============================================================================= where `path` resolves


def test_a_relative_path_is_taken_from_the_data_root_else_the_current_directory(tmp_path, monkeypatch):
    audio_tree(tmp_path / "data" / "my-audio")
    ds = open_dataset({"name": "folder", "path": "my-audio"}, tmp_path / "data")
    assert ds.root == tmp_path / "data" / "my-audio" and len(ds) == 24
    monkeypatch.chdir(tmp_path / "data")
    from mirbench.datasets import _open

    _open.cache_clear()
    assert open_dataset({"name": "folder", "path": "my-audio"}).root == tmp_path / "data" / "my-audio"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    absolute = open_dataset({"name": "folder", "path": str(tmp_path / "data" / "my-audio")}, elsewhere)
    assert absolute.root == tmp_path / "data" / "my-audio"  # an absolute path is the user's explicit choice
    assert FolderDataset.locate_root(tmp_path, "folder") == tmp_path == ManifestDataset.locate_root(tmp_path, "manifest")


# ============================================================================= manifest


@pytest.mark.parametrize("form", ["csv", "tsv", "jsonl"])
def test_a_manifest_of_the_same_files_gives_the_folders_index(tree, form):
    rows = manifest_rows(tree)
    path = tree / f"labels.{form}"
    write_jsonl(path, rows) if form == "jsonl" else write_csv(path, rows, "\t" if form == "tsv" else ",")
    ds = ManifestDataset(path=str(path))
    folder = FolderDataset(path=str(tree), group_by=GROUP_BY)
    assert ds.task == "single-label" and ds.classes == folder.classes
    assert [(t.id, t.path, t.labels, t.group) for t in ds.tracks] == [
        (t.id, t.path, t.labels, t.group) for t in folder.tracks]
    assert ds.splits is None and ds.validate().ok and ds.root == path


def test_classes_spelt_alike_are_kept_apart_and_pointed_out(tree, capsys):
    rows = manifest_rows(tree)
    rows[0]["label"] = "High"
    path = write_csv(tree / "labels.csv", rows)
    assert ManifestDataset(path=str(path)).classes == ("High", "high", "low", "mid")
    assert main(["data", "check", "manifest", "--param", f"path={path}"]) == 0
    out = capsys.readouterr().out
    assert f"manifest at {path}: 24 of 24 tracks usable" in out
    assert "classes that differ only in case or spacing (distinct classes; check the spelling): 'High' / 'high'" in out


def test_manifest_tags_give_a_multi_label_task(tree):
    rows = manifest_rows(tree)
    for n, r in enumerate(rows):
        r["tags"] = ";".join([r.pop("label")] + (["bright"] if n % 3 == 0 else []) + ([" live "] if n % 4 == 0 else []))
    rows[5]["tags"] = ""  # no tags: a negative for every tag
    ds = ManifestDataset(path=str(write_csv(tree / "tags.csv", rows)))
    assert ds.task == "multi-label" and ds.classes == ("bright", "high", "live", "low", "mid")
    assert ds[rows[0]["path"].rsplit(".", 1)[0]].labels == ("high", "bright", "live")
    assert ds.targets(ds.tracks).shape == (24, 5)
    assert ds.notes == ("1 track(s) have no tags (negatives for every tag)",)
    lines = [json.dumps({"path": r["path"], "tags": [t for t in r["tags"].split(";") if t.strip()]}) for r in rows]
    (tree / "tags.jsonl").write_text("\n".join(lines) + "\n")
    assert ManifestDataset(path=str(tree / "tags.jsonl")).classes == ds.classes
    for fold in folds_of(ds, {"name": "stratified-kfold", "folds": 2}):
        assert len(fold.train) + len(fold.valid) + len(fold.test) == 24


def test_fixed_split_without_lists_replays_the_split_column(tree):
    rows = manifest_rows(tree)
    for n, r in enumerate(rows):
        r["split"] = ("train", "train", "valid", "test")[n % 4]
    ds = ManifestDataset(path=str(write_csv(tree / "split.csv", rows)))
    [fold] = folds_of(ds, {"name": "fixed-split"})
    for part in ("train", "valid", "test"):
        listed = sorted(r["path"].rsplit(".", 1)[0] for r in rows if r["split"] == part)
        assert list(getattr(fold, part)) == listed and list(ds.splits[part]) == listed
    assert ds.describe()["splits"] == {"train": 12, "valid": 6, "test": 6}
    given = folds_of(ds, {"name": "fixed-split", "train": [ds.tracks[0].id], "test": [ds.tracks[1].id]})
    assert given[0].train == (ds.tracks[0].id,)  # lists given in the suite win over the column


def test_fixed_split_on_a_manifest_without_split_column_says_what_to_do(tree):
    ds = ManifestDataset(path=str(write_csv(tree / "labels.csv", manifest_rows(tree))))
    with pytest.raises(ValueError, match="'train' is empty; .*a manifest whose split column marks the tracks"):
        folds_of(ds, {"name": "fixed-split"})
    rows = [dict(r, split="test") for r in manifest_rows(tree)]
    only_test = ManifestDataset(path=str(write_csv(tree / "test-only.csv", rows)))
    with pytest.raises(ValueError, match="dataset 'manifest' has no 'train' tracks in its split"):
        folds_of(only_test, {"name": "fixed-split"})


def test_missing_and_unreadable_audio_are_recorded_skips(tree, capsys):
    rows = manifest_rows(tree) + [{"path": "low/gone.wav", "label": "low", "group": "low/gone"}]
    (tree / "low" / "bad.flac").write_bytes(b"not audio at all")
    rows.append({"path": "low/bad.flac", "label": "low", "group": "low/bad"})
    manifest = write_csv(tree / "labels.csv", rows)
    report = ManifestDataset(path=str(manifest)).validate()
    assert report.kinds == {"low/gone": "missing", "low/bad": "unreadable"}
    assert main(["data", "check", "manifest", "--param", f"path={manifest}"]) == 1
    out = capsys.readouterr().out
    assert "24 of 26 tracks usable, 2 unusable" in out
    assert "missing: 1" in out and "low/gone" in out and "unreadable: 1" in out and "low/bad" in out


# ============================================================================= bad input: one line each

BAD_MANIFESTS = [
    # id, file name, content, what the line must say (file, row or line, column)
    ("no-label-column", "m.csv", "path,split\nlow/rec0_part0.wav,train\n", ["row 1 (the header) has no column 'label'"]),
    ("no-path-column", "m.jsonl", '{"label": "low"}\n', ["no line has a key 'path'"]),
    ("typo-column", "m.csv", "path,lable\nlow/rec0_part0.wav,low\n", ["column 'lable'", "did you mean 'label'"]),
    ("label-and-tags", "m.csv", "path,label,tags\nx.wav,low,low\n", ["both columns 'label' and 'tags'"]),
    ("empty-label", "m.csv", "path,label\nlow/rec0_part0.wav,low\nlow/rec0_part1.wav,\n",
     ["row 3, column 'label': is empty"]),
    ("empty-path", "m.tsv", "path\tlabel\n\tlow\n", ["row 2, column 'path': is empty"]),
    ("number-label", "m.jsonl", '{"path": "a.wav", "label": "low"}\n{"path": "b.wav", "label": 3}\n',
     ["line 2, key 'label': is a number, not a string", '"3"']),
    ("null-label", "m.jsonl", '{"path": "a.wav", "label": null}\n', ["line 1, key 'label': is null"]),
    ("list-label", "m.jsonl", '{"path": "a.wav", "label": ["low", "mid"]}\n',
     ["line 1, key 'label': is a list", "use 'tags'"]),
    ("missing-key", "m.jsonl", '{"path": "a.wav", "label": "low"}\n\n{"path": "b.wav"}\n',
     ["line 3, key 'label': missing"]),
    ("number-tag", "m.jsonl", '{"path": "a.wav", "tags": ["low", 7]}\n', ["line 1, key 'tags': is a number"]),
    ("absolute-path", "m.csv", "path,label\n/etc/passwd,low\n", ["row 2, column 'path'", "absolute path"]),
    ("climbs-out", "m.csv", "path,label\nlow/../../x.wav,low\n", ["row 2, column 'path'", "leads outside"]),
    ("bad-split", "m.csv", "path,label,split\nlow/rec0_part0.wav,low,training\n",
     ["row 2, column 'split': is 'training'", "train, valid or test"]),
    ("duplicate-row", "m.csv", "path,label\nlow/rec0_part0.wav,low\nlow/rec0_part0.wav,low\n",
     ["row 3, column 'path'", "again (first at row 2)"]),
    ("same-id", "m.csv", "path,label\nlow/a.wav,low\nlow/a.flac,low\n", ["row 3, column 'path'", "same track 'low/a'"]),
    ("ragged-row", "m.csv", "path,label\nlow/a.wav,low,extra\n", ["row 2 has 3 cell(s), the header (row 1) has 2"]),
    ("bad-quote", "m.csv", 'path,label\nlow/a.wav,low\n"low/b.wav,low\n', ["not valid CSV at row 3"]),
    ("bad-json", "m.jsonl", '{"path": "a.wav", "label": "low"}\n{"path": \n', ["line 2 is not valid JSON"]),
    ("not-an-object", "m.jsonl", '["a.wav", "low"]\n', ["line 1 is not a JSON object"]),
    ("not-utf8", "m.csv", b"path,label\nlow/caf\xe9.wav,low\n", ["is not UTF-8 text", "line 2", "save it as UTF-8"]),
    ("one-class", "m.csv", "path,label\nlow/rec0_part0.wav,low\n", ["1 class ('low')", "at least two"]),
    ("header-only", "m.csv", "path,label\n", ["lists no tracks"]),
]


@pytest.mark.parametrize("name,content,expected", [c[1:] for c in BAD_MANIFESTS], ids=[c[0] for c in BAD_MANIFESTS])
def test_a_bad_manifest_is_one_line_naming_file_row_and_column(tree, capsys, name, content, expected):
    path = tree / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    line = cli_error(["data", "check", "manifest", "--param", f"path={path}"], capsys)
    assert str(path) in line, line
    for piece in expected:
        assert piece in line, line


def test_a_symbolic_link_out_of_the_manifest_folder_is_refused(tree, tmp_path, capsys):
    outside = write_tone(tmp_path / "elsewhere" / "x.wav", "low", 0, 8000, 1)
    (tree / "low" / "link.wav").symlink_to(outside)
    path = write_csv(tree / "m.csv", [{"path": "low/rec0_part0.wav", "label": "low"},
                                      {"path": "low/link.wav", "label": "mid"}])
    line = cli_error(["data", "check", "manifest", "--param", f"path={path}"], capsys)
    assert str(path) in line and "row 3, column 'path'" in line and "symbolic link" in line


BAD_FOLDERS = [
    ("empty-class", lambda t: (t / "silence").mkdir(), {}, ["class folder", "silence holds no audio files"]),
    ("only-text-class", lambda t: (t / "docs").mkdir() or (t / "docs" / "a.txt").write_text("x"), {},
     ["docs holds no audio files", "move it out"]),
    ("clash", lambda t: [write_tone(t / "low" / f"dup.{e}", "low", 0, 8000, 1, e) for e in ("wav", "flac")], {},
     ["'low/dup.flac' and 'low/dup.wav'", "same track 'low/dup'"]),
    ("bad-regex", lambda t: None, {"group_by": '"(unclosed"'}, ["'--param group_by'", "not a valid regular expression"]),
    ("no-match", lambda t: None, {"group_by": '"^song"'}, ["finds no group in 24 of 24 files"]),
]


@pytest.mark.parametrize("make,params,expected", [c[1:] for c in BAD_FOLDERS], ids=[c[0] for c in BAD_FOLDERS])
def test_a_bad_folder_is_one_line(tree, capsys, make, params, expected):
    make(tree)
    extra = [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
    line = cli_error(["data", "check", "folder", "--param", f"path={tree}", *extra], capsys)
    for piece in expected:
        assert piece in line, line


def test_folder_and_manifest_parameters_are_checked_before_opening(tmp_path, capsys):
    assert "'path' is required" in cli_error(["data", "check", "folder"], capsys)
    assert "has no parameter 'bogus'" in cli_error(["data", "check", "folder", "--param", "bogus=1"], capsys)
    assert "'--param path' must be string" in cli_error(["data", "check", "folder", "--param", "path=3"], capsys)
    assert "must be a non-empty string" in cli_error(["data", "check", "folder", "--param", 'path=" "'], capsys)
    assert "must end in .csv, .tsv or .jsonl" in cli_error(
        ["data", "check", "manifest", "--param", "path=labels.xlsx"], capsys)
    line = cli_error(["data", "check", "folder", "--data-root", str(tmp_path), "--param", "path=nowhere"], capsys)
    assert f"{tmp_path / 'nowhere'} does not exist" in line and "from the data root" in line
    (tmp_path / "a.csv").write_text("path,label\n")
    assert "read by the 'manifest' dataset" in cli_error(
        ["data", "check", "folder", "--param", f"path={tmp_path / 'a.csv'}"], capsys)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE.format(dataset='name = "folder"\ngroup_by = "("', protocol='name = "fixed-split"',
                                  systems=MFCC))
    line = cli_error(["validate", str(suite)], capsys)
    assert "'dataset.group_by'" in line and "not a valid regular expression" in line


# ============================================================================= end to end: check, then run

SUITE = """
version = "1"
seeds = [0]
metrics = ["{metric}"]
[dataset]
{dataset}
[protocol]
{protocol}
{systems}
""".replace("{metric}", "accuracy")
MFCC = '[[systems]]\nname = "mfcc"\nlabel = "MFCC"\nparams = { C = 1.0, n_mfcc = 13 }\n'
PMSC = '[[systems]]\nname = "pmsc"\nlabel = "PMSC"\nparams = { n_components = 8, n_mels = 64 }\n'


def run_suite(tmp_path: Path, name: str, dataset: str, protocol: str, systems: str, capsys) -> str:
    """Write the suite, check its data with `mirbench data check SUITE`, run it --quick; return the report."""
    suite = tmp_path / f"{name}.toml"
    suite.write_text(SUITE.format(dataset=dataset, protocol=protocol, systems=systems))
    assert main(["data", "check", str(suite)]) in (0, 1)
    check = capsys.readouterr().out
    assert "tracks usable" in check
    code = main(["run", str(suite), "--quick", "--results", str(tmp_path / f"{name}-res"), "--reports",
                 str(tmp_path / f"{name}-rep"), "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    return (tmp_path / f"{name}-rep" / f"{name}-quick.md").read_text()


def test_a_folder_and_a_manifest_of_the_same_files_run_end_to_end(tmp_path, capsys):
    tree = audio_tree(tmp_path / "my-audio", broken=True)
    manifest = write_csv(tree / "labels.csv", manifest_rows(tree, broken=True))
    protocol = 'name = "stratified-kfold"\nfolds = 2'
    reports = {
        "folder": run_suite(tmp_path, "mine-folder", f'name = "folder"\npath = "{tree}"\ngroup_by = "{GROUP_BY}"',
                            protocol, MFCC + PMSC, capsys),
        "manifest": run_suite(tmp_path, "mine-manifest", f'name = "manifest"\npath = "{manifest}"', protocol,
                              MFCC + PMSC, capsys),
    }
    for kind, report in reports.items():
        assert f"- **Dataset**: {kind} (" in report and "single-label, 25 tracks, 3 classes" in report, kind
        assert "1 track(s) could not be used" in report and "| low/broken " in report, kind
        sizes = next(line for line in report.splitlines() if line.startswith("| tracks "))
        counts = [sum(int(n) for n in cell.split("/")) for cell in sizes.strip("| \n").split("|")[1:]]
        assert counts == [24, 24], (kind, sizes)  # every usable track in every fold
        for system in ("MFCC", "PMSC"):
            assert any(line.startswith(f"| {system} ") for line in report.splitlines()), (kind, system)


def test_a_manifest_split_column_runs_as_fixed_split(tmp_path, capsys):
    tree = audio_tree(tmp_path / "my-audio")
    rows = manifest_rows(tree)
    for n, r in enumerate(rows):
        r["split"] = ("train", "train", "valid", "test")[n % 4]
    manifest = write_jsonl(tree / "labels.jsonl", rows)
    report = run_suite(tmp_path, "mine-split", f'name = "manifest"\npath = "{manifest}"', 'name = "fixed-split"',
                       MFCC, capsys)
    sizes = next(line for line in report.splitlines() if line.startswith("| tracks "))
    assert sizes.split("|")[2].strip() == "12/6/6", sizes


# ============================================================================= the documented suites

REPO = Path(__file__).resolve().parent.parent


def toml_blocks(path: Path, section: str | None = None) -> list[str]:
    """The ```toml blocks of a Markdown file (of one `## section` only, when given)."""
    text = path.read_text()
    if section is not None:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_suite_checks_and_runs_on_a_folder_under_the_data_root(tmp_path, capsys):
    [text] = toml_blocks(REPO / "README.md", "Run a protocol on your own audio")
    audio_tree(tmp_path / "data" / "my-audio")
    suite = tmp_path / "my-suite.toml"
    suite.write_text(text)
    root = ["--data-root", str(tmp_path / "data")]
    assert main(["data", "check", str(suite), *root]) == 0
    assert "folder at " + str(tmp_path / "data" / "my-audio") + ": 24 of 24 tracks usable" in capsys.readouterr().out
    code = main(["run", str(suite), "--quick", *root, "--results", str(tmp_path / "res"), "--reports",
                 str(tmp_path / "rep"), "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "4 trials: 0 already done, 4 ran ok, 0 failed" in out, out
    report = (tmp_path / "rep" / "my-suite-quick.md").read_text()
    assert "single-label, 24 tracks, 3 classes" in report and "| tracks  | 12/6/6   | 12/6/6   |" in report


@pytest.mark.parametrize("card", ["folder.md", "manifest.md"])
def test_the_dataset_cards_suites_validate(card, tmp_path, capsys):
    blocks = toml_blocks(REPO / "docs" / "datasets" / card)
    assert blocks
    for n, text in enumerate(blocks):
        suite = tmp_path / f"card{n}.toml"
        suite.write_text(text)
        code = main(["validate", str(suite)])
        assert code == 0, capsys.readouterr().err


def test_linked_class_folders_are_followed_once_and_odd_names_refused(tmp_path, capsys):
    tree = audio_tree(tmp_path / "my-audio")
    write_tone(tmp_path / "shared" / "extra.wav", "mid", 7, 8000, 1)
    (tree / "linked").symlink_to(tmp_path / "shared", target_is_directory=True)
    (tmp_path / "shared" / "loop").symlink_to(tmp_path / "shared", target_is_directory=True)  # a cycle: read once
    (tree / "low" / "gone.wav").symlink_to(tmp_path / "nowhere.wav")  # a broken link: indexed, then "missing"
    ds = FolderDataset(path=str(tree))
    assert ds.classes == ("high", "linked", "low", "mid") and [t.id for t in ds.tracks if t.labels == ("linked",)] == [
        "linked/extra"]
    assert ds.validate().kinds == {"low/gone": "missing"}
    os.close(os.open(os.fsencode(tree / "mid") + b"/caf\xe9.wav", os.O_CREAT | os.O_WRONLY))
    line = cli_error(["data", "check", "folder", "--param", f"path={tree}"], capsys)
    assert "is not valid UTF-8; rename it" in line


def test_data_splits_of_a_manifest_suite_shows_its_split(tmp_path, capsys):
    tree = audio_tree(tmp_path / "my-audio")
    rows = [dict(r, split=("train", "valid", "test")[n % 3]) for n, r in enumerate(manifest_rows(tree))]
    write_csv(tree / "labels.csv", rows)
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE.format(dataset='name = "manifest"\npath = "my-audio/labels.csv"',
                                  protocol='name = "fixed-split"', systems=MFCC))
    assert main(["data", "splits", str(suite), "--data-root", str(tmp_path), "--json"]) == 0
    [fold] = json.loads(capsys.readouterr().out)
    assert (fold["train"], fold["valid"], fold["test"]) == (8, 8, 8)


def test_a_tags_manifest_runs_multi_label(tmp_path, capsys):
    tree = audio_tree(tmp_path / "my-audio")
    rows = manifest_rows(tree)
    for n, r in enumerate(rows):
        r["tags"] = r.pop("label") + (";bright" if n % 2 else "")
    manifest = write_csv(tree / "tags.csv", rows)
    suite = SUITE.replace('metrics = ["accuracy"]', 'metrics = ["roc_auc_macro"]')
    (tmp_path / "tags.toml").write_text(suite.format(dataset=f'name = "manifest"\npath = "{manifest}"',
                                                     protocol='name = "stratified-kfold"\nfolds = 2',
                                                     systems=MFCC + PMSC))
    code = main(["run", str(tmp_path / "tags.toml"), "--quick", "--results", str(tmp_path / "res"), "--reports",
                 str(tmp_path / "rep"), "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "4 ran ok" in out, out
    report = (tmp_path / "rep" / "tags-quick.md").read_text()
    assert "multi-label, 24 tracks, 4 classes" in report and "positive tracks per tag" in report
