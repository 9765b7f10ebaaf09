"""Start-up: help and config errors answer without loading the heavy libraries.

`digest --help` and a bad config are what a newcomer meets first; each command loads
NumPy, SciPy, SQLAlchemy, MJML or httpx only when it runs and needs them. The time this
saves is measured by `python -m bench.startup_bench`, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = frozenset({"numpy", "scipy", "sqlalchemy", "mjml", "httpx", "feedparser", "rich"})


def imported_modules(*args: str, cwd: Path) -> tuple[int, set[str]]:
    """The exit code of `digest ARGS` in a fresh interpreter, and the top-level packages it
    imported (from `-X importtime`, which lists every module as it is first imported)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "digest", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result.returncode, names


@pytest.mark.parametrize(
    "args",
    [["--help"], ["collect", "--help"], ["send", "--help"], ["--version"]],
    ids=["help", "collect-help", "send-help", "version"],
)
def test_help_loads_none_of_the_heavy_libraries(args: list[str], tmp_path: Path) -> None:
    code, modules = imported_modules(*args, cwd=tmp_path)
    assert code == 0
    assert "click" in modules
    assert not modules & HEAVY


def test_a_config_error_loads_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text("[digest]\nmax_papers = 0\n", encoding="utf-8")
    code, modules = imported_modules("send", cwd=tmp_path)
    assert code == 2
    assert "pydantic" in modules, "the config was read"
    assert not modules & (HEAVY - {"rich"})


def test_a_command_loads_what_it_runs(tmp_path: Path, shared: Path) -> None:
    """The checks above would pass vacuously if the import list came back empty."""
    code, modules = imported_modules(
        "rank", str(shared / "seeds"), "--interests", "graphs", cwd=tmp_path
    )
    assert code == 0
    assert {"numpy", "scipy", "sqlalchemy", "pydantic"} <= modules


def test_collecting_for_ranking_by_words_loads_no_ranking_library(
    tmp_path: Path, shared: Path
) -> None:
    """`digest collect` encodes papers only with the sentence encoder; ranking by words
    (the tests' setting) it stores papers and nothing of NumPy or SciPy loads."""
    dump = next((shared / "seeds").glob("*.txt"))
    code, modules = imported_modules("collect", str(dump), "--db", "digest.db", cwd=tmp_path)
    assert code == 0
    assert "sqlalchemy" in modules, "the papers were stored"
    assert not modules & {"numpy", "scipy", "threadpoolctl"}
