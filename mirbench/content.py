"""sha256 of audio files, memoised in the process and on disk, so that what a number depends on is hashed cheaply.

Trial identities and cache keys hash the bytes of every track they use: a file
replaced by another (a repaired download, a rebuilt corpus clip) is a different
input, whatever its name. Hashing a dataset once costs a read of every file, so
digests are kept, keyed by (resolved path, size, mtime_ns, inode), in memory
and in `<cache>/content-hashes.sqlite`: a later run rehashes only the files
that changed. A file whose size, modification time or inode changed is hashed
again; editing a file in place and restoring its mtime by hand is the one
change that goes unseen.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from mirbench.audio import AudioError

_CHUNK = 1 << 20
_MEMO: dict[tuple[str, int, int, int], str] = {}  # (resolved path, size, mtime_ns, inode) -> sha256


def _db_path() -> Path:
    from mirbench.cache import cache_root

    return cache_root() / "content-hashes.sqlite"


def _connect() -> sqlite3.Connection | None:
    """The on-disk memo, or None where it cannot be opened (a read-only cache: hashes are then kept in memory only)."""
    path = _db_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS digest (path TEXT, size INTEGER, mtime_ns INTEGER, inode INTEGER, "
                   "sha256 TEXT, PRIMARY KEY (path, size, mtime_ns, inode))")
        return db
    except (OSError, sqlite3.Error):
        return None


def _stat_key(path: Path) -> tuple[str, int, int, int]:
    resolved = Path(path).resolve()
    try:
        st = resolved.stat()
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return str(resolved), st.st_size, st.st_mtime_ns, st.st_ino


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return h.hexdigest()


def content_hash(path: str | Path) -> str:
    """sha256 of the file's bytes; raises AudioError when it cannot be read."""
    return content_hashes([path])[0]


def content_hashes(paths) -> list[str]:
    """sha256 of each file, in order: from memory, else from the on-disk memo, else read and hashed (and stored)."""
    keys = [_stat_key(Path(p)) for p in paths]
    missing = [k for k in dict.fromkeys(keys) if k not in _MEMO]
    if missing:
        db = _connect()
        try:
            if db is not None:
                for key in missing:
                    row = db.execute("SELECT sha256 FROM digest WHERE path=? AND size=? AND mtime_ns=? AND inode=?",
                                     key).fetchone()
                    if row:
                        _MEMO[key] = row[0]
            fresh = [k for k in missing if k not in _MEMO]
            for key in fresh:
                _MEMO[key] = _hash_file(key[0])
            if db is not None and fresh:
                try:
                    with db:
                        db.executemany("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?, ?)",
                                       [(*k, _MEMO[k]) for k in fresh])
                except sqlite3.Error:  # a locked or read-only memo costs a rehash next time, nothing else
                    pass
        finally:
            if db is not None:
                db.close()
    return [_MEMO[k] for k in keys]


def forget() -> None:
    """Drop the in-process memo (tests that rewrite files within one mtime tick)."""
    _MEMO.clear()
