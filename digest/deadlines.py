"""Overall deadlines for network steps: a socket timeout restarts with every byte, so a
server dripping one byte a second could hold a step for hours. A guard thread shuts the
step's socket down when its deadline passes (or soon after a stop is requested), and the
blocked read fails at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

# Once a stop is requested, the step in flight gets this long to finish.
STOP_GRACE_SECONDS = 3.0
# How often a guard looks at the clock and at a stop request.
_GUARD_TICK = 0.1


class Deadline:
    """The deadline of one step at a time, over whatever socket `socket_of` names then."""

    def __init__(
        self,
        seconds: float,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.seconds = seconds
        self._should_stop = should_stop
        self._socket_of: Callable[[], socket.socket | None] = lambda: None
        self.expired = False
        self.cut_by_stop = False  # expired early because a stop was requested

    def watch(self, socket_of: Callable[[], socket.socket | None]) -> None:
        """What to shut down when the deadline passes: asked then, as sockets change
        (a STARTTLS wraps the first one, a redirect opens another)."""
        self._socket_of = socket_of

    @contextmanager
    def running(self) -> Iterator[None]:
        """Guard the block: it has `seconds` to finish."""
        self.expired = self.cut_by_stop = False
        done = threading.Event()
        guard = threading.Thread(target=self._guard, args=(done,), daemon=True)
        guard.start()
        try:
            yield
        finally:
            done.set()
            guard.join()

    def _guard(self, done: threading.Event) -> None:
        deadline = time.monotonic() + self.seconds
        while not done.wait(_GUARD_TICK):
            now = time.monotonic()
            if self._should_stop() and now + STOP_GRACE_SECONDS < deadline:
                deadline, self.cut_by_stop = now + STOP_GRACE_SECONDS, True
            if now >= deadline:
                self.expired = True
                sock = self._socket_of()
                if sock is not None:
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return

    def describe(self) -> str:
        """Why the step was cut off, in a few words."""
        if self.cut_by_stop:
            return f"cut off {STOP_GRACE_SECONDS:g}s after the stop request"
        return f"no complete answer within {self.seconds:g}s"
