"""The layout is the design: each library is imported by the one stage that owns it, and
the README's module map is the tree as it is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "digest"

# Each third-party library (or risky standard module), and the only place that imports it.
OWNERS: dict[str, str | tuple[str, ...]] = {
    "sqlalchemy": "digest/state/",
    "smtplib": "digest/mail/transport.py",
    "mjml": "digest/mail/render.py",
    # The email's templates, and the pages of `digest serve`.
    "jinja2": ("digest/mail/render.py", "digest/web/pages.py"),
    "starlette": "digest/web/",
    "uvicorn": "digest/web/server.py",
    # BLAS on one thread, for the eigensolver and the sentence encoder.
    "threadpoolctl": ("digest/rank/text_index.py", "digest/rank/encoder.py"),
    "apscheduler": "digest/pipeline/schedule.py",
    "httpx": "digest/collect/fetch.py",
    "feedparser": "digest/collect/feed.py",
    "charset_normalizer": "digest/collect/dump.py",
    "numpy": "digest/rank/",
    "scipy": "digest/rank/",
    "Stemmer": "digest/rank/text_index.py",
    # The sentence encoder's tokenizer and weights.
    "tokenizers": "digest/rank/encoder.py",
    "safetensors": "digest/rank/encoder.py",
    "pydantic": "digest/config.py",
    "pydantic_settings": "digest/config.py",
    "rich": "digest/cli/output.py",
    "click": "digest/cli/",
    "signal": "digest/pipeline/stopping.py",
    "dkim": "digest/mail/signing.py",
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_library_is_imported_by_its_owner_alone(library: str) -> None:
    importers = [
        str(path.relative_to(ROOT)) for path in modules() if library in imported_top_levels(path)
    ]
    assert importers, f"nothing imports {library}: the table above is out of date"
    strangers = [name for name in importers if not name.startswith(OWNERS[library])]
    assert not strangers, f"{library} belongs to {OWNERS[library]}, not {strangers}"


def readme_module_map() -> set[str]:
    """The files named in the README's architecture tree (indentation gives the folder)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Architecture", 1)[1]
    block = section.split("```", 2)[1]
    folders: list[tuple[int, str]] = []
    files = set()
    for line in block.splitlines():
        match = re.match(r"^( *)(\S+)", line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        folders = [(depth, folder) for depth, folder in folders if depth < indent]
        prefix = "".join(folder for _, folder in folders)
        if name.endswith("/"):
            folders.append((indent, name))
        elif name.endswith(".py"):
            files.add(prefix + name)
    return files


def test_the_readme_module_map_is_the_tree() -> None:
    listed = {name for name in readme_module_map() if name.startswith("digest/")}
    actual = {
        str(path.relative_to(ROOT))
        for path in modules()
        if path.name not in ("__init__.py", "__main__.py") or path.parent.name == "cli"
    }
    assert sorted(actual - listed) == [], "modules missing from the README's map"
    assert sorted(listed - actual) == [], "the README's map names modules that do not exist"
