"""What the two generic datasets of users' own audio share: where `path` resolves, which files are audio, group_by.

`folder` (one sub-folder per class) and `manifest` (a CSV, TSV or JSON Lines
file of paths and labels) read wherever the user's audio is, so unlike the
published datasets they are not looked for under `<data root>/<name>/`: a
relative `path` is taken from the data root when one is given, else from the
current directory, and an absolute one is used as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mirbench.datasets.base import Dataset, DatasetError

#: The file endings indexed as audio (any case): what mirbench.audio decodes without extra software
#: (libsndfile: WAV, FLAC, Ogg Vorbis/Opus, MP3, AU, AIFF).
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aiff", ".aif")
#: The rate a user dataset reports: its files may have any rate, and each system's frontend resamples on load.
NOMINAL_SAMPLE_RATE = 22050


def is_audio(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES


def is_hidden(name: str) -> bool:
    """Dot files and folders (`.DS_Store`, `.git/`) and AppleDouble companions (`._take1.wav`) are never data."""
    return name.startswith(".")


class UserDataset(Dataset):
    """A dataset of the user's own audio: read from `path` (see the module), with no layout of its own to check.

    Subclasses build `self.notes` (lines for `mirbench data check`: what was ignored while indexing).
    """

    needs_root = False  # a relative path works from the current directory without a data root
    notes: tuple[str, ...] = ()

    @classmethod
    def locate_root(cls, data_root: Path, name: str) -> Path:
        """The data root itself: `path` is resolved against it (there is no `<data root>/<name>/` copy)."""
        return data_root


def check_path_param(kind: str, path, what: str) -> None:
    """`path` is given, and is a non-empty string; `what` says what it should name (for the message)."""
    if path is None:
        raise DatasetError(f"{kind}: 'path' is required: set path = \"...\" in [dataset] (or --param path=...) "
                           f"to {what}")
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise DatasetError(f"{kind}: 'path' must be a non-empty string naming {what}, got {path!r}")


def compile_group_by(kind: str, pattern) -> re.Pattern | None:
    """The compiled `group_by` expression (None when absent); DatasetError when it is not one."""
    if pattern is None:
        return None
    if not isinstance(pattern, str) or not pattern:
        raise DatasetError(f"{kind}: 'group_by' must be a non-empty regular expression (a string), got {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DatasetError(f"{kind}: 'group_by' {pattern!r} is not a valid regular expression ({exc}); "
                           "fix it (e.g. '^([^/]+/[^_]+)_' groups files by the text before their first '_')") from None


def resolve(kind: str, path, root: Path | None) -> Path:
    """`path` made absolute: against the data root when given, else the current directory (`~` expanded)."""
    given = Path(path).expanduser()
    if given.is_absolute():
        return given
    return (Path(root).expanduser() if root is not None else Path.cwd()) / given


def where_from(root: Path | None) -> str:
    """How a relative path was resolved, for messages."""
    return f"the data root {root}" if root is not None else "the current directory (no --data-root or MIRBENCH_DATA)"


def group_of(pattern: re.Pattern, relative: str) -> str | None:
    """The group `pattern` gives a relative POSIX path: its first capture group, or the whole match; None: no match
    (or an empty one)."""
    match = pattern.search(relative)
    if match is None:
        return None
    found = match.group(1) if pattern.groups else match.group(0)
    return found or None
