from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.environment import WORDS_ONLY
from tests.golden import SHARED
from tests.httpserver import feed_server  # noqa: F401  (the local feed server fixture)
from tests.pgserver import postgres_server, postgres_url  # noqa: F401  (PostgreSQL fixtures)
from tests.smtpserver import smtp_server, tls_files  # noqa: F401  (local SMTP server fixtures)

# Set here, so that the commands tests start inherit it too.
os.environ.update(WORDS_ONLY)
# The user's cache (vectors kept by previews, `digest.state.vector_cache`) is never the
# real one: one folder per test process, gone with it.
_CACHE = tempfile.TemporaryDirectory(prefix="digest-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE.name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: the other workers fill in around them instead of waiting at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder beside the checkout, with the real seed dumps and feeds."""
    if not (SHARED / "seeds").is_dir():
        pytest.fail(f"{SHARED} is missing: the tests need ../shared beside the checkout")
    return SHARED
