"""Published files: found locally or in the cache, checked by md5, and clear errors otherwise."""

from __future__ import annotations

import hashlib

import pytest

from mirbench.fetch import FetchError, Resource, downloads_dir, fetch

CONTENT = b"blues/blues.00000.wav\n"
RES = Resource("gtzan/list.txt", "owner/repo", "0" * 40, "gtzan/list.txt", hashlib.md5(CONTENT).hexdigest())


def test_local_copy_is_used_and_checked(tmp_path, monkeypatch):
    (tmp_path / "gtzan").mkdir()
    (tmp_path / "gtzan" / "list.txt").write_bytes(CONTENT)
    monkeypatch.setenv("MIRBENCH_SPLITS", str(tmp_path))
    assert fetch(RES).read_bytes() == CONTENT


def test_cached_copy_is_used(monkeypatch):
    monkeypatch.delenv("MIRBENCH_SPLITS", raising=False)
    path = downloads_dir() / RES.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CONTENT)
    assert fetch(RES) == path


def test_tampered_copy_is_rejected_naming_the_source(tmp_path, monkeypatch):
    (tmp_path / "gtzan").mkdir()
    (tmp_path / "gtzan" / "list.txt").write_bytes(CONTENT + b"extra\n")
    monkeypatch.setenv("MIRBENCH_SPLITS", str(tmp_path))
    with pytest.raises(FetchError, match=r"as published \(owner/repo @ 000000000000 : gtzan/list.txt\) has md5"):
        fetch(RES)


def test_download_failure_says_where_to_put_the_file(monkeypatch):
    monkeypatch.delenv("MIRBENCH_SPLITS", raising=False)
    missing = Resource("x/never.txt", "owner/repo", "0" * 40, "x/never.txt", "0" * 32)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(FetchError, match="copy the file") as info:
        fetch(missing)
    assert str(downloads_dir() / "x" / "never.txt") in str(info.value)
    assert not (downloads_dir() / "x" / "never.txt").exists()
