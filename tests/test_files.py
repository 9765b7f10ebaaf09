"""Output files are written whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from digest.errors import DigestError
from digest.files import write_atomically


def test_a_file_is_written_whole_and_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "preview.html"
    target.write_bytes(b"old")
    write_atomically(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [path.name for path in tmp_path.iterdir()] == ["preview.html"]


def test_a_folder_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="cannot write"):
        write_atomically(tmp_path / "missing" / "preview.html", b"x")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "preview.html"
    target.write_bytes(b"old")
    (tmp_path / "dir.html").mkdir()  # replacing a directory with a file fails
    with pytest.raises(DigestError, match=r"dir\.html: cannot write"):
        write_atomically(tmp_path / "dir.html", b"new")
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dir.html", "preview.html"]


def test_a_new_file_gets_the_usual_permissions_and_a_replaced_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "preview.html"
        write_atomically(fresh, b"x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        fresh.chmod(0o600)
        write_atomically(fresh, b"y")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    finally:
        os.umask(umask)
