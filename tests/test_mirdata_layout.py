"""GTZAN downloaded with mirdata: found under `--data-root ~/mir_datasets` in mirdata's own layout, and checked
against the md5s of mirdata's published index (issue #20).

mirdata's `gtzan_genre` loader keeps its data in `<mir_datasets>/gtzan_genre` (its default `data_home`) and its
index names each file relative to that folder, `gtzan_genre/genres/<genre>/<genre>.000NN.wav`. The trees here are
written from real entries of that index; their audio is synthetic, so it never matches mirdata's md5s: a matching
md5 is tested with an index of our own in mirdata's format.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import soundfile as sf

from mirbench.cli import main
from mirbench.datasets import gtzan, open_dataset
from mirbench.datasets.base import DatasetError
from mirbench.datasets.gtzan import GENRES, GTZANDataset, read_checksums
from mirbench.suite import tomllib
from tests.fixtures.gtzan_tree import tone, write_gtzan_tree

REPO = Path(__file__).resolve().parents[1]
#: A copy of mirdata's gtzan_genre_index_1.0.json (the same bytes: md5 533ca050…, the checksum mirdata 1.0.0 records).
SHARED_INDEX = REPO.parent / "shared" / "data" / "reference" / "gtzan_index.json"
needs_index = pytest.mark.skipif(not SHARED_INDEX.is_file(), reason="../shared/data/reference is not available")

#: Real entries of mirdata's gtzan_genre index 1.0, the first two tracks of each genre: (audio path, md5). From
#: mirdata/datasets/indexes/gtzan_genre_index_1.0.json at mir-dataset-loaders/mirdata@ba0a9023 (now on Zenodo,
#: record 13993311), BSD-3-Clause.
MIRDATA_ENTRIES = {
    "blues.00000": ("gtzan_genre/genres/blues/blues.00000.wav", "b462fa6a82a35d00940fe251f11447e5"),
    "blues.00001": ("gtzan_genre/genres/blues/blues.00001.wav", "43b1c962973a2825d56769fe4faed755"),
    "classical.00000": ("gtzan_genre/genres/classical/classical.00000.wav", "4ef1763c46a20382abdc0ab8f2d06ac3"),
    "classical.00001": ("gtzan_genre/genres/classical/classical.00001.wav", "7a42b8f88a6a1664089ecc6d5673f8e7"),
    "country.00000": ("gtzan_genre/genres/country/country.00000.wav", "5d3854fd8d4b01eeabafaa1111137daf"),
    "country.00001": ("gtzan_genre/genres/country/country.00001.wav", "d823100ece3190677b86b799568bc9c3"),
    "disco.00000": ("gtzan_genre/genres/disco/disco.00000.wav", "16e4fbe9c54ae9ba8b79e72e6d4ff85b"),
    "disco.00001": ("gtzan_genre/genres/disco/disco.00001.wav", "8293facfe73dccaa4147ca3acced2e5f"),
    "hiphop.00000": ("gtzan_genre/genres/hiphop/hiphop.00000.wav", "8e7ea8f540a51d912230594c66a786c0"),
    "hiphop.00001": ("gtzan_genre/genres/hiphop/hiphop.00001.wav", "318b2e156cfd68ec9a6f5557a476ce3e"),
    "jazz.00000": ("gtzan_genre/genres/jazz/jazz.00000.wav", "047e5122c546c5a85412f0cbff4c3762"),
    "jazz.00001": ("gtzan_genre/genres/jazz/jazz.00001.wav", "cc3912de11d646a7cec9bd8ac23430ba"),
    "metal.00000": ("gtzan_genre/genres/metal/metal.00000.wav", "1497db5921a37276826c658ae0742c1a"),
    "metal.00001": ("gtzan_genre/genres/metal/metal.00001.wav", "0932dbf459db8aef34818a3cbdd7e934"),
    "pop.00000": ("gtzan_genre/genres/pop/pop.00000.wav", "49f82decebfe042f27ab8dd4ec073cc8"),
    "pop.00001": ("gtzan_genre/genres/pop/pop.00001.wav", "4971845e8742caf9046f2dd2cefea014"),
    "reggae.00000": ("gtzan_genre/genres/reggae/reggae.00000.wav", "57d8dd1fccbd211619546ace3c270636"),
    "reggae.00001": ("gtzan_genre/genres/reggae/reggae.00001.wav", "320a327e0b3b45e265f87fd693cbdbe9"),
    "rock.00000": ("gtzan_genre/genres/rock/rock.00000.wav", "e9d3732e5b9d84521c8e0ec0dbdb52e9"),
    "rock.00001": ("gtzan_genre/genres/rock/rock.00001.wav", "0463d62d96c2a39b536d228481c73752"),
}
PER_GENRE = 2


def write_mirdata_tree(data_home: Path, entries=MIRDATA_ENTRIES, prefix: str | None = None) -> Path:
    """Synthetic audio at each index path under mirdata's `data_home` (<mir_datasets>/gtzan_genre); returns it.
    `prefix` replaces the index's first folder (`gtzan_mini-main` for mirdata's "mini" version)."""
    for tid, (rel, _) in entries.items():
        if prefix:
            rel = f"{prefix}/{rel.split('/', 1)[1]}"
        path = data_home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        genre, number = tid.split(".")
        sf.write(path, tone(genre, int(number), 0.25, 22050), 22050, format="WAV", subtype="PCM_16")
    return data_home


def mirdata_index(md5s: dict[str, str]) -> dict:
    """An index in mirdata's format (version, tracks: audio, beats, tempo as [path, md5]) with the given md5s."""
    tracks = {}
    for tid, md5 in md5s.items():
        genre, number = tid.split(".")
        beats = f"gtzan_tempo_beat-main/beats/gtzan_{genre}_{number}.beats"
        tempo = f"gtzan_tempo_beat-main/tempo/gtzan_{genre}_{number}.bpm"
        tracks[tid] = {"audio": [MIRDATA_ENTRIES[tid][0], md5], "beats": [beats, "0" * 32], "tempo": [tempo, "1" * 32]}
    return {"version": "1.0", "tracks": tracks}


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def mir_datasets(tmp_path) -> Path:
    """A mirdata home, `<tmp>/mir_datasets`, holding GTZAN where mirdata puts it."""
    write_mirdata_tree(tmp_path / "mir_datasets" / "gtzan_genre")
    return tmp_path / "mir_datasets"


# ----------------------------------------------------------------------------- finding the copy


def test_a_mirdata_home_is_found_under_the_data_root(mir_datasets):
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, mir_datasets)
    home = mir_datasets / "gtzan_genre"
    assert ds.root == home and ds.audio_dir == home / "gtzan_genre" / "genres"
    assert {t.id: t.path for t in ds.tracks} == {tid: home / rel for tid, (rel, _) in MIRDATA_ENTRIES.items()}
    assert ds.validate().problems == {}


def test_the_data_root_may_be_mirdatas_data_home_itself(mir_datasets):
    """`--data-root ~/mir_datasets/gtzan_genre` (mirdata's data_home): its gtzan_genre/genres/ is found."""
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, mir_datasets / "gtzan_genre")
    assert ds.audio_dir == mir_datasets / "gtzan_genre" / "gtzan_genre" / "genres"
    assert ds.validate().problems == {}


def test_mirdatas_mini_version_is_found(tmp_path):
    """mirdata's "mini" GTZAN (10 tracks a genre) sits at gtzan_genre/gtzan_mini-main/genres/<genre>/..."""
    write_mirdata_tree(tmp_path / "gtzan_genre", prefix="gtzan_mini-main")
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, tmp_path)
    assert ds.audio_dir == tmp_path / "gtzan_genre" / "gtzan_mini-main" / "genres"
    assert ds.validate().problems == {}


def test_mirbenchs_own_folder_comes_first(mir_datasets):
    write_gtzan_tree(mir_datasets / "gtzan", per_genre=PER_GENRE, corrupt=())
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, mir_datasets)
    assert ds.root == mir_datasets / "gtzan" and ds.audio_dir == mir_datasets / "gtzan" / "genres"


def test_an_empty_gtzan_folder_does_not_hide_mirdatas(mir_datasets):
    (mir_datasets / "gtzan").mkdir()
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, mir_datasets)
    assert ds.root == mir_datasets / "gtzan_genre"


def test_neither_folder_is_one_error_naming_both(tmp_path, capsys):
    (tmp_path / "elsewhere").mkdir()
    assert main(["data", "check", "gtzan", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: gtzan: no GTZAN genre folders under ") and "Traceback" not in err
    assert f"{tmp_path / 'gtzan'}/" in err and f"{tmp_path / 'gtzan_genre'}/" in err
    assert "gtzan_genre/genres/<genre>/" in err  # mirdata's layout is among those it looked for
    with pytest.raises(DatasetError, match="no GTZAN genre folders under") as exc:
        GTZANDataset.locate_root(tmp_path, "gtzan")
    assert str(tmp_path / "gtzan") in str(exc.value) and str(tmp_path / "gtzan_genre") in str(exc.value)


# ----------------------------------------------------------------------------- checksums


def test_mirdatas_md5s_are_checked_on_its_layout(mir_datasets):
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE}, mir_datasets)
    assert all(ds.checksums[tid] == md5 for tid, (_, md5) in MIRDATA_ENTRIES.items())  # the vendored md5s are mirdata's
    report = ds.validate()
    assert report.ok and report.kinds == {tid: "checksum" for tid in MIRDATA_ENTRIES}  # synthetic audio differs
    warning = report.warnings["blues.00000"]
    assert warning.startswith(str(mir_datasets / "gtzan_genre" / MIRDATA_ENTRIES["blues.00000"][0]))
    assert "the published file has b462fa6a82a35d00940fe251f11447e5" in warning and "mirdata" in warning


def test_a_matching_md5_in_an_index_of_mirdatas_format_gives_no_warning(mir_datasets, tmp_path):
    home = mir_datasets / "gtzan_genre"
    md5s = {tid: md5_of(home / rel) for tid, (rel, _) in MIRDATA_ENTRIES.items()}
    md5s["jazz.00001"] = "f" * 32
    (tmp_path / "index.json").write_text(json.dumps(mirdata_index(md5s), indent=2))
    assert read_checksums(tmp_path / "index.json") == md5s
    ds = open_dataset({"name": "gtzan", "tracks_per_genre": PER_GENRE, "checksums": str(tmp_path / "index.json")},
                      mir_datasets)
    report = ds.validate()
    assert report.ok and report.kinds == {"jazz.00001": "checksum"}
    assert f"the published file has {'f' * 32}" in report.warnings["jazz.00001"]


def test_mirbenchs_layout_is_checked_against_mirdatas_md5s_only_when_asked(tmp_path):
    root = write_gtzan_tree(tmp_path / "gtzan", per_genre=PER_GENRE, corrupt=())
    assert GTZANDataset(root, tracks_per_genre=PER_GENRE).validate().warnings == {}
    report = GTZANDataset(root, checksums="mirdata", tracks_per_genre=PER_GENRE).validate()
    assert report.ok and set(report.kinds.values()) == {"checksum"} and len(report.kinds) == 10 * PER_GENRE


def test_data_check_passes_on_a_mirdata_home(mir_datasets, tmp_path, capsys):
    args = ["data", "check", "gtzan", "--data-root", str(mir_datasets), "--param", f"tracks_per_genre={PER_GENRE}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    home = mir_datasets / "gtzan_genre"
    assert out.startswith(f"gtzan at {home}: 20 of 20 tracks usable, 0 unusable, 20 with warnings")
    assert "warnings (still used): checksum: 20" in out
    md5s = {tid: md5_of(home / rel) for tid, (rel, _) in MIRDATA_ENTRIES.items()}
    (tmp_path / "index.json").write_text(json.dumps(mirdata_index(md5s)))
    assert main(args + ["--param", f"checksums={tmp_path / 'index.json'}"]) == 0
    assert capsys.readouterr().out.startswith(f"gtzan at {home}: 20 of 20 tracks usable, 0 unusable, 0 with warnings")


def test_a_suite_and_the_dataset_contract_find_a_mirdata_home(mir_datasets, capsys):
    # `validate` and `run` check the data root before anything runs, and `check-dataset` builds the dataset from it:
    # both look where the dataset itself looks, not only at <data root>/gtzan.
    suite = REPO / "suites" / "gtzan-random-4fold.toml"
    assert main(["validate", str(suite), "--data-root", str(mir_datasets)]) == 0
    capsys.readouterr()
    from mirbench.suite import load_suite
    from mirbench.suite.checks import check_data_root

    check_data_root(load_suite(suite), mir_datasets)  # raised "expected at <root>/gtzan" before
    code = main(["check-dataset", "gtzan", "--data-root", str(mir_datasets), "--param", f"tracks_per_genre={PER_GENRE}"])
    out, err = capsys.readouterr()
    assert code == 0 and "ok   validate(): 20 of 20 tracks usable" in out, (out, err)


# ----------------------------------------------------------------------------- the vendored md5s


def test_the_vendored_md5s_cover_every_track():
    md5s = gtzan.published_md5s()
    assert sorted(md5s) == sorted(gtzan.track_id(g, n) for g in GENRES for n in range(100))
    assert md5s["jazz.00054"] == "8f0ab76fff2d2c6bc80eb9c9362318ca"


@needs_index
def test_the_vendored_md5s_are_those_of_mirdatas_index():
    """The shipped file is mirdata's index 1.0 cut to its audio md5s; every audio path is mirdata's layout."""
    assert md5_of(SHARED_INDEX) == "533ca050855f22acf2feb283d9957fe3"  # mirdata 1.0.0's INDEXES["1.0"].checksum
    tracks = json.loads(SHARED_INDEX.read_text())["tracks"]
    assert {tid: e["audio"][0] for tid, e in tracks.items()} == {
        tid: f"gtzan_genre/genres/{tid.split('.')[0]}/{tid}.wav" for tid in tracks
    }
    assert gtzan.published_md5s() == read_checksums(SHARED_INDEX)
    assert all(MIRDATA_ENTRIES[tid] == tuple(tracks[tid]["audio"]) for tid in MIRDATA_ENTRIES)


def test_the_vendored_md5s_ship_with_the_package():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    shipped = data["tool"]["setuptools"].get("package-data", {}).get("mirbench.datasets", [])
    assert gtzan.MIRDATA_MD5S in shipped
