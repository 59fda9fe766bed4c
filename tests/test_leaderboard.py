"""The leaderboard: entries from results directories and submissions, ranked Markdown and sortable HTML."""

from __future__ import annotations

import pytest

from mirbench import leaderboard
from mirbench.site.board import page
from mirbench.site.build import write_board
from mirbench.results import ResultStore


def suite(dataset: str = "gtzan", protocol: str = "gtzan-random-4fold", quick: bool = False) -> dict:
    return {
        "name": f"{dataset}-suite", "version": 1, "hash": "abc123", "quick": quick,
        "dataset": {"name": dataset}, "protocol": {"name": protocol}, "metrics": ["accuracy", "roc_auc_macro"],
    }


def record(label: str, fold: int, accuracy: float, *, seed: int = 0, params: dict | None = None,
           n_parameters: int | None = 12345, status: str = "ok", day: str = "2024-05-01") -> dict:
    params = params or {}
    return {
        "trial_id": f"{label}-{sorted(params.items())}-f{fold}-s{seed}".replace(" ", ""),
        "status": status,
        "variant": {"system": label.lower(), "label": label, "params": params, "id": f"{label}{params}"},
        "fold": {"index": fold, "split_hash": f"h{fold}"},
        "seed": seed,
        "metrics": {"accuracy": accuracy, "roc_auc_macro": 1.0 - accuracy / 10},
        "n_parameters": n_parameters,
        "timings": {"fit_s": 10.0 + fold},
        "provenance": {"device_name": "NVIDIA H100", "mirbench": "0.1.0", "platform": "Linux",
                       "finished_at": f"{day}T12:00:00+00:00"},
    }


def entry(source: str, records: list[dict], **suite_args) -> dict:
    return {"source": source, "suite": suite(**suite_args), "records": records}


@pytest.fixture
def two_entries() -> list[dict]:
    a = [record("CNN", f, acc) for f, acc in enumerate([0.80, 0.82, 0.84, 0.86])]
    b = [record("MLP", f, acc, n_parameters=None, day=f"2024-06-0{f + 1}") for f, acc in enumerate([0.70, 0.72])]
    return [entry("local:cnn", a), entry("submission:mlp.json", b, quick=True)]


ACC, ROC = ("gtzan", "gtzan-random-4fold", "accuracy", False), ("gtzan", "gtzan-random-4fold", "roc_auc_macro", False)


def test_same_dataset_protocol_gives_one_section_per_metric_ranked_best_first(two_entries):
    two_entries[1]["suite"]["quick"] = False  # both full runs here: quick ones are tested apart
    two_entries[1]["verified"] = True
    table_rows = leaderboard.rows(two_entries)
    sections = leaderboard.sections(table_rows)
    assert list(sections) == [ACC, ROC]
    acc = sections[ACC]
    assert [r["system"] for r in acc] == ["CNN", "MLP"]
    assert acc[0]["mean"] == pytest.approx(0.83)
    assert acc[0]["std"] == pytest.approx(0.025819888974716)  # sample std over the four folds
    assert (acc[0]["folds"], acc[0]["seeds"], acc[0]["train_s"]) == (4, 1, pytest.approx(11.5))
    assert acc[1]["date"] == "2024-06-02" and acc[1]["hardware"] == "NVIDIA H100"
    roc = sections[ROC]
    assert [r["system"] for r in roc] == ["MLP", "CNN"]  # 1 - acc/10: the other way round

    md = leaderboard.markdown(table_rows)
    assert md.startswith("# Leaderboard\n")
    assert md.count("\n## GTZAN, 4-fold rotation (50/25/25): ") == 2
    accuracy_part = md.split("## GTZAN, 4-fold rotation (50/25/25): accuracy")[1].split("##")[0]
    # the verified MLP is ranked 1 in the ranked table; the local CNN, better, is ranked apart as L1
    assert accuracy_part.index("MLP") < accuracy_part.index(leaderboard.LOCAL) < accuracy_part.index("CNN")
    assert "0.830 ± 0.026" in accuracy_part and "| L1 " in accuracy_part and "| 1 " in accuracy_part
    assert "local, unverified: cnn" in accuracy_part and "verified: mlp.json" in accuracy_part


def test_different_datasets_and_protocols_get_different_sections():
    entries = [
        entry("local:a", [record("CNN", 0, 0.8)], dataset="gtzan", protocol="gtzan-random-4fold"),
        entry("local:b", [record("CNN", 0, 0.6)], dataset="gtzan", protocol="gtzan-fault-filtered"),
        entry("local:c", [record("CNN", 0, 0.5)], dataset="fma", protocol="fma-small"),
    ]
    keys = {k[:2] for k in leaderboard.sections(leaderboard.rows(entries))}
    assert keys == {("gtzan", "gtzan-random-4fold"), ("gtzan", "gtzan-fault-filtered"), ("fma", "fma-small")}
    md = leaderboard.markdown(leaderboard.rows(entries))
    assert md.count("\n## ") == 7  # six sections and the contents
    assert "## FMA, official split (small): ROC-AUC (macro)" in md


def test_quick_rows_are_flagged_and_unknown_parameters_show_a_dash(two_entries):
    table_rows = leaderboard.rows(two_entries)
    md = leaderboard.markdown(table_rows)
    mlp_line = next(line for line in md.splitlines() if "| MLP" in line)
    cnn_line = next(line for line in md.splitlines() if "| CNN" in line)
    assert "MLP (quick)" in mlp_line and "—" in mlp_line
    assert "(quick)" not in cnn_line and "12,345" in cnn_line
    assert {r["system"]: r["quick"] for r in table_rows} == {"CNN": False, "MLP": True}


def test_variants_sharing_a_label_are_named_by_their_varying_params():
    records = [record("CNN", f, 0.8, params={"lr": lr, "depth": 3}) for lr in (0.1, 0.01) for f in range(2)]
    systems = {r["system"] for r in leaderboard.rows([entry("local:a", records)])}
    assert systems == {"CNN (lr=0.1)", "CNN (lr=0.01)"}


def test_html_is_well_formed_sortable_and_escaped(two_entries):
    two_entries[0]["records"] = [record("<b>bold</b>", f, 0.9) for f in range(2)]
    html = page(leaderboard.rows(two_entries))
    assert html.count("<table") == html.count("</table>") == 4  # two metrics, full and quick
    assert "<script>" in html and "addEventListener(\"click\"" in html and "data-value=" in html
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "http" not in html.replace("http-equiv", "")  # no external assets
    assert 'data-value="nan"' in html  # unknown parameter count sorts as NaN


def test_entry_from_results_reads_a_results_directory(tmp_path):
    store = ResultStore(tmp_path / "gtzan-run")
    store.write_suite(suite())
    store.write(record("CNN", 0, 0.8))
    store.write(record("CNN", 1, 0.9))
    store.write(record("CNN", 2, 0.1, status="failed"))
    got = leaderboard.entry_from_results(tmp_path / "gtzan-run")
    assert got["source"] == "local:gtzan-run"
    assert got["suite"]["dataset"]["name"] == "gtzan"
    assert sorted(r["fold"]["index"] for r in got["records"]) == [0, 1]


def test_entry_from_submission_reads_a_submission_document():
    doc = {"schema": "mirbench.submission/1", "created_at": "2024-05-01T00:00:00Z", "mirbench": "0.1.0",
           "suite": suite(), "records": [record("CNN", 0, 0.8), record("CNN", 1, 0.5, status="failed")]}
    got = leaderboard.entry_from_submission(doc, "team.json")
    assert got["source"] == "submission:team.json"
    assert len(got["records"]) == 1 and got["suite"]["name"] == "gtzan-suite"
    with pytest.raises(ValueError, match="team.json"):
        leaderboard.entry_from_submission({"suite": suite()}, "team.json")


def test_build_writes_both_files(tmp_path, two_entries):
    md, page = write_board(two_entries, tmp_path / "board")
    assert (md.name, page.name) == ("leaderboard.md", "leaderboard.html")
    assert md.read_text().startswith("# Leaderboard") and page.read_text().startswith("<!DOCTYPE html>")
