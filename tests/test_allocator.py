"""Runs keep freed memory for the next allocation (mirbench.run.allocator): a block freed and asked for again is
not mapped afresh, page by page. Counted in page faults, in a fresh process each (the setting is process-wide)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from mirbench.run import trial

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

#: A fresh process allocates and frees a 64 MB tensor ten times and prints the page faults of the last nine.
PROBE = textwrap.dedent("""
    import json, resource, torch
    from mirbench.run.allocator import keep_freed_memory
    kept = keep_freed_memory()
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(1 << 24)
    start = faults()
    for _ in range(9):
        torch.ones(1 << 24)
    print(json.dumps({"kept": kept, "faults": faults() - start}))
""")


def probe(**env) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_a_freed_block_is_reused_not_mapped_afresh():
    kept, default = probe(), probe(MIRBENCH_KEEP_FREED_MEMORY="0")
    pages = 9 * (1 << 26) // os.sysconf("SC_PAGE_SIZE")  # of the nine blocks
    assert not default["kept"] and default["faults"] >= 0.9 * pages  # each block's every page, mapped afresh
    assert kept["kept"] and kept["faults"] <= 2 * pages / 9  # at most the pages of two blocks


def test_every_trial_keeps_freed_memory_in_its_process(monkeypatch):
    calls = []
    monkeypatch.setattr("mirbench.run.allocator.keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(trial, "attempt", lambda spec: ({"trial_id": "t"}, None))
    assert trial.execute(type("Spec", (), {"cache_dir": None})()) == {"trial_id": "t"} and calls == [1]
