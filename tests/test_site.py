"""Issue 21: the leaderboard ranks submissions and local runs apart, keeps quick runs apart, shows one run once,
never drops what the board on disk shows unless asked, and writes a static site whose every string is escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mirbench import cli, leaderboard
from mirbench.results import ResultStore
from mirbench.site import keep, names
from mirbench.site.build import write_board, write_site
from mirbench.submission import Verification
from tests.test_leaderboard import record, suite

XSS = "<img src=x onerror=alert(1)>"


def full_record(label: str, fold: int, accuracy: float, **kw) -> dict:
    """A record a per-suite report can be written from (timings, dataset classes, a confusion matrix)."""
    r = record(label, fold, accuracy, **kw)
    r.update(confusion=[[3, 1], [1, 3]], dataset={"classes": ["a", "b"], "fingerprint": "f00d"},
             timings={"features_s": 1.0, "fit_s": 2.0 + fold, "predict_s": 0.5},
             predictions={"track_ids": [f"t{fold}a", f"t{fold}b"], "truth": [0, 1],
                          "scores": [[accuracy, 1 - accuracy], [1 - accuracy, accuracy]]})
    return r


def results_dir(root: Path, name: str, labels: dict[str, float], folds: int = 2, **suite_args) -> Path:
    """A results directory of `labels` (label: accuracy), written as 'mirbench run' writes one."""
    store = ResultStore(root / name)
    store.write_suite(suite(**suite_args))
    for fold in range(folds):
        for label, accuracy in labels.items():
            store.write(full_record(label, fold, accuracy + fold / 100))
    return store.root


def submission_entry(results: Path, name: str) -> dict:
    """The verified submission made from a results directory: the same suite and records."""
    store = ResultStore(results)
    doc = {"schema": "mirbench.submission/1", "created_at": "2024-05-01T00:00:00Z", "mirbench": "0.1.0",
           "suite": store.read_suite(), "records": list(store.records())}
    return leaderboard.entry_from_submission(doc, name, Verification(ok=True, complete=True))


def site_entries(tmp: Path) -> list[dict]:
    """A local run, a verified submission of another run (with the XSS label), the submission made from the local
    run (a duplicate), and a quick run."""
    local = results_dir(tmp / "results", "quickstart", {"MFCC": 0.66, "PMSC": 0.74})
    other = results_dir(tmp / "made", "team", {"CNN": 0.80, XSS: 0.70})
    quick = results_dir(tmp / "results", "quickstart-quick", {"MFCC": 0.50}, folds=1, quick=True)
    return [leaderboard.entry_from_results(local), submission_entry(other, "team.json"),
            submission_entry(local, "quickstart.json"), leaderboard.entry_from_results(quick)]


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes, and its text."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text())
    return parser


@pytest.fixture
def site(tmp_path) -> Path:
    write_site(site_entries(tmp_path), tmp_path / "site")
    return tmp_path / "site"


# -- names --------------------------------------------------------------------------------------------------------

def test_headings_read_as_sentences_with_the_parameters_apart():
    assert names.heading({"name": "gtzan"}, {"name": "gtzan-random-4fold"}, "accuracy") == \
        "GTZAN, 4-fold rotation (50/25/25): accuracy"
    kfold = {"name": "stratified-kfold", "folds": 2, "proportions": [0.5, 0.25, 0.25], "seed": 0}
    corpus = {"name": "corpus", "task": "tags", "clip_seconds": 10.0}
    assert names.heading(corpus, kfold, "roc_auc_macro") == \
        "Embedded corpus (tags, clip_seconds=10.0), 2 random 50/25/25 splits: ROC-AUC (macro)"
    assert names.params_line(corpus, kfold) == "protocol: seed=0"
    other_build = {"name": "corpus", "task": "tags", "seed": 1}  # two builds of one dataset: two headings
    assert names.heading(other_build, kfold, "accuracy") != names.heading({"name": "corpus", "task": "tags"}, kfold,
                                                                          "accuracy")
    assert names.heading({"name": "mystery"}, {"name": "odd-split"}, "new_metric") == "mystery, odd-split: new metric"
    rotation = {"name": "stratified-kfold", "folds": 4, "proportions": "k-fold"}
    assert names.protocol_name(rotation) == "4-fold rotation (50/25/25)"


# -- ranking: verified, local, quick, duplicates ------------------------------------------------------------------

def test_local_runs_are_ranked_apart_and_marked_and_quick_runs_get_their_own_sections(tmp_path):
    rows = leaderboard.rows(site_entries(tmp_path))
    sections = leaderboard.sections(rows)
    full = [k for k in sections if not k[3]]
    quick = [k for k in sections if k[3]]
    assert full and quick and list(sections) == full + quick  # quick sections after every full one
    acc = next(k for k in full if k[2] == "accuracy")
    captions = [(caption, [r["source"] for r in rows_], ranks) for caption, rows_, ranks in leaderboard.tables(acc, sections[acc])]
    # every full row has a verified source here (the local run's submission stands for it): one ranked table
    assert captions == [(None, ["submission:team.json", "submission:quickstart.json"] * 2, ["1", "2", "3", "4"])]
    assert all(not r["quick"] for _, rows_, _ in leaderboard.tables(acc, sections[acc]) for r in rows_)
    qkey = next(k for k in quick if k[2] == "accuracy")
    [(caption, qrows, ranks)] = leaderboard.tables(qkey, sections[qkey])
    assert caption == leaderboard.QUICK and ranks == [None] and qrows[0]["source"] == "local:quickstart-quick"
    md = leaderboard.markdown(rows)
    assert "## GTZAN, 4-fold rotation (50/25/25): accuracy (quick runs)" in md
    quick_line = next(line for line in md.split("## GTZAN, 4-fold rotation (50/25/25): accuracy (quick runs)")[1].splitlines() if "MFCC" in line)
    assert quick_line.startswith("| —") and "MFCC (quick)" in quick_line


def test_a_local_run_without_its_submission_is_ranked_apart_as_unverified(tmp_path):
    local = results_dir(tmp_path, "mine", {"MFCC": 0.9})
    team = results_dir(tmp_path / "t", "team", {"CNN": 0.5})
    rows = leaderboard.rows([leaderboard.entry_from_results(local), submission_entry(team, "team.json")])
    md = leaderboard.markdown(rows)
    part = md.split("## GTZAN, 4-fold rotation (50/25/25): accuracy")[1].split("\n## ")[0]
    ranked, local_part = part.split(leaderboard.LOCAL)
    assert "| 1 " in ranked and "verified: team.json" in ranked and "MFCC" not in ranked  # the better local run is not above
    assert "| L1 " in local_part and "local, unverified: mine" in local_part


def test_one_run_in_several_inputs_is_one_row_from_its_verified_source(tmp_path):
    rows = leaderboard.rows(site_entries(tmp_path))
    mfcc = [r for r in rows if r["system"] == "MFCC" and r["metric"] == "accuracy" and not r["quick"]]
    assert len(mfcc) == 1
    assert mfcc[0]["source"] == "submission:quickstart.json" and mfcc[0]["also"] == ["local:quickstart"]
    assert "verified: quickstart.json (also local:quickstart)" in leaderboard.markdown(rows)


def test_a_rerun_with_other_predictions_is_another_row(tmp_path):
    a = results_dir(tmp_path / "a", "run", {"MFCC": 0.6})
    b = results_dir(tmp_path / "b", "rerun", {"MFCC": 0.6})
    rec = next(ResultStore(b).records())
    rec["predictions"]["scores"] = [[0.1, 0.9], [0.9, 0.1]]
    ResultStore(b).write(rec)
    rows = leaderboard.rows([leaderboard.entry_from_results(a), leaderboard.entry_from_results(b)])
    assert len([r for r in rows if r["metric"] == "accuracy"]) == 2


def test_two_different_inputs_of_one_name_are_an_error(tmp_path):
    a = leaderboard.entry_from_results(results_dir(tmp_path / "a", "run", {"MFCC": 0.6}))
    b = leaderboard.entry_from_results(results_dir(tmp_path / "b", "run", {"PMSC": 0.6}))
    with pytest.raises(leaderboard.InputError, match="both named 'local:run'"):
        leaderboard.rows([a, b])


# -- never dropping what the board shows ---------------------------------------------------------------------------

def test_a_board_that_would_lose_rows_is_refused_unless_replaced(tmp_path):
    entries = site_entries(tmp_path)
    md, _ = write_board(entries, tmp_path / "reports")
    before = md.read_text()
    with pytest.raises(keep.BoardError) as err:
        write_board(entries[:1], tmp_path / "reports")
    message = str(err.value)
    assert "\n" not in message and "--replace" in message and "submission:team.json" in message
    assert md.read_text() == before  # nothing written
    write_board(entries[:1], tmp_path / "elsewhere")  # another folder is unaffected
    write_board(entries[:1], tmp_path / "reports", replace=True)
    assert "team.json" not in md.read_text()


def test_more_inputs_and_the_same_run_from_its_submission_are_kept(tmp_path):
    local = results_dir(tmp_path / "results", "quickstart", {"MFCC": 0.66})
    write_board([leaderboard.entry_from_results(local)], tmp_path / "reports")
    other = results_dir(tmp_path / "made", "team", {"CNN": 0.8})
    # the local run now comes from its verified submission, and a new run joins: nothing is lost
    write_board([submission_entry(local, "quickstart.json"), submission_entry(other, "team.json")],
                      tmp_path / "reports")
    assert "verified: quickstart.json" in (tmp_path / "reports" / "leaderboard.md").read_text()


def test_a_board_from_before_the_record_is_read_from_its_tables(tmp_path):
    old = ("# Leaderboard\n\nBuilt from ...\n\n## gtzan · gtzan-random-4fold · accuracy\n\n"
           "| Rank | System | Mean ± std | Source |\n|---|---|---|---|\n"
           "| 1 | MFCC (quick) | 0.5 ± 0.1 | local:quickstart-quick |\n"
           "| 2 | A \\| B (incomplete: 1 of 2 trials) | 0.4 ± 0.1 | local:other |\n")
    assert keep.board_rows(old) == {("gtzan · gtzan-random-4fold · accuracy · quick", "MFCC", "local:quickstart-quick", ""),
                                    ("gtzan · gtzan-random-4fold · accuracy", "A | B", "local:other", "")}
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "leaderboard.md").write_text(old)
    quick = results_dir(tmp_path / "results", "quickstart-quick", {"MFCC": 0.5}, folds=1, quick=True)
    with pytest.raises(keep.BoardError, match=r"1 row\(s\) in 1 section\(s\).*local:other"):
        write_board([leaderboard.entry_from_results(quick)], tmp_path / "reports")


def test_the_record_of_rows_cannot_end_its_comment(tmp_path):
    text = keep.comment([("s", "x --> <script>", "local:a", "r")])
    assert text.count("-->") == 1 and "<script>" not in text
    assert keep.recorded_rows(text) == {("s", "x --> <script>", "local:a", "r")}


def test_cli_refuses_in_one_line_and_replaces_on_purpose(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    a = results_dir(tmp_path / "results", "a", {"MFCC": 0.6})
    results_dir(tmp_path / "results", "b", {"PMSC": 0.7})
    assert cli.main(["leaderboard"]) == 0  # no PATH: results/*/ (and submissions/, absent here)
    assert "local, unverified: b" in (tmp_path / "reports" / "leaderboard.md").read_text()
    capsys.readouterr()
    assert cli.main(["leaderboard", str(a)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "local:b" in err and "--replace" in err
    assert cli.main(["leaderboard", str(a), "--replace"]) == 0
    assert cli.main(["leaderboard", str(a), "--site", "site"]) == 0
    assert (tmp_path / "site" / "index.html").is_file()


# -- the site ------------------------------------------------------------------------------------------------------

def test_every_row_links_to_an_existing_report_page_with_relative_links(site):
    index = parse(site / "index.html")
    links = [a["href"] for tag, a in index.tags if tag == "a" and not a["href"].startswith("#")]
    assert links and all(not re.match(r"^([a-z]+:|/)", href) for href in links)  # relative only
    rows = [a for tag, a in index.tags if tag == "tr" and "data-system" in a]
    assert len(links) == len(rows)  # one link per row
    for href in set(links):
        page = site / href
        assert page.is_file()
        report = parse(page)
        assert ("table", {"class": "report"}) in report.tags
        images = [a["src"] for tag, a in report.tags if tag == "img"]
        assert images and all((page.parent / src).is_file() for src in images)
        assert ("a", {"href": "../../index.html"}) in report.tags
    assert not [t for t, a in index.tags if t in ("link", "iframe") or (t == "script" and "src" in a)]  # no external asset


def test_the_index_has_contents_filters_and_sentence_headings(site):
    index = parse(site / "index.html")
    sections = [a["id"] for tag, a in index.tags if tag == "section"]
    contents = [a["href"] for tag, a in index.tags if tag == "a" and a.get("href", "").startswith("#")]
    assert contents == [f"#{s}" for s in sections] and len(sections) == 4  # 2 metrics x (full, quick)
    ids = {a.get("id") for _, a in index.tags}
    assert {"f-dataset", "f-protocol", "f-system"} <= ids
    text = "".join(index.text)
    assert "GTZAN, 4-fold rotation (50/25/25): accuracy" in text
    assert "gtzan · gtzan-random-4fold" not in text  # no raw parameter dump as a heading
    page = (site / "index.html").read_text()
    assert "0.805\u00a0±\u00a0" in page and "white-space: nowrap" in page
    assert 'aria-sort="ascending"' in page


def test_a_hostile_label_is_text_on_every_page(site, tmp_path):
    for page in [site / "index.html", *sorted((site / "runs").glob("*/index.html"))]:
        parsed = parse(page)
        assert not [a for tag, a in parsed.tags if tag == "img" and "onerror" in a], page
        if "team" in str(page) or page.name == "index.html" and page.parent == site:
            assert XSS in "".join(parsed.text), page
    md = leaderboard.markdown(leaderboard.rows(site_entries(tmp_path / "again")))
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md


def test_the_site_folder_is_never_one_with_other_files(tmp_path):
    entries = site_entries(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(leaderboard.InputError, match="not empty"):
        write_site(entries, tmp_path / "mine")
    write_site(entries, tmp_path / "site")
    (tmp_path / "site" / "runs" / "stale").mkdir()
    write_site(entries[:1], tmp_path / "site")  # a site written before is rewritten, its old pages gone
    assert not (tmp_path / "site" / "runs" / "stale").exists()
