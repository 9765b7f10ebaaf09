"""Where papers come from: a named source and the concrete files or URLs it stands for."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from digest.errors import SourceError

# Notes kept beside data (like seeds/README.md) are not sources.
_NOT_SOURCES = (".md",)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as configured or given on the command line; `kind` "auto" detects it."""

    name: str
    location: str
    kind: str = "auto"


def is_url(location: str) -> bool:
    """Whether a location is an http(s) URL (the scheme in any case: "HTTP://" too)."""
    return location[:8].lower().startswith(("http://", "https://"))


def expand(location: str) -> list[str]:
    """The concrete locations behind one: a URL or file as is, a directory's files, a glob's
    matches, in sorted order. Raises SourceError when it names nothing readable."""
    try:
        return _expand(location)
    except OSError as error:  # a name too long, a folder that cannot be entered or listed
        raise SourceError(f"cannot read ({error.strerror or error})") from None


def _expand(location: str) -> list[str]:
    if is_url(location):
        return [location]
    path = Path(location).expanduser()
    if path.is_dir():
        files = [
            str(child)
            for child in sorted(path.iterdir())
            if _is_visible_file(child) and child.suffix not in _NOT_SOURCES
        ]
        if not files:
            raise SourceError("directory holds no source files")
        return files
    if path.exists():
        return [str(path)]
    if glob.has_magic(location):
        # glob.glob, not Path.glob: the pattern may be absolute or climb out with "..".
        matches = [
            match
            for match in sorted(glob.glob(str(path)))  # noqa: PTH207
            if _is_visible_file(Path(match))
        ]
        if not matches:
            raise SourceError("no file matches")
        return matches
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", location)
    if scheme:  # ftp://, file://, s3:// ...: not a file name either
        raise SourceError(f"{scheme.group(1)}:// is not fetched: give an http(s) URL or a path")
    raise SourceError("no such file or directory")


def _is_visible_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".")
