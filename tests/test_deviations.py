"""Issue 19: each reproduced system's deviations from its paper are data; its card and the reports are made from it.

Run `python -m tests.test_deviations` to rewrite the cards' generated regions after a ledger changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mirbench import registry
from mirbench.deviations import END, START, Deviation, card_region, of_system, region_of, sync_card
from mirbench.report.deviations import markdown_section
from mirbench_baselines.choi2017 import deviations as choi2017
from mirbench_baselines.dieleman2014 import deviations as dieleman2014
from mirbench_baselines.fagan import deviations as fagan
from mirbench_baselines.fma import deviations as fma
from mirbench_baselines.pmsc import PMSCBaseline
from mirbench_baselines.sigtia2014 import deviations as sigtia2014

CARDS_DIR = Path(__file__).resolve().parents[1] / "docs" / "systems"
CARDS = {
    "sigtia2014": sigtia2014.DEVIATIONS,
    "choi2017": choi2017.DEVIATIONS,
    "dieleman2014": dieleman2014.DEVIATIONS,
    "fagan": fagan.ALL,
    "fma": fma.DEVIATIONS,
}
REPRODUCED = ["sigtia2014.mlp", "choi2017.cnn", "dieleman2014.cnn", "fma.mlp",
              *(f"fagan.{f}" for f in ("cnn1d", "cnn2d", "alexnet", "vgg16", "samplecnn", "lstm", "rcnn"))]  # fmt: skip


def deviations(name: str) -> tuple[Deviation, ...]:
    return of_system(registry.systems.get(name), name)


@pytest.mark.parametrize("family", sorted(CARDS))
def test_the_cards_table_is_the_one_its_ledger_generates(family):
    text = (CARDS_DIR / f"{family}.md").read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    assert region_of(text) == card_region(CARDS[family]), "run: python -m tests.test_deviations"


@pytest.mark.parametrize("name", REPRODUCED)
def test_every_reproduced_system_declares_full_and_small_deviations_its_card_lists(name):
    declared = deviations(name)
    assert any(d.applies(small=False) for d in declared) and any(d.applies(small=True) for d in declared)
    family = name.split(".")[0]
    assert set(declared) <= set(CARDS[family])


def test_the_known_deviations_are_in_the_ledgers():
    aspects = {name: {d.aspect for d in deviations(name)} for name in REPRODUCED}
    assert "GTZAN folds" in aspects["sigtia2014.mlp"] and "random forest size" not in aspects["sigtia2014.mlp"]
    assert {"widths", "dropout"} <= aspects["choi2017.cnn"]
    assert "frame size of CNN 1D and LSTM" in aspects["fagan.cnn1d"] & aspects["fagan.lstm"]
    assert "frame size of CNN 1D and LSTM" not in aspects["fagan.cnn2d"]
    assert "AlexNet and VGG16 dimensionality" in aspects["fagan.alexnet"] & aspects["fagan.vgg16"]
    assert "dropout in the convolutions" in aspects["fagan.rcnn"] - aspects["fagan.lstm"]
    assert "learning rate" in aspects["fma.mlp"] and "epochs" not in aspects["fma.mlp"]  # 100 epochs, as it says
    assert "update rule" in aspects["dieleman2014.cnn"]
    assert deviations("fma.svm") == () and deviations("mfcc") == ()


def test_a_deviation_checks_its_fields():
    with pytest.raises(ValueError, match="applies_to"):
        Deviation("a", "b", "c", "d", applies_to="embedded")
    with pytest.raises(ValueError, match="why"):
        Deviation("a", "b", "c", " ")
    d = Deviation("a", "b", "c", "d", applies_to="both")
    assert d.applies(small=True) and d.applies(small=False)
    assert Deviation("a", "b", "c", "d").applies(small=False) and not Deviation("a", "b", "c", "d").applies(small=True)


def test_sync_card_rewrites_only_the_region(tmp_path):
    card = tmp_path / "card.md"
    card.write_text(f"# Card\n\nbefore\n\n{START}\nstale | row\n{END}\n\nafter\n", encoding="utf-8")
    ledger = (Deviation("width", "64", "8", "CPU", "small"),)
    assert sync_card(card, ledger) is True
    text = card.read_text(encoding="utf-8")
    assert text.startswith("# Card\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "stale" not in text
    assert "| width | 64 | 8 | CPU | small |" in text
    assert sync_card(card, ledger) is False
    (tmp_path / "bare.md").write_text("# no region\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bare.md"):
        sync_card(tmp_path / "bare.md", ledger)


def suite(dataset: str, published: bool = True, tables: bool = False) -> dict:
    entry = [{"system": "x", "metric": "accuracy", "value": 0.8, "source": "Paper"}]
    report = {"tables": [{"title": "T", "published": entry}]} if tables else {"published": entry if published else []}
    return {"name": "s", "dataset": {"name": dataset}, "report": report}


def rec(system: str, fold: int = 0) -> dict:
    return {"variant": {"name": system, "system": system, "params": {}}, "fold": fold, "status": "ok"}


def rows(section: str) -> list[list[str]]:
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")][1:]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]


def test_the_report_lists_exactly_the_records_systems_deviations_for_a_full_data_suite():
    records = [rec("choi2017.cnn", 0), rec("choi2017.cnn", 1), rec("mfcc")]
    section = markdown_section(suite("mtat"), records)
    assert section.startswith("## Deviations from the paper\n")
    expected = [d for d in choi2017.DEVIATIONS if d.applies_to in ("full", "both")]
    assert [r[1] for r in rows(section)] == [d.aspect for d in expected]
    assert all(r[0] == "`choi2017.cnn`" for r in rows(section))
    assert "full-data suites" in section


@pytest.mark.parametrize("dataset", ["corpus", "synthetic"])
def test_a_small_machine_suite_lists_its_small_and_shared_deviations(dataset):
    section = markdown_section(suite(dataset, tables=True), [rec("fma.mlp"), rec("fma.svm")])
    expected = [d.aspect for d in fma.DEVIATIONS if d.applies_to in ("small", "both")]
    assert [r[1] for r in rows(section)] == expected
    assert "features and data" in expected and "small-machine suites" in section


def test_a_deviation_shared_by_several_systems_is_one_row_naming_them():
    section = markdown_section(suite("gtzan"), [rec("fagan.cnn1d"), rec("fagan.lstm"), rec("fagan.cnn2d")])
    by_aspect = {r[1]: r[0] for r in rows(section)}
    assert by_aspect["frame size of CNN 1D and LSTM"] == "`fagan.cnn1d`, `fagan.lstm`"
    assert by_aspect["dropout in the convolutions"] == "`fagan.cnn1d`, `fagan.cnn2d`"
    assert len(rows(section)) == len(by_aspect)


def test_a_ledger_attached_by_name_is_read_for_a_system_module_it_cannot_edit():
    section = markdown_section(suite("gtzan"), [rec("sigtia2014.mlp")])
    assert "GTZAN folds" in {r[1] for r in rows(section)}


def test_no_section_without_published_numbers_or_without_declared_deviations():
    assert markdown_section(suite("gtzan", published=False), [rec("choi2017.cnn")]) == ""
    assert markdown_section({"name": "s", "dataset": {"name": "gtzan"}}, [rec("choi2017.cnn")]) == ""
    assert markdown_section(suite("gtzan"), [rec("mfcc"), rec("fma.svm")]) == ""
    assert markdown_section(suite("corpus"), []) == ""


def test_a_record_of_a_system_no_longer_installed_is_left_out_not_an_error():
    section = markdown_section(suite("mtat"), [rec("gone.plugin"), rec("dieleman2014.cnn")])
    assert {r[0] for r in rows(section)} == {"`dieleman2014.cnn`"}
    assert markdown_section(suite("mtat"), [rec("gone.plugin")]) == ""


def test_a_written_report_with_published_numbers_carries_the_section(write_suite, tmp_path):
    """The section is part of every report that prints published numbers, under the table."""
    from mirbench.report import write_report
    from mirbench.run import RunOptions, run_suite
    from mirbench.suite import load_suite

    registry.systems.register("test.deviant", "tests.test_deviations:Deviant")
    text = "\n".join(line for line in (write_suite().read_text()).splitlines())
    text = text.replace('name = "pmsc"\nlabel = "PMSC"\nparams = { n_components = 16 }',
                        'name = "test.deviant"\nlabel = "PMSC"')
    path = write_suite(text, "deviant.toml")
    summary = run_suite(load_suite(path), RunOptions(results=tmp_path / "res", progress=False, device="cpu"))
    report = next(p for p in write_report(summary.results, tmp_path / "rep") if p.suffix == ".md").read_text()
    assert "## Deviations from the paper" in report
    assert report.index("## Deviations from the paper") > report.index("## Results")
    assert "fewer trees" in report




class Deviant(PMSCBaseline):
    """PMSC declaring one deviation, for the test above."""

    DEVIATIONS = (Deviation("forest", "500 trees", "fewer trees", "a test", "small"),)


def main() -> None:
    for family, ledger in CARDS.items():
        if sync_card(CARDS_DIR / f"{family}.md", ledger):
            print(f"rewrote docs/systems/{family}.md")


if __name__ == "__main__":
    main()
