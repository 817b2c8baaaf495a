"""Headless Chromium driven over the DevTools protocol, for tests that look at an HTML page.

Chromium talks CDP over a pipe (``--remote-debugging-pipe``: it reads commands on fd 3 and
writes replies on fd 4, each message JSON ended by a NUL byte), so no port is opened and no
client library is needed. :meth:`Browser.open` loads a page at a given window width and gathers
what the page did: every request it made, console errors, uncaught exceptions and log errors
(a Content-Security-Policy violation is one).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Browser", "BrowserMissingError", "Page", "find_chromium"]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
_TIMEOUT = 60.0


class BrowserMissingError(RuntimeError):
    """No Chromium on PATH."""


def find_chromium() -> str:
    """The Chromium executable; BrowserMissingError saying how to install it when absent."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissingError(
        "these tests render HTML in headless Chromium, and no 'chromium' is on PATH: install "
        "it (Debian: apt-get install -y chromium; .ci/run does this)"
    )


@dataclass
class Page:
    """A loaded page: query its DOM with :meth:`evaluate`, screenshot it with :meth:`screenshot`."""

    browser: Browser
    session: str
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the page."""
        reply = self.browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def emulate_print(self) -> None:
        """Apply the page's print styles (CSS ``@media print``) from now on."""
        self.browser.call("Emulation.setEmulatedMedia", {"media": "print"}, self.session)

    def pdf(self) -> bytes:
        """The page printed to PDF, as Chromium's print dialog would."""
        reply = self.browser.call("Page.printToPDF", {"printBackground": True}, self.session)
        return base64.b64decode(reply["data"])

    def screenshot(self, path: Path) -> Path:
        """Write a PNG of the whole page (not only the window) to ``path``."""
        reply = self.browser.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            self.session,
        )
        path.write_bytes(base64.b64decode(reply["data"]))
        return path


class Browser:
    """One headless Chromium process; use as a context manager."""

    def __init__(self) -> None:
        self.executable = find_chromium()
        self._profile = tempfile.TemporaryDirectory(prefix="streamtape-chromium-")
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        # the child's fds 3 and 4 are dup2 targets: keep the sources clear of those numbers
        commands_r, replies_w = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_r, replies_w)
        )
        args = [self.executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        self.pid = os.posix_spawn(
            self.executable,
            args,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, commands_r, 3),
                (os.POSIX_SPAWN_DUP2, replies_w, 4),
            ],
        )
        os.close(commands_r)
        os.close(replies_w)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self._commands)
        os.close(self._replies)
        self._profile.cleanup()

    # -- the protocol --

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command and wait for its reply; events that come meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def _read(self, timeout: float = _TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            data = os.read(self._replies, 1 << 20)
            if not data:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += data
        message, _, self._buffer = self._buffer.partition(b"\0")
        result: dict[str, Any] = json.loads(message)
        return result

    def wait_for(self, method: str, session: str, timeout: float = _TIMEOUT) -> dict[str, Any]:
        """The next event ``method`` of ``session`` (already received, or read until it comes)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method and event.get("sessionId") == session:
                    self.events.remove(event)
                    return event
            message = self._read(max(0.0, deadline - time.monotonic()))
            if "method" in message:
                self.events.append(message)

    # -- pages --

    def open(self, path: Path, width: int, height: int = 900) -> Page:
        """Load ``path`` in a new tab of ``width`` x ``height`` CSS pixels (phone-like below
        600), wait for its load event, and return the page with what it requested and logged."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session,
        )
        url = path.resolve().as_uri()
        self.call("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        self.call("Runtime.evaluate", {"expression": "1"}, session)  # let queued events arrive
        page = Page(self, session, url)
        for event in [e for e in self.events if e.get("sessionId") == session]:
            params = event["params"]
            if event["method"] == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif event["method"] == "Runtime.exceptionThrown":
                page.errors.append(str(params["exceptionDetails"]))
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] == "error":
                page.errors.append(str(params["args"]))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                page.errors.append(params["entry"]["text"])
        return page
