"""The embedded corpus dataset: a tiny build checked for counts, audio, labels, groups, determinism and caching."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import numpy as np
import pytest
import soundfile as sf

from mirbench.datasets.base import DatasetError
from mirbench.datasets.corpus import STYLES, CorpusDataset
from mirbench.datasets.corpus import builder as build_mod
from mirbench.datasets.corpus import labels, render, score, sources

TINY = {"clips_per_class": 3, "clip_seconds": 4.0, "seed": 0}
SR = 22050


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus-cache")


@pytest.fixture(scope="module")
def style_set(cache):
    return CorpusDataset(task="style", cache_dir=cache, progress=False, **TINY)


class Interrupted(Exception):
    """Stands in for a build killed half-way."""


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the built dataset -------------------------------------------------------


def test_clip_count_per_class(style_set):
    assert style_set.task == "single-label"
    assert style_set.classes == STYLES
    counts = defaultdict(int)
    for t in style_set.tracks:
        counts[t.labels[0]] += 1
    assert dict(counts) == {s: 3 for s in STYLES}


def test_audio_is_mono_22050_exact_length_not_silent_no_dc(style_set):
    for t in style_set.tracks:
        info = sf.info(t.path)
        assert (info.samplerate, info.channels, info.frames) == (SR, 1, int(4.0 * SR)), t.id
        x, _ = sf.read(t.path)
        rms = float(np.sqrt(np.mean(x**2)))
        assert rms > 0.03, f"{t.id} is nearly silent (rms {rms})"
        assert abs(float(np.mean(x))) < 0.01 * rms, f"{t.id} has a DC offset"
        assert np.max(np.abs(x)) <= render.PEAK_LIMIT + 1e-3


def test_groups_follow_works(style_set):
    work_of_group, group_of_work = {}, {}
    for t in style_set.tracks:
        work = (t.meta["style"], t.meta["work"])
        assert group_of_work.setdefault(work, t.group) == t.group, "one work split over groups"
        assert work_of_group.setdefault(t.group, work) == work, "one group holds two works"


def test_no_repeated_tunes_or_excerpts(style_set):
    excerpts = [(t.meta["source"], t.meta["number"], t.meta["slot"]) for t in style_set.tracks]
    assert len(set(excerpts)) == len(excerpts)
    work_of_melody = {}
    for t in style_set.tracks:
        assert work_of_melody.setdefault(t.meta["melody"], t.meta["work"]) == t.meta["work"]


def test_tags_task_is_multilabel_with_every_kind_of_tag(cache, style_set):
    tags = CorpusDataset(task="tags", cache_dir=cache, progress=False, **TINY)
    assert tags.task == "multi-label"
    assert set(tags.classes) <= set(labels.TAG_VOCABULARY)
    assert [t.id for t in tags.tracks] == [t.id for t in style_set.tracks]
    kinds = {
        "style": set(STYLES),
        "family": set(labels.FAMILIES),
        "tempo": {name for name, _ in labels.TEMPO_BUCKETS},
        "metre": set(labels.METRES),
        "mode": set(labels.MODES),
    }
    for t in tags.tracks:
        assert len(t.labels) == 5
        for kind, names in kinds.items():
            assert len(set(t.labels) & names) == 1, (t.id, kind, t.labels)
        assert labels.tempo_bucket(t.meta["bpm"]) in t.labels
        assert t.meta["style"] in t.labels and t.meta["family"] in t.labels
    y = tags.targets(tags.tracks)
    assert y.shape == (len(tags), len(tags.classes)) and (y.sum(axis=1) == 5).all()


def test_unknown_task_is_an_error_naming_the_valid_ones(cache):
    with pytest.raises(DatasetError, match="'style', 'tags'"):
        CorpusDataset(task="genre", cache_dir=cache, progress=False, **TINY)


def test_second_construction_reuses_the_cache(cache, style_set, monkeypatch):
    manifest = style_set.manifest_path
    before = (manifest.stat().st_mtime_ns, {t.id: t.path.stat().st_mtime_ns for t in style_set.tracks})

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cached build was rebuilt")

    monkeypatch.setattr(build_mod, "select", no_rebuild)
    again = CorpusDataset(task="style", cache_dir=cache, progress=False, **TINY)
    assert again.fingerprint() == style_set.fingerprint()
    assert (manifest.stat().st_mtime_ns, {t.id: t.path.stat().st_mtime_ns for t in again.tracks}) == before


def test_interrupted_build_resumes_and_matches_across_worker_counts(tmp_path, style_set, monkeypatch):
    """Same seed -> same manifest and audio, whether built by 2 workers at once or by 1 worker resuming."""
    real, calls, fail_at = build_mod._render_job, [], [4]

    def flaky(job):
        calls.append(job)
        if len(calls) in fail_at:
            raise Interrupted("simulated interruption")
        return real(job)

    monkeypatch.setattr(build_mod, "_render_job", flaky)
    with pytest.raises(Interrupted):
        build_mod.build(tmp_path, progress=False, workers=1, **TINY)
    done = {r["candidate"]["key"] for job in calls[:3] for r in job["renders"]}
    calls.clear()
    fail_at.clear()
    path = build_mod.build(tmp_path, progress=False, workers=1, **TINY)
    redone = {r["candidate"]["key"] for job in calls for r in job["renders"]}
    assert done and redone and not done & redone  # finished work was kept, not redone

    first = json.loads(style_set.manifest_path.read_text())
    second = json.loads(path.read_text())
    assert second == first
    for clip in first["clips"][::4]:
        assert _digest(path.parent / clip["wav"]) == _digest(style_set.manifest_path.parent / clip["wav"])
    assert not (path.parent / "work").exists()


def test_builds_made_together_are_each_the_build_made_alone(tmp_path, style_set):
    """build_many parses each source once for every build it makes; each build is still the one `build` makes alone,
    manifest and audio byte for byte, whatever builds beside it (here one of another size,
    clip length and seed)."""
    other = {"clips_per_class": 1, "clip_seconds": 2.0, "seed": 1}  # the sources it parses overlap TINY's
    alone = build_mod.build(tmp_path / "alone", progress=False, workers=2, **other)
    together = build_mod.build_many(
        [tuple(b.values()) for b in (TINY, other)], tmp_path / "together", progress=False, workers=2
    )
    for one, made in zip([style_set.manifest_path, alone], together):
        assert made.read_bytes() == one.read_bytes()
        wavs = sorted(p.relative_to(one.parent) for p in one.parent.rglob("*.wav"))
        assert wavs == sorted(p.relative_to(made.parent) for p in made.parent.rglob("*.wav"))
        assert all(_digest(one.parent / w) == _digest(made.parent / w) for w in wavs)
    assert json.loads((together[0].parent / "build.json").read_text())["builds"] == 2
    assert build_mod.build_many([tuple(TINY.values())], tmp_path / "together") == together[:1]  # done: returned


# --- the parts, without rendering ---------------------------------------------


def test_sources_are_deduplicated_and_grouped():
    irish = sources.candidates("irish", 0, 3)
    numbers = [c.number for c in irish]
    assert len(set(numbers)) == len(numbers) > 1500  # O'Neill's 1850 tunes, each once
    bach = sources.candidates("bach", 0, 3)
    assert len({c.work for c in bach}) == len(bach)
    pal = sources.candidates("palestrina", 0, 3)
    masses = {c.work for c in pal}
    assert 50 < len(masses) < len(pal) / 5  # many sections per mass, all in the mass's group
    assert len({c.work for c in pal[: len(masses)]}) == len(masses)  # masses visited round-robin
    quartets = sources.candidates("quartet", 0, 80)
    slots = defaultdict(set)
    for c in quartets:
        slots[c.work].add((c.slot, c.n_slots))
    assert all(len(s) >= 2 for s in slots.values())  # several excerpts of one work share its group
    assert sources.candidates("german", 0, 3) == sources.candidates("german", 0, 3)
    assert sources.candidates("german", 1, 3) != sources.candidates("german", 0, 3)


def test_labels():
    assert [labels.tempo_bucket(b) for b in (70, 96, 97, 123, 124, 150)] == ["slow", "slow", "medium", "medium", "fast", "fast"]
    assert [labels.metre_of(*ts) for ts in ((2, 4), (4, 4), (6, 8), (12, 8), (3, 4), (9, 8), (3, 2), (5, 4))] == [
        "duple", "duple", "duple", "duple", "triple", "triple", "triple", None,
    ]  # fmt: skip
    a, b = labels.clip_rng(0, "x"), labels.clip_rng(0, "x")
    assert labels.draw_tempo(a) == labels.draw_tempo(b) and labels.draw_instruments(a, 4) == labels.draw_instruments(b, 4)


def test_short_pieces_are_looped_note_by_note():
    notes = np.array([[0.0, 1.0, 60], [1.0, 3.0, 62], [3.0, 4.0, 64]])
    cut, looped = score._cut(notes, 0.0, 10.0, 4.0)
    assert looped
    np.testing.assert_allclose(cut[:, 0], [0, 1, 3, 4, 5, 7, 8, 9])
    assert cut[:, 1].max() == 10.0 and cut[-1, 1] == 10.0
    cut, looped = score._cut(notes, 1.0, 2.0, 4.0)
    assert not looped and cut.tolist() == [[0.0, 2.0, 62.0]]


def test_clean_removes_dc_and_sets_length_and_loudness():
    t = np.arange(48000 * 2) / 48000
    audio = 0.05 * np.sin(2 * np.pi * 440 * t) + 0.02
    out = render.clean(audio, 48000, SR, 3.0)
    assert len(out) == 3 * SR and np.all(out[2 * SR + 100 :] == 0)
    body = out[SR // 2 : 3 * SR // 2]
    assert abs(body.mean()) < 1e-3 * np.abs(body).max()
    rms = np.sqrt(np.mean(out**2))
    assert rms == pytest.approx(10 ** (render.TARGET_RMS_DB / 20), rel=1e-6) or np.abs(out).max() == pytest.approx(render.PEAK_LIMIT)
    with pytest.raises(ValueError, match="silent"):
        render.clean(np.zeros(48000), 48000, SR, 1.0)


# --- a damaged build is named, never a traceback or silence (issue #17) ---------


@pytest.fixture
def damaged(tmp_path, style_set):
    """A copy of the tiny build under a fresh cache root, to damage."""
    import shutil

    build = style_set.manifest_path.parent
    root = tmp_path / "cache"
    shutil.copytree(build, root / "corpus" / build.name)
    return root, root / "corpus" / build.name


def test_a_clip_shorter_than_the_manifest_says_is_a_validation_problem(damaged):
    root, build = damaged
    manifest = json.loads((build / "manifest.json").read_text())
    short, cut = manifest["clips"][0], manifest["clips"][1]
    x, sr = sf.read(build / short["wav"])
    sf.write(build / short["wav"], x[: len(x) // 2], sr, subtype="PCM_16")  # a whole, shorter file
    data = (build / cut["wav"]).read_bytes()
    (build / cut["wav"]).write_bytes(data[: len(data) * 3 // 4])  # the header still says 4 s
    report = CorpusDataset(task="style", cache_dir=root, progress=False, **TINY).validate()
    assert set(report.problems) == {short["id"], cut["id"]}
    assert "2.00 s of audio" in report.problems[short["id"]] and "the corpus manifest says 4 s" in report.problems[short["id"]]
    assert all(str(build) in why and "rebuild" in why for why in report.problems.values())
    assert report.kinds[short["id"]] == report.kinds[cut["id"]] == "truncated"


def test_a_corpus_manifest_missing_a_key_is_one_error_naming_file_and_key(damaged, tmp_path, capsys):
    from tests.test_bad_input import cli_error

    root, build = damaged
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["clips"][2]["group"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"manifest\.json: clips\[2\] has no key 'group'"):
        CorpusDataset(task="style", cache_dir=root, progress=False, **TINY)
    suite = write_corpus_suite(tmp_path)
    line = cli_error(["run", str(suite), "--cache-dir", str(root), "--results", str(tmp_path / "results")], capsys)
    assert "manifest.json" in line and "'group'" in line and f"delete {build}" in line


@pytest.mark.parametrize("key", ["format", "params", "clips"])
def test_a_manifest_missing_a_top_level_key_is_an_error_not_a_silent_rebuild(damaged, key, monkeypatch):
    root, build = damaged
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest[key]
    (build / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(build_mod, "select", lambda *a, **k: pytest.fail("a damaged build was rebuilt over"))
    with pytest.raises(DatasetError, match=rf"manifest\.json: has no key '{key}' \(a damaged build\): delete "):
        CorpusDataset(task="style", cache_dir=root, progress=False, **TINY)


def test_a_manifest_naming_a_path_outside_its_build_is_refused(damaged):
    root, build = damaged
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["clips"][0]["wav"] = "../../elsewhere.wav"
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"clips\[0\]\.wav names a path outside"):
        CorpusDataset(task="style", cache_dir=root, progress=False, **TINY)


def test_a_corpus_root_parameter_is_one_error_line(tmp_path, capsys):
    from tests.test_bad_input import cli_error

    suite = write_corpus_suite(tmp_path, 'root = "data/corpus"\n')
    line = cli_error(["validate", str(suite)], capsys)
    assert "'dataset.root'" in line and "cache_dir" in line
    line = cli_error(["run", str(suite), "--results", str(tmp_path / "results")], capsys)
    assert "'dataset.root'" in line


def write_corpus_suite(tmp_path, extra: str = ""):
    path = tmp_path / "corpus-suite.toml"
    path.write_text(
        'name = "tiny-corpus"\nversion = "1"\nseeds = [0]\nmetrics = ["accuracy"]\n'
        f'[dataset]\nname = "corpus"\nclips_per_class = {TINY["clips_per_class"]}\nclip_seconds = {TINY["clip_seconds"]}\n'
        f'{extra}[protocol]\nname = "stratified-kfold"\nfolds = 3\n[[systems]]\nname = "mfcc"\nlabel = "MFCC"\n'
    )
    return path
