"""Small published files a protocol needs (split lists, tag lists), fetched once and checked by md5.

Each `Resource` names its public source at a pinned revision and the md5 of
the file there. `fetch` looks, in order, in a local folder the user points at
(`MIRBENCH_SPLITS`), in the download cache (`<cache>/downloads/`), and only
then on the network. A checksum mismatch is an error that says where the
file came from: a split list that differs from the published one would make
results incomparable, so it is never accepted silently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mirbench.errors import MirbenchError


class FetchError(MirbenchError, RuntimeError):
    """A published file is unavailable or differs from the published version."""


@dataclass(frozen=True)
class Resource:
    name: str  # relative path, also the path under the download cache and under MIRBENCH_SPLITS
    repository: str  # "owner/name"
    commit: str
    path: str  # path inside the repository
    md5: str

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}/{self.path}"

    @property
    def source(self) -> str:
        return f"{self.repository} @ {self.commit[:12]} : {self.path}"


def downloads_dir() -> Path:
    from mirbench.cache import cache_root

    return cache_root() / "downloads"


def md5sum(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def checked(path: Path, resource: Resource, label: str | None = None) -> Path:
    """`path`, after checking that its md5 is the published file's; FetchError (naming the file) otherwise."""
    try:
        actual = md5sum(path)
    except OSError as exc:
        raise FetchError(
            f"{label or path}: cannot read it ({exc.strerror or exc}); put the published {resource.name} "
            f"({resource.source}) there"
        ) from None
    if actual != resource.md5:
        raise FetchError(
            f"{label or path} has md5 {actual}, but {resource.name} as published ({resource.source}) has md5 {resource.md5}; "
            f"replace it with the published file (or delete it to download again)"
        )
    return path


def fetch(resource: Resource, timeout: float = 30.0) -> Path:
    """Path of a verified local copy of `resource`, downloading it into the cache if needed."""
    local = os.environ.get("MIRBENCH_SPLITS")
    if local and (Path(local) / resource.name).exists():
        return checked(Path(local) / resource.name, resource)
    cached = downloads_dir() / resource.name
    if cached.exists():
        return checked(cached, resource)
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(resource.url, timeout=timeout) as response:
            out.write(response.read())
        checked(Path(tmp), resource, f"the file downloaded from {resource.url}")
        os.replace(tmp, cached)
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(
            f"could not download {resource.name} from {resource.url} ({exc}); without internet, copy the file "
            f"from {resource.source} to {cached}, or to $MIRBENCH_SPLITS/{resource.name}"
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return cached
