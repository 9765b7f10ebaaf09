"""What several benchmarks share: measured work run in a fresh process, peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.rank.encoder import Model


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_module(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module ARGS` in a fresh interpreter (this one's, from the same folder)
    and return the JSON object it prints; its stderr is shown when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def encoder_of(setting: str) -> Model | None:
    """The sentence encoder a --semantic-model setting names ("off", "auto", a folder, or
    several of them separated by commas, averaged): None for "off"; exits when a model
    it names is not installed."""
    from digest.rank.encoder import OFF, find_model, setting_encoder

    entries = setting.split(",")
    for entry in entries:
        if entry != OFF and find_model(entry) is None:
            raise SystemExit(f"--semantic-model {entry}: the model is not installed")
    return setting_encoder(entries)
