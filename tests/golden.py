"""Golden files: what a real input must produce, checked in beside the tests.

Set DIGEST_UPDATE_GOLDEN=1 to rewrite them from the current output, then review
the diff like any other change.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from digest.models import Parsed

GOLDEN_DIR = Path(__file__).parent / "golden"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def parsed_to_json(parsed: Parsed) -> dict[str, Any]:
    """A Parsed document as plain JSON data, every field spelled out."""
    result: dict[str, Any] = _jsonable(parsed)
    return result


def assert_golden(name: str, actual: Any) -> None:
    """Compare `actual` (JSON data) with tests/golden/<name>.json."""
    path = GOLDEN_DIR / f"{name}.json"
    text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run with DIGEST_UPDATE_GOLDEN=1 to create it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(text) == expected, f"output differs from {path}"


def assert_golden_text(name: str, actual: str) -> None:
    """Compare `actual` with tests/golden/<name> (HTML or plain text), character for
    character; a failure shows the first differences (HTML split between tags)."""
    path = GOLDEN_DIR / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.exists(), f"no golden file {path}; run with DIGEST_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    if actual == expected:
        return
    diff = difflib.unified_diff(_lines(expected), _lines(actual), str(path), "actual", n=1)
    shown = "\n".join(line.rstrip("\n") for line in list(diff)[:60])
    raise AssertionError(f"output differs from {path}:\n{shown}")


def _lines(text: str) -> list[str]:
    return text.replace("><", ">\n<").splitlines()
