"""Where a result came from: library versions, code revision, machine and device."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mirbench

LIBRARIES = ("numpy", "scipy", "scikit-learn", "pandas", "torch", "librosa", "soundfile")


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The commit of the mirbench checkout (suffixed "+dirty" when edited), or None outside git."""
    here = Path(mirbench.__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # generated reports are outputs, not code: editing them does not make the code dirty
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"],
            cwd=here, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def device_info(device) -> dict:
    import torch

    info = {"device": str(device), "device_name": platform.processor() or platform.machine()}
    if getattr(device, "type", str(device)) == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


@functools.lru_cache(maxsize=1)
def cpu_kernels() -> str:
    """The vector instructions the CPU maths ran on (torch's kernels, OpenBLAS's core type): float rounding, and so
    a borderline prediction, can differ between machines whose kernels differ."""
    import torch

    parts = [f"torch {torch.backends.cpu.get_cpu_capability()}"]
    try:
        import threadpoolctl

        blas = sorted({str(i.get("architecture") or "?") for i in threadpoolctl.threadpool_info()
                       if i.get("internal_api") == "openblas"})
        if blas:
            parts.append("openblas " + ", ".join(blas))
    except Exception:  # threadpoolctl is scikit-learn's dependency; its inspection is best effort
        pass
    return "; ".join(parts)


def provenance(device) -> dict:
    return {
        "mirbench": mirbench.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "libraries": library_versions(),
        "git_revision": git_revision(),
        "cpu_kernels": cpu_kernels(),
        **device_info(device),
    }
