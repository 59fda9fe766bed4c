"""`percent = true` prints accuracies in %, never AUCs (issue 19: ROC-AUC read as 95.7 %)."""

from __future__ import annotations

from mirbench.report import latex, markdown
from mirbench.report.per_class import section as per_class_section
from tests.helpers import grid_under
from tests.test_report_extras import record, suite_doc

RECORDS = [
    record("MLP", {}, fold, metrics={"accuracy": 0.79, "normalised_accuracy": 0.78, "roc_auc_macro": 0.957},
           per_class={"roc_auc": [0.9, 0.8, 0.7]})
    for fold in (0, 1)
]
METRICS = ("accuracy", "normalised_accuracy", "roc_auc_macro")


def test_percent_scales_accuracies_and_leaves_aucs_as_fractions():
    text = markdown(suite_doc({"percent": True, "decimals": 1}, METRICS), RECORDS, "results", None)
    assert grid_under(text, "## Results") == [
        ["System", "accuracy", "normalised_accuracy", "roc_auc_macro"],
        ["MLP", "79.0 ± 0.0", "78.0 ± 0.0", "0.957 ± 0.000"],
    ]
    assert "accuracies in %; AUCs as fractions" in text


def test_percent_applies_to_published_accuracies_only():
    published = [{"metric": "accuracy", "value": 0.8, "source": "P"}, {"metric": "roc_auc_macro", "value": 0.9, "source": "P"}]
    doc = suite_doc({"percent": True, "decimals": 1, "published": published}, METRICS)
    rows = grid_under(markdown(doc, RECORDS, "results", None), "## Results")
    header, mlp = rows[0], rows[1]
    assert mlp[header.index("accuracy (published)")] == "80.0"
    assert mlp[header.index("roc_auc_macro (published)")] == "0.900"
    assert "0.957" in latex(doc, RECORDS)


def test_per_class_aucs_are_not_percentages():
    doc = suite_doc({"percent": True, "per_class": {"metric": "roc_auc"}}, METRICS)
    text = per_class_section(doc, RECORDS)
    assert "0.900" in text and "90.0" not in text and "values in %" not in text


def test_a_training_accuracy_follows_percent():
    recs = [dict(r, training={"train_accuracy": 0.5}) for r in RECORDS]
    doc = suite_doc({"percent": True, "decimals": 1, "metrics": ["training.train_accuracy", "roc_auc_macro"]}, METRICS)
    assert grid_under(markdown(doc, recs, "results", None), "## Results")[1] == ["MLP", "50.0 ± 0.0", "0.957 ± 0.000"]


def test_a_table_of_accuracies_is_in_percent_when_the_reports_own_metrics_are_aucs():
    tables = [{"title": "Accuracy", "rows": ["system"], "columns": ["metric"], "metrics": ["accuracy"]}]
    doc = suite_doc({"percent": True, "decimals": 1, "metrics": ["roc_auc_macro"], "tables": tables}, METRICS)
    text = markdown(doc, RECORDS, "results", None)
    assert grid_under(text, "### Accuracy")[1] == ["MLP", "79.0 ± 0.0"]
    assert "; values in %." in text
