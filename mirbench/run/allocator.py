"""Keep freed memory in the process for the next allocation, instead of handing it back to the OS at once.

glibc's malloc maps each block above its threshold (128 KB at first, 32 MB at most) afresh and unmaps it when
freed, and hands back freed memory at the top of its heap: a training step then touches its buffers' pages anew
each time, and the page faults cost as much as the arithmetic (0.8 M faults per Adam step of Choi et al.'s CRNN on
4 windows of 96 x 1366, a third of its time). With `keep_freed_memory` every block comes from the heap and up to
`RETAINED` bytes of freed memory stay mapped: the same numbers, bit for bit, sooner (that step 1.5x), for a higher
peak (1.3-1.5x: one heap fragments where separate maps did not; bench_networks.KeepFreedMemory). A trial and the
plan's calibration call it in their process, and a trial ends with `release_freed_memory`, so that what it
kept goes back to the OS before the next trial (a Dask worker's memory monitor would otherwise see it as held);
MIRBENCH_KEEP_FREED_MEMORY=0 leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt's parameters (malloc.h)
RETAINED = 1 << 30  # free memory at the heap's top kept mapped: 1 GiB


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's malloc to serve every block from its heap and keep up to RETAINED bytes freed; False where this
    is not glibc on Linux or MIRBENCH_KEEP_FREED_MEMORY=0 (nothing changed). Once per process."""
    if not sys.platform.startswith("linux") or os.environ.get("MIRBENCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, RETAINED) == 1


def release_freed_memory() -> None:
    """Hand the freed memory `keep_freed_memory` kept back to the OS (glibc's malloc_trim), where it was set."""
    if keep_freed_memory():
        ctypes.CDLL(None).malloc_trim(0)
