"""The accelerator a trial runs on: which device, which precision, moving data there, and what memory it used.

Precision: `--precision auto` trains in bfloat16 autocast on a CUDA device that
supports it (Ampere and later) and in float32 elsewhere; `fp32` turns mixed
precision off; `bf16` forces it, on the CPU too. Only bfloat16 is offered:
it keeps float32's exponent range, so losses and gradients cannot overflow and
no loss scaling is needed, which float16 would require. Systems opt in around
their network's forward pass and loss (`autocast`); feature extraction and the
Hessian-free optimiser's curvature products always run in float32.
"""

from __future__ import annotations

import resource
import sys
from contextlib import contextmanager

import numpy as np
import torch

from mirbench.errors import InputError

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device: str) -> torch.device:
    """Turn `auto|cpu|cuda|cuda:N` into a torch device, failing clearly when CUDA is absent."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device} asked for CUDA, but torch sees no GPU; use --device auto or cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"--device {device!r} is not a device torch knows (use auto, cpu, cuda or cuda:N)") from exc
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise InputError(f"--device {device}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0")
    return resolved


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto|fp32|bf16` on `device` -> "bf16" or "fp32": what the trial's networks will train in."""
    if precision not in PRECISIONS:
        raise InputError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return "fp32"
    bf16_ok = device.type != "cuda" or torch.cuda.is_bf16_supported()
    if precision == "bf16":
        if not bf16_ok:
            raise InputError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use auto or fp32")
        return "bf16"
    return "bf16" if device.type == "cuda" and bf16_ok else "fp32"


_BF16_USED = [False]  # whether a bfloat16 autocast was entered in this process since `precision_used(reset=True)`


def autocast(device: torch.device, precision: str):
    """The context a network's forward pass and loss run in: bfloat16 autocast for "bf16", a no-op for "fp32"."""
    if precision == "bf16":
        _BF16_USED[0] = True
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def precision_used(reset: bool = False) -> str:
    """"bf16" when some network computed under bfloat16 autocast since the last reset, else "fp32": what a trial
    actually ran in (a scikit-learn system given "bf16" still computes in float32 and is recorded so)."""
    used = "bf16" if _BF16_USED[0] else "fp32"
    if reset:
        _BF16_USED[0] = False
    return used


def to_device(array: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """A numpy array (a memory-mapped cache entry too) as a tensor on `device`.

    For CUDA the host copy is pinned, so the transfer is a DMA that overlaps
    with the GPU's work on the previous batch; on the CPU there is no copy.
    """
    tensor, device = torch.from_numpy(np.ascontiguousarray(array)), torch.device(device)
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def process_peak_rss() -> int:
    """The largest resident set of this process so far, in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@contextmanager
def memory_meter(device: torch.device):
    """Measure a block's peak memory: yields a dict filled on exit with the GPU's peak allocation (CUDA only)
    and this process's peak resident set, both in bytes."""
    usage: dict = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        yield usage
    finally:
        if device.type == "cuda":
            usage["peak_gpu_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
            usage["gpu_memory_total_bytes"] = int(torch.cuda.get_device_properties(device).total_memory)
        usage["process_peak_rss_bytes"] = process_peak_rss()


def out_of_memory(exc: BaseException, device: torch.device) -> dict | None:
    """The error record of an out-of-memory failure (GPU or host), with what to do about it; None for others."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "CUDA out of memory"
        where = f"{device} ({torch.cuda.get_device_name(device)})" if torch.cuda.is_available() else str(device)
        return {
            "type": "OutOfMemoryError",
            "message": f"GPU out of memory on {where}: {first}. Lower the system's batch_size, train in bfloat16 "
            "(--precision auto), or run fewer trials per GPU (--workers)",
        }
    if isinstance(exc, MemoryError):
        return {
            "type": "OutOfMemoryError",
            "message": f"host out of memory: {exc or 'MemoryError'}. Run fewer trials at once (--workers) "
            "or lower the system's batch_size",
        }
    return None


def release(device: torch.device) -> None:
    """Give the trial's cached GPU blocks back, so the next trial in this process starts from an empty pool."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
