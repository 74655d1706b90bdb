"""Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe): no selenium,
no playwright, only the Debian `chromium` package. Imported by the browser tests like helpers.

`open_page` loads a file:// page with the network blocked (a proxy that refuses every
connection), waits until the page says it is done, and returns what a test needs: console
errors and uncaught exceptions, every request that left the file system, the value of a
JavaScript probe, and a PNG screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium_path() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageResult:
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    probe: Any = None  # the value of the `probe` expression once `ready` held
    screenshot: bytes = b""


class _Pipe:
    """The DevTools protocol over fds 3 (commands in) and 4 (replies out), NUL-separated JSON."""

    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.out, self.inp = proc, os.fdopen(to_browser, "wb"), os.fdopen(from_browser, "rb")
        self.next_id, self.buffer, self.events = 0, b"", []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.out.write(json.dumps(msg).encode() + b"\0")
        self.out.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.inp.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)


def _collect(events: list[dict], result: PageResult) -> None:
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            result.errors.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            result.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            result.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            result.requests.append(p["request"]["url"])
    events.clear()


def open_page(url: str, ready: str, probe: str, timeout: float = 60.0, width: int = 1280) -> PageResult:
    """Load `url`, poll the JS expression `ready` until true, evaluate `probe` (JSON-serialisable)."""
    binary = chromium_path()
    assert binary, "chromium not installed"
    profile = tempfile.mkdtemp(prefix="p360-chromium-")
    cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads fd 3
    out_r, out_w = os.pipe()  # chromium writes fd 4, we read
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--remote-debugging-pipe",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "about:blank",
    ]

    def child_fds() -> None:
        os.dup2(cmd_r, 3)
        os.dup2(out_w, 4)

    proc = subprocess.Popen(
        args, pass_fds=(3, 4), preexec_fn=child_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    os.close(cmd_r)
    os.close(out_w)
    pipe = _Pipe(proc, cmd_w, out_r)
    result = PageResult()
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.send("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + timeout
        while True:
            loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
            done = pipe.send(
                "Runtime.evaluate", {"expression": f"{loaded} && !!({ready})", "returnByValue": True}, session=session
            )
            if done.get("result", {}).get("value") is True:
                break
            if time.monotonic() > deadline:
                result.errors.append(f"timed out after {timeout:.0f} s waiting for: {ready}")
                break
            time.sleep(0.2)
        value = pipe.send(
            "Runtime.evaluate", {"expression": f"JSON.stringify({probe})", "returnByValue": True}, session=session
        )
        result.probe = json.loads(value.get("result", {}).get("value") or "null")
        shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        result.screenshot = base64.b64decode(shot["data"])
        time.sleep(0.2)
        pipe.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush late events
        _collect(pipe.events, result)
    finally:
        with contextlib.suppress(RuntimeError, OSError, ValueError):
            pipe.send("Browser.close")
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return result


def save_screenshot(result: PageResult, path: Path) -> Path:
    path.write_bytes(result.screenshot)
    return path
