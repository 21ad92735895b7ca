"""Render a local HTML file in headless Chromium and inspect it (test helper, stdlib only).

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe``: Chromium reads
NUL-terminated JSON messages on fd 3 and writes its replies and events on fd 4, so no port,
no websocket library and no network is needed. :func:`render` returns a full-page screenshot,
the bounding box and decode state of every ``img[data-plot]``, the console errors and
uncaught exceptions, and every URL the page requested.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)

PLOTS_JS = """
(async () => {
  const imgs = Array.from(document.querySelectorAll('img[data-plot]'));
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => true, () => false)));
  return JSON.stringify({
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    plots: imgs.map((i, k) => {
      const r = i.getBoundingClientRect();
      return {name: i.dataset.plot, decoded: decoded[k], complete: i.complete,
              naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
              x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height};
    }),
  });
})()
"""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary (``$OFFERWISE_CHROMIUM`` first), or None."""
    env = os.environ.get("OFFERWISE_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_or_skip() -> str:
    """The Chromium binary, or skip the test (fail under ``CI=true``: CI installs Chromium)."""
    import pytest

    path = find_chromium()
    if path is None:
        msg = "headless Chromium not found (apt-get install -y chromium, or set OFFERWISE_CHROMIUM)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " -- required in CI")
        pytest.skip(msg)
    return path


class CDPError(RuntimeError):
    """The browser returned an error, closed the pipe or did not answer in time."""


class Browser:
    """A headless Chromium driven over the DevTools pipe. Use as a context manager."""

    def __init__(self, binary: str, timeout: float = 30.0):
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._id = 0
        self._buf = b""
        self._profile = tempfile.mkdtemp(prefix="offerwise-chromium-")
        to_child_r, self._w = os.pipe()  # we write commands -> child's fd 3
        self._r, from_child_w = os.pipe()  # child's fd 4 -> we read replies

        def fds() -> None:  # runs in the child: move the pipe ends onto fds 3 and 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            preexec_fn=fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except CDPError:
                    pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def _recv(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for the browser")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise CDPError(f"browser closed the pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._w, json.dumps(msg).encode() + b"\0")
        except OSError as exc:
            raise CDPError(f"cannot write to the browser: {exc}") from exc
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._recv(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(
        self, method: str, session: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Wait for (or find among those already received) an event of ``method``."""
        for e in self.events:
            if e["method"] == method and (session is None or e.get("sessionId") == session):
                return e
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._recv(deadline)
            if "method" in m:
                self.events.append(m)
                if m["method"] == method and (session is None or m.get("sessionId") == session):
                    return m


@dataclass
class Rendered:
    """What the page looked like: ``screenshot`` PNG bytes of the full page (CSS px = image px)."""

    screenshot: bytes
    width: int
    height: int
    plots: list[dict[str, Any]]
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _errors(events: list[dict[str, Any]], session: str) -> list[str]:
    out = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(
                "console."
                + p["type"]
                + ": "
                + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            )
        elif e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append("uncaught: " + str(d.get("exception", {}).get("description", d.get("text"))))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            ent = p["entry"]
            out.append(f"log: {ent.get('text')} {ent.get('url', '')}".strip())
    return out


def render(path: Path, binary: str, width: int = 1400, timeout: float = 40.0) -> Rendered:
    """Open ``path`` (a local file) at ``width`` CSS px and capture the full page."""
    import base64

    with Browser(binary, timeout=timeout) as b:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable", session=sid)
        b.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=sid,
        )
        b.events.clear()
        b.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=sid)
        b.wait_event("Page.loadEventFired", session=sid)

        def measure() -> dict[str, Any]:
            r = b.send(
                "Runtime.evaluate",
                {"expression": PLOTS_JS, "awaitPromise": True, "returnByValue": True},
                session=sid,
            )
            if "exceptionDetails" in r:
                raise CDPError(f"page script failed: {r['exceptionDetails']}")
            return json.loads(r["result"]["value"])

        info = measure()
        height = int(min(info["height"], 30000))
        b.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=sid,
        )
        info = (
            measure()
        )  # boxes after the resize (the width did not change, so neither did the layout)
        shot = b.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "fromSurface": True},
            session=sid,
        )
        requests = [
            e["params"]["request"]["url"]
            for e in b.events
            if e["method"] == "Network.requestWillBeSent" and e.get("sessionId") == sid
        ]
        return Rendered(
            screenshot=base64.b64decode(shot["data"]),
            width=width,
            height=height,
            plots=info["plots"],
            console_errors=_errors(b.events, sid),
            requests=requests,
        )
