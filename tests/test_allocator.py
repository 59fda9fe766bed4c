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


#: A fresh process frees 512 MB in 8 blocks and prints its resident MB before and after release_freed_memory.
RELEASE = textwrap.dedent("""
    import json, os, torch
    from mirbench.run.allocator import keep_freed_memory, release_freed_memory
    keep_freed_memory()
    resident = lambda: os.sysconf("SC_PAGE_SIZE") * int(open("/proc/self/statm").read().split()[1]) / 2**20
    blocks = [torch.ones(1 << 24) for _ in range(8)]
    del blocks
    kept = resident()
    release_freed_memory()
    print(json.dumps({"kept": kept, "released": resident()}))
""")


def test_the_memory_a_trial_kept_goes_back_when_it_ends():
    out = subprocess.run([sys.executable, "-c", RELEASE], capture_output=True, text=True, check=True)
    resident = json.loads(out.stdout)
    assert resident["kept"] - resident["released"] > 400  # MB: most of the 512 freed


def test_every_trial_keeps_freed_memory_in_its_process_and_releases_it_at_the_end(monkeypatch):
    calls = []
    monkeypatch.setattr("mirbench.run.allocator.keep_freed_memory", lambda: calls.append("keep"))
    monkeypatch.setattr("mirbench.run.allocator.release_freed_memory", lambda: calls.append("release"))
    monkeypatch.setattr(trial, "attempt", lambda spec: (calls.append("trial") or {"trial_id": "t"}, None))
    assert trial.execute(type("Spec", (), {"cache_dir": None})()) == {"trial_id": "t"}
    assert calls == ["keep", "trial", "release"]
