"""The environment of the commands tests start."""

from __future__ import annotations

import os

# Rank by words alone unless a test asks for the sentence encoder (tests/test_semantic.py):
# expected picks and golden emails must not depend on whether the optional model is
# installed.
WORDS_ONLY = {"DIGEST_DIGEST__SEMANTIC_MODEL": "off"}


def clean_environment() -> dict[str, str]:
    """This process's environment without its DIGEST_* settings, ranking by words alone."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DIGEST_")}
    return kept | WORDS_ONLY
