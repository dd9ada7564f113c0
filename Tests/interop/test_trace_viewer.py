"""The local trace store seen by a person: `gatehouse traces list|show` and the viewer at /ui, on the contract
sample samples/agent-tracing.yaml after one agent run (openai SDK + mcp 2.x, as in test_tracing.py).

The viewer is checked over HTTP (admin token as a Bearer header or as the cookie POST /ui/login sets; without
it, a redirect to the login page) and rendered in headless Chromium driven over the DevTools protocol: the
waterfall of the run must show every span, and its screenshot is kept at
.build/interop-artifacts/trace-viewer.png for a person to look at.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from conftest import REPO_ROOT
from tracing_support import (
    CHAT_NAME,
    ROOT_NAME,
    TOOL,
    UPSTREAM_TOOL,
    AgentRun,
    TracingStack,
    kill_process_group,
    reset_fake,
    run_openai_agent,
    tracing_module_stack,
    wait_stored,
    wait_trace,
)

pytestmark = [pytest.mark.tracing, pytest.mark.llm, pytest.mark.mcp]

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = (1280, 900)
ARTIFACT = REPO_ROOT / ".build" / "interop-artifacts" / "trace-viewer.png"
SERVER_SPAN = f"tools/call {TOOL}"
HOP_SPAN = f"tools/call {UPSTREAM_TOOL}"
SPAN_NAMES = (ROOT_NAME, CHAT_NAME, SERVER_SPAN, HOP_SPAN)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracingStack]:
    yield from tracing_module_stack(tmp_path_factory, "viewer")


@pytest.fixture(scope="module")
def run(stack: TracingStack) -> AgentRun:
    reset_fake(stack.fake)
    tag = uuid.uuid4().hex[:10]
    stack.fake.tool_arguments = {"title": f"Viewer {tag}", "body": "Look at this run."}
    try:
        return run_openai_agent(stack, "Add a note for the viewer.")
    finally:
        reset_fake(stack.fake)


@pytest.fixture(scope="module")
def trace_id(stack: TracingStack, run: AgentRun) -> str:
    """The run's trace id, as the collector got it, once the local store holds the run's root too."""
    trace = wait_trace(stack.otlp, run, "OTLP collector")
    wait_stored(stack, next(span["span_id"] for span in trace if not span["parent_span_id"]))
    return trace[0]["trace_id"]


def traces_command(stack: TracingStack, *args: str) -> str:
    """`gatehouse traces ARGS --config samples/agent-tracing.yaml` next to the gateway: its output (exit 0)."""
    done = stack.gatehouse("traces", *args, "--config", "samples/agent-tracing.yaml")
    assert done.returncode == 0, f"traces {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


# --- The CLI --------------------------------------------------------------------------------------


def test_traces_list_and_show_print_the_run_as_an_indented_tree(stack: TracingStack, trace_id: str) -> None:
    listing = traces_command(stack, "list")
    lines = [line for line in listing.splitlines() if trace_id in line]
    assert len(lines) == 1, f"`traces list` should list {trace_id} once:\n{listing}"
    assert "demo" in lines[0], f"the run's line does not name its agent: {lines[0]!r}"

    shown = traces_command(stack, "show", trace_id)
    lines = shown.splitlines()

    def columns(name: str) -> list[int]:
        """Where `name` starts on each line naming that span (the name followed by the end or a space)."""
        found = []
        for text in lines:
            at = text.find(name)
            if at >= 0 and text[at + len(name) : at + len(name) + 1] in ("", " "):
                found.append(at)
        return found

    root, chats, server, hop = columns(ROOT_NAME), columns(CHAT_NAME), columns(SERVER_SPAN), columns(HOP_SPAN)
    output = "\n" + shown
    assert len(root) == 1 and len(chats) == 2 and len(server) == 1 and len(hop) == 1, output
    # Indented by depth: the run, its three children at one depth, the hop under the tool call.
    assert root[0] < chats[0] == chats[1] == server[0] < hop[0], f"columns {root} {chats} {server} {hop}:{output}"
    # In start order: chat, tool call (with its hop right under it), chat.
    named = [name for text in lines for name in SPAN_NAMES if name in text]
    assert named == [ROOT_NAME, CHAT_NAME, SERVER_SPAN, HOP_SPAN, CHAT_NAME], f"{named}:{output}"


# --- /ui over HTTP --------------------------------------------------------------------------------


def test_the_viewer_needs_the_admin_token_and_lists_the_run(stack: TracingStack, trace_id: str) -> None:
    with httpx.Client(base_url=stack.gateway.url, trust_env=False, timeout=30.0, follow_redirects=False) as client:
        for path in ("/ui", f"/ui/runs/{trace_id}"):
            anonymous = client.get(path)
            assert anonymous.status_code == 303, (path, anonymous.status_code, anonymous.text[:300])
            assert urllib.parse.urlsplit(anonymous.headers["location"]).path == "/ui/login", anonymous.headers
            wrong = client.get(path, headers={"Authorization": "Bearer not-the-token"})
            assert wrong.status_code in (303, 401), (path, wrong.status_code)
            assert trace_id not in wrong.text
            agent = client.get(path, headers=stack.agent_headers)
            assert agent.status_code in (303, 401, 403), f"an agent key opened {path}: {agent.status_code}"

        listing = client.get("/ui", headers=stack.admin_headers)
        assert listing.status_code == 200, listing.text[:500]
        assert listing.headers["content-type"].startswith("text/html"), listing.headers
        assert trace_id in listing.text, listing.text[:2000]
        assert stack.admin_token not in listing.text

        page = client.get(f"/ui/runs/{trace_id}", headers=stack.admin_headers)
        assert page.status_code == 200, page.text[:500]
        assert page.headers["content-type"].startswith("text/html"), page.headers
        for name in SPAN_NAMES:
            assert name in page.text, f"{name!r} not on the run's page:\n{page.text[:3000]}"
        assert page.text.count(CHAT_NAME) >= 2, page.text[:3000]
        assert stack.admin_token not in page.text

        # The login form: the right token gives a cookie that opens the viewer, a wrong one does not.
        login_page = client.get("/ui/login")
        assert login_page.status_code == 200 and "token" in login_page.text, login_page.text[:500]
        refused = client.post("/ui/login", data={"token": "not-the-token"})
        assert refused.status_code in (200, 303, 401, 403), refused.status_code
        assert client.get("/ui").status_code == 303, "a wrong token opened the viewer"
        accepted = client.post("/ui/login", data={"token": stack.admin_token})
        assert accepted.status_code in (200, 302, 303), (accepted.status_code, accepted.text[:300])
        assert accepted.cookies, f"no cookie after a good login: {accepted.headers}"
        with_cookie = client.get("/ui")
        assert with_cookie.status_code == 200 and trace_id in with_cookie.text, with_cookie.status_code


# --- /ui in a browser -----------------------------------------------------------------------------


class DevTools:
    """A minimal Chrome DevTools protocol client on one target's websocket."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self._next = 0

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return json.loads(self.socket.recv(timeout=remaining))

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 15.0) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._receive(deadline)
            except TimeoutError:
                pytest.fail(f"DevTools: no answer to {method} within {timeout}s")
            if message.get("id") == ident:
                assert "error" not in message, f"DevTools {method}: {message['error']}"
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method:
                    self.events.remove(event)
                    return event["params"]
            try:
                message = self._receive(deadline)
            except TimeoutError:
                pytest.fail(f"DevTools: no {method} within {timeout}s")
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")


def start_chromium(profile: pathlib.Path) -> tuple[subprocess.Popen[bytes], int]:
    """Headless Chromium with a fresh profile, in its own process group; returns it and its DevTools port."""
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chromium exited with {proc.returncode} before listening")
        if active.exists():
            first = active.read_text().splitlines()[:1]
            if first and first[0].strip().isdigit():
                return proc, int(first[0])
        time.sleep(0.1)
    kill_process_group(proc)
    pytest.fail("chromium: no DevTools port within 30s")


def page_target(port: int) -> str:
    deadline = time.monotonic() + 15.0
    while True:
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False, timeout=5.0).json()
        pages = [target for target in targets if target.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        if time.monotonic() >= deadline:
            pytest.fail(f"chromium: no page target: {targets}")
        time.sleep(0.1)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and pixel rows of an 8-bit RGB or RGBA PNG (non-interlaced), fully unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + chunk) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        position += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    assert len(raw) == height * (stride + 1), "IDAT size does not match the header"
    rows: list[bytes] = []
    previous = bytearray(stride)
    for row_index in range(height):
        start = row_index * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upper_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                estimate = left + up - upper_left
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
                predictor = (left, up, upper_left)[distances.index(min(distances))]
                line[i] = (line[i] + predictor) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def test_the_run_renders_as_a_waterfall_in_headless_chromium(
    stack: TracingStack, trace_id: str, tmp_path: pathlib.Path
) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no {CHROMIUM}: scripts/test installs the Debian package chromium", pytrace=False)
    profile = pathlib.Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    proc, port = start_chromium(profile)
    try:
        with connect(page_target(port), max_size=None, open_timeout=15) as socket:
            devtools = DevTools(socket)
            devtools.call("Page.enable")
            devtools.call("Network.enable")
            devtools.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
            )
            devtools.call("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {stack.admin_token}"}})
            url = f"{stack.gateway.url}/ui/runs/{trace_id}"
            navigation = devtools.call("Page.navigate", {"url": url})
            assert not navigation.get("errorText"), navigation
            devtools.wait_event("Page.loadEventFired", timeout=20.0)
            documents = [
                event["params"]["response"]
                for event in devtools.events
                if event["method"] == "Network.responseReceived" and event["params"].get("type") == "Document"
            ]
            loaded = [(document["url"], document["status"]) for document in documents]
            assert loaded and loaded[-1] == (url, 200), f"the browser loaded {loaded}, expected {url} with 200"

            # The rendered page (scripts included) shows every span of the run.
            deadline = time.monotonic() + 10.0
            while True:
                text = devtools.evaluate("document.body ? document.body.innerText : ''") or ""
                dom = devtools.evaluate("document.documentElement.outerHTML") or ""
                if all(name in text for name in SPAN_NAMES) and text.count(CHAT_NAME) >= 2:
                    break
                if time.monotonic() >= deadline:
                    pytest.fail(f"the rendered run page lacks span names; text:\n{text[:3000]}\nDOM:\n{dom[:3000]}")
                time.sleep(0.2)
            for name in SPAN_NAMES:
                assert name in dom, name

            shot = devtools.call("Page.captureScreenshot", {"format": "png"}, timeout=30.0)
            png = base64.b64decode(shot["data"])
    finally:
        kill_process_group(proc)
    leftovers = [
        entry.name
        for entry in pathlib.Path("/proc").iterdir()
        if entry.name.isdigit() and str(profile).encode() in _cmdline(entry)
    ]
    assert leftovers == [], f"chromium processes left running: {leftovers}"

    saved = tmp_path / "trace-viewer.png"
    saved.write_bytes(png)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(saved, ARTIFACT)
    print(f"screenshot: {ARTIFACT}")

    width, height, rows = png_pixels(png)
    assert (width, height) == VIEWPORT, (width, height)
    step = 4 if len(rows[0]) == width * 4 else 3
    pixels = {row[index : index + step] for row in rows[::8] for index in range(0, len(row), step * 8)}
    assert len(pixels) >= 3, f"the screenshot is (nearly) uniform: {len(pixels)} distinct colours sampled"


def _cmdline(entry: pathlib.Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""
