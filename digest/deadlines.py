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
    """The deadline of one step at a time, over whatever socket `socket_of` names then.

    One guard thread serves every step of the deadline's life, started with the first:
    a thread started and joined per step cost more wall time than an SMTP message
    (0.25 ms on an idle machine, milliseconds on a busy one). `close()` stops it.
    """

    def __init__(
        self,
        seconds: float,
        should_stop: Callable[[], bool] = lambda: False,
        *,
        name: str = "deadline",
    ) -> None:
        self.seconds = seconds
        self.name = name  # of the guard thread
        self._should_stop = should_stop
        self._socket_of: Callable[[], socket.socket | None] = lambda: None
        self.expired = False
        self.cut_by_stop = False  # expired early because a stop was requested
        self._lock = threading.Lock()
        self._ends_at: float | None = None  # the step's deadline; None between steps
        self._closed = threading.Event()
        self._guard_thread: threading.Thread | None = None

    def watch(self, socket_of: Callable[[], socket.socket | None]) -> None:
        """What to shut down when the deadline passes: asked then, as sockets change
        (a STARTTLS wraps the first one, a redirect opens another)."""
        self._socket_of = socket_of

    @contextmanager
    def running(self) -> Iterator[None]:
        """Guard the block: it has `seconds` to finish."""
        with self._lock:
            self.expired = self.cut_by_stop = False
            self._ends_at = time.monotonic() + self.seconds
        if self._guard_thread is None:
            self._closed.clear()
            self._guard_thread = threading.Thread(
                target=self._guard_steps, name=self.name, daemon=True
            )
            self._guard_thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._ends_at = None

    def extend(self, seconds: float) -> None:
        """Give the step in flight `seconds` from now, if that is later than its deadline
        (a stop request still cuts it short)."""
        with self._lock:
            if self._ends_at is not None and not self.cut_by_stop:
                self._ends_at = max(self._ends_at, time.monotonic() + seconds)

    def close(self) -> None:
        """Stop the guard thread (a later step starts another)."""
        guard, self._guard_thread = self._guard_thread, None
        if guard is not None:
            self._closed.set()
            guard.join()

    def _guard_steps(self) -> None:
        while not self._closed.wait(_GUARD_TICK):
            with self._lock:
                if self._ends_at is not None:
                    self._check(time.monotonic())

    def _check(self, now: float) -> None:
        """Called with the lock held: shorten the step on a stop request, end it when
        its time is up (its socket shut down, so that the blocked read fails at once)."""
        assert self._ends_at is not None
        if self._should_stop() and now + STOP_GRACE_SECONDS < self._ends_at:
            self._ends_at, self.cut_by_stop = now + STOP_GRACE_SECONDS, True
        if now >= self._ends_at:
            self.expired, self._ends_at = True, None
            sock = self._socket_of()
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def describe(self) -> str:
        """Why the step was cut off, in a few words."""
        if self.cut_by_stop:
            return f"cut off {STOP_GRACE_SECONDS:g}s after the stop request"
        return f"no complete answer within {self.seconds:g}s"
