"""Issue 19: a published column names the dataset its numbers are on; caveats where they do not compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirbench.report import markdown
from mirbench.suite import load_suite
from tests.helpers import grid_under
from tests.test_report_extras import record, suite_doc

SUITES = Path(__file__).resolve().parents[1] / "suites"
RECORDS = [record("MLP", {}, fold, metrics={"accuracy": 0.7, "roc_auc_macro": 0.9}) for fold in (0, 1)]


def test_the_published_column_and_the_sources_name_the_dataset():
    published = [{"system": "MLP", "metric": "accuracy", "value": 0.8, "source": "Paper, Table 1", "dataset": "GTZAN"}]
    text = markdown(suite_doc({"rows": ["system"], "published": published}), RECORDS, "results", None)
    assert grid_under(text, "## Results")[0] == ["System", "accuracy", "accuracy (published)", "roc_auc_macro"]
    assert grid_under(text, "## Results")[1][2] == "0.800"  # `dataset` names no cell dimension
    assert "Published numbers: Paper, Table 1, on GTZAN." in text.split("## Results", 1)[1]


def published_of(suite: dict) -> list[dict]:
    report = suite.get("report", {})
    return report.get("published", []) + [e for t in report.get("tables", []) for e in t.get("published", [])]


@pytest.mark.parametrize("name, dataset", [
    ("sigtia2014-corpus", "GTZAN"),
    ("sigtia2014-corpus-transfer", "ISMIR 2004"),
    ("dieleman2014-corpus", "MagnaTagATune"),
    ("fagan-corpus", "GTZAN"),
])  # fmt: skip
def test_every_embedded_corpus_report_says_where_its_published_numbers_come_from(name, dataset):
    entries = published_of(load_suite(SUITES / f"{name}.toml").data)
    assert entries and all(e.get("dataset", "").startswith(dataset) and e.get("source") for e in entries)


def test_fagan_corpus_warns_that_the_studys_train_and_valid_accuracies_are_per_segment():
    suite = load_suite(SUITES / "fagan-corpus.toml").data
    split = [e for e in published_of(suite) if e.get("metric") in ("training.train_accuracy", "training.valid_accuracy")]
    assert split and all("segment" in e.get("note", "") and "per track" in e["note"] for e in split)
    recs = [record("AlexNet", {}, f, metrics={"accuracy": 0.5}, ) | {"training": {"train_accuracy": 0.7, "valid_accuracy": 0.6}}
            for f in (0, 1)]  # fmt: skip
    text = markdown(suite, recs, "results", None)
    assert split[0]["note"] in text.split("## Results", 1)[1]


def test_fault_filtered_fagan_says_its_published_numbers_are_not_on_the_fault_filtered_split():
    suite = load_suite(SUITES / "fagan-gtzan-fault-filtered.toml").data
    recs = [record("AlexNet", {}, f, metrics={"accuracy": 0.5}) for f in (0, 1)]
    text = markdown(suite, recs, "results", None).split("## Results", 1)[1]
    assert "Published numbers: Fagan, GTZAN study, results tables, on GTZAN, the study's own split (unstated; " \
           "not fault-filtered)." in text
