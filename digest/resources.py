"""Package data: the built-in templates and the sample listings, wherever the package is.

An installed wheel carries the repository's top-level `templates/` as `digest/templates`
(mapped at build time, see pyproject.toml); a source checkout, or an editable install of
one, has them beside the package instead. Both are found here, so nothing else needs to
know how the package was installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def _packaged(name: str) -> Path | None:
    # Wheels install as plain files: their resources are paths (a zipped package is not
    # supported, as Jinja's loader and the collector read files).
    found = files("digest") / name
    return found if isinstance(found, Path) and found.is_dir() else None


def builtin_templates() -> Path:
    """The folder of the built-in templates (digest.mjml, paper.mjml, digest.txt)."""
    return _packaged("templates") or _CHECKOUT / "templates"


def sample_listings() -> list[Path]:
    """The sample listing dumps that ship with the package, in name order."""
    folder = files("digest") / "data" / "samples"
    assert isinstance(folder, Path), "the package is installed as plain files"
    return sorted(path for path in folder.iterdir() if path.suffix == ".txt")
