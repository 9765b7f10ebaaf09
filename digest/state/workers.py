"""Which process holds a claim, and whether it is still alive.

A worker is named "host:pid:start", start being the process's start time as the kernel
counts it, so that a pid reused by another process after a crash is not mistaken for the
worker that died. DIGEST_WORKER_HOST names the host instead of its host name: for
containers that share one, and for tests that play several machines on one.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.rsplit(")", 1)[1].split()[19]


def this_host() -> str:
    """The name this host's workers go by."""
    return os.environ.get("DIGEST_WORKER_HOST") or socket.gethostname()


def this_worker() -> str:
    pid = os.getpid()
    return f"{this_host()}:{pid}:{_start_time(pid) or '?'}"


def is_dead(worker: str) -> bool:
    """Whether the worker is known to be gone: a process of this host that no longer runs.

    A worker of another host is never declared dead here: its claim stands until it
    releases it or an operator clears it.
    """
    host, _, rest = worker.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != this_host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return start not in ("?", _start_time(pid))
