"""`digest serve`'s site running in a thread of the test, on a port the system picks.

`with running_site(settings_for, store) as site:` listens first, so the settings can
name the real address (`settings_for(base_url)`), then serves until the block ends.
`store_with_a_paper(folder)` is a database holding the one paper the tests vote on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.models import Paper, Sighting
from digest.state.store import Store
from digest.web.server import listen, make_server

PAPER = Paper(title="Graph Transformers at Scale", abstract="We scale.", arxiv_id="2512.00001")
PAPER_ID = "arxiv:2512.00001"


@contextmanager
def store_with_a_paper(folder: Path) -> Iterator[Store]:
    """A new SQLite database in `folder` holding `PAPER`."""
    seen = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    with Store(f"sqlite:///{folder / 'digest.db'}") as store:
        sighting = Sighting(source="t", location="t", position=1, listed_on=None, seen_at=seen)
        store.papers.save([(PAPER, sighting)], now=seen)
        yield store


@dataclass(frozen=True)
class Site:
    base_url: str  # http://127.0.0.1:PORT
    settings: Settings


@contextmanager
def running_site(
    settings_for: Callable[[str], Settings], store: Store, **options: Any
) -> Iterator[Site]:
    """The site on a port of its own, until the block ends (`options`: `now`, its clock)."""
    listener = listen("127.0.0.1", 0)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = settings_for(base)
    server = make_server(settings, store, **options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the site did not start")
            time.sleep(0.01)
        yield Site(base, settings)
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
