"""Stopping on request: SIGTERM and Ctrl-C ask a run to stop between messages.

The one signal handler of the program. A send run checks the event between messages, so
the message in flight is finished and recorded before the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("digest")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(
    announce: str,
    *,
    stop: threading.Event | None = None,
    then: Callable[[], None] | None = None,
) -> Iterator[threading.Event]:
    """While the block runs, SIGTERM and Ctrl-C set `stop` (a new event by default), log
    "<signal>: <announce>" and call `then`, instead of ending the process at once. The
    previous handlers come back when the block ends."""
    event = stop if stop is not None else threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.warning("%s: %s", signal.strsignal(signum), announce)
        event.set()
        if then is not None:
            then()

    previous = {number: signal.signal(number, request_stop) for number in STOP_SIGNALS}
    try:
        yield event
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
