"""Output files are written whole or not at all."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
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
    # A real failure mid-write: a process whose files may not grow past 10 bytes.
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from digest.errors import DigestError\n"
        "from digest.files import write_atomically\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))\n"
        "try:\n"
        "    write_atomically(Path(sys.argv[1]), b'new contents, too long')\n"
        "except DigestError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"{target}: cannot write (File too large)\n"
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["preview.html"]


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


def test_a_device_a_fifo_or_a_symlink_is_never_replaced_by_a_plain_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real = tmp_path / "real.html"
    real.write_bytes(b"kept")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    for target, cause in ((fifo, "not a regular file"), (link, "is a symbolic link")):
        with pytest.raises(DigestError, match=cause):
            write_atomically(target, b"new")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert real.read_bytes() == b"kept"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link.html", "pipe", "real.html"]


def test_render_to_dev_full_fails_and_leaves_it_a_device(tmp_path: Path, shared: Path) -> None:
    from tests.test_collect_cli import digest

    result = digest("render", str(shared / "seeds"), "--out", "/dev/full", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: /dev/full: not a regular file; not replaced\n"
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)
