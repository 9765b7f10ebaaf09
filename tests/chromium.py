"""Headless Chromium for tests, driven over the Chrome DevTools Protocol on a pipe.

`with Chromium() as browser:` starts Debian's /usr/bin/chromium with
`--remote-debugging-pipe`: the protocol runs over two pipes (the browser reads commands
on its fd 3 and writes answers and events on its fd 4, each message JSON ending in a
NUL byte), so there is no port, no websocket library and no driver binary, and nothing
is downloaded. `browser.page(width, height)` opens a tab; the tab's `call` sends one
command and returns its result. Leaving the `with` block closes the browser, kills it
if it does not go within a few seconds, and removes its profile folder.

The binary is never skipped: when it is missing, `Chromium()` raises `ChromiumMissing`
with the install command, and tests fail with that message.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
TIMEOUT = 15.0


class ChromiumMissing(RuntimeError):
    """Chromium is not installed where the tests look for it."""


class ChromiumError(RuntimeError):
    """The browser answered a command with an error, died, or did not answer in time."""


class Chromium:
    """One headless Chromium process and its pipe: a context manager."""

    def __init__(self, binary: Path = CHROMIUM, *, timeout: float = TIMEOUT) -> None:
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise ChromiumMissing(
                f"{binary} is missing: the browser tests need Debian's Chromium "
                "(apt-get install -y chromium; .ci/run installs it)"
            )
        self.binary = binary
        self.timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._send_fd = -1
        self._recv_fd = -1
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.stderr_path: Path | None = None

    # --- lifetime --------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="digest-chromium-")
        # Commands: we write to_browser_w, the browser reads its fd 3. Answers: the
        # browser writes its fd 4, we read from_browser_r. Its ends are first copied to
        # numbers of 10 and up, so that moving them to 3 and 4 can clobber neither.
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        self._send_fd, self._recv_fd = to_browser_w, from_browser_r
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        self.stderr_path = Path(self._profile) / "stderr.log"
        command = [str(self.binary), *FLAGS, f"--user-data-dir={self._profile}", "about:blank"]

        def move_ends() -> None:
            # In the child only. dup2 makes inheritable copies; every fd Python opens is
            # non-inheritable, so nothing else reaches the browser. close_fds=False, else
            # subprocess would close 3 and 4 after this runs.
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        try:
            with self.stderr_path.open("wb") as stderr:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    close_fds=False,
                    preexec_fn=move_ends,
                    # Crash reports and caches go into the throwaway profile, not ~.
                    env={
                        **os.environ,
                        "XDG_CONFIG_HOME": self._profile,
                        "XDG_CACHE_HOME": self._profile,
                    },
                    start_new_session=True,
                )
        finally:
            for fd in ends:
                os.close(fd)
        self.call("Browser.getVersion")

    def close(self) -> None:
        """Ask the browser to quit, kill it (its whole process group) if it lingers."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ChromiumError, OSError):
                self._send({"id": self._take_id(), "method": "Browser.close"})
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(timeout=5)
        if process is not None:
            _end_group(process.pid)
        for fd in (self._send_fd, self._recv_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._send_fd = self._recv_fd = -1
        self._process = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    # --- protocol --------------------------------------------------------------------

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._send_fd, data)
            data = data[written:]

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer from Chromium within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._recv_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium closed its pipe; its log: {self.log()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result; events met meanwhile are kept."""
        message: dict[str, Any] = {"id": self._take_id(), "method": method}
        message["params"] = params or {}
        if session is not None:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def wait_for(self, method: str, *, session: str | None = None) -> dict[str, Any]:
        """Wait for the next event named `method` (of `session`) and return its params."""
        deadline = time.monotonic() + self.timeout
        while True:
            for number, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    del self._events[number]
                    params: dict[str, Any] = event.get("params", {})
                    return params
            answer = self._receive(deadline)
            if "method" in answer:
                self._events.append(answer)

    def log(self) -> str:
        """The browser's stderr so far, for error messages."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")[-2000:]

    def page(self, width: int, height: int) -> Page:
        """A new tab whose viewport is `width` x `height` CSS pixels, at scale 1."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, attached["sessionId"], width, height)
        page.call("Page.enable")
        page.resize(width, height)
        return page


def _end_group(group: int, grace: float = 3.0) -> None:
    """Wait for Chromium's helpers (zygote, renderers: its process group) to go; kill
    whatever is left after `grace` seconds."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, 9)


class Page:
    """One tab of a `Chromium`, attached in flat mode."""

    def __init__(self, browser: Chromium, session: str, width: int, height: int) -> None:
        self.browser = browser
        self.session = session
        self.width = width
        self.height = height

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, session=self.session)

    def resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def goto(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        self.browser._events.clear()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise ChromiumError(f"cannot load {url}: {result['errorText']}")
        self.browser.wait_for("Page.loadEventFired", session=self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if a promise), as JSON."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise ChromiumError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the viewport, or of the whole page at the viewport's width."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = self.evaluate("document.documentElement.scrollHeight")
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
