"""Strict JSON files: values made JSON-safe (numpy, NaN), written atomically so readers never see half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


def to_jsonable(value):
    """NaN/inf become null so files stay strict JSON; numpy scalars and arrays become lists and numbers."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    text = json.dumps(to_jsonable(data), indent=1, sort_keys=True, allow_nan=False) + "\n"
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """`data` into a temporary file beside `path`, fsync, optionally chmod to `mode` (less the umask), then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
