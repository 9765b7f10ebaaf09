"""Writing output files whole or not at all."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from digest.errors import DigestError


class UnreadableFile(Exception):
    """A file that is not a regular file, or larger than the limit; `cause` says which."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. A FIFO or a device is refused
    (it could block forever, or never end) and so is a larger file: UnreadableFile. An
    OSError from the file system passes through."""
    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer before any check.
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise UnreadableFile("not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit // 2**20} MB")
    return data


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it: a crash or a full disk
    never leaves a half-written file, and an existing one stays until the new one is whole.
    Only a regular file is ever replaced: never a symlink, a device or a FIFO."""
    _refuse_special(path)
    _write_through_temporary(path, data, Path.replace)


def _refuse_special(path: Path) -> None:
    # A rename would put a plain file where the link or the device was (`--out /dev/full`
    # once replaced /dev/full and said it had written the email).
    if path.is_symlink():
        raise DigestError(f"{path}: is a symbolic link; not replaced")
    if path.exists() and not path.is_file():
        raise DigestError(f"{path}: not a regular file; not replaced")


def create_new(path: Path, data: bytes) -> None:
    """Write `data` to `path`, which must not exist: whole or not at all, and never over a
    file, even one that appears meanwhile (a hard link to the written file fails then)."""
    if path.exists():
        raise DigestError(f"{path}: already exists; not overwritten")
    try:
        _write_through_temporary(path, data, os.link)
    except FileExistsError:
        raise DigestError(f"{path}: already exists; not overwritten") from None


def _write_through_temporary(
    path: Path, data: bytes, put_in_place: Callable[[Path, Path], object]
) -> None:
    """Write a temporary file beside `path`, flushed to disk, then `put_in_place(temporary,
    path)`; the temporary is gone afterwards whatever happens."""
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise DigestError(f"{path}: cannot write ({error.strerror})") from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600): give it the mode a new file would have,
        # or the mode of the file it replaces.
        temporary.chmod(_mode_for(path))
        put_in_place(temporary, path)
    except FileExistsError:
        raise
    except OSError as error:
        raise DigestError(f"{path}: cannot write ({error.strerror})") from None
    finally:
        temporary.unlink(missing_ok=True)


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
