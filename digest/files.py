"""Writing output files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from digest.errors import DigestError


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it: a crash or a full disk
    never leaves a half-written file, and an existing one stays until the new one is whole."""
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
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise DigestError(f"{path}: cannot write ({error.strerror})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
