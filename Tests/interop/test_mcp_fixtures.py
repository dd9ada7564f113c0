"""The MCP servers and clients that the gateway's MCP tests stand on, tested directly, without it.

samples/servers/notes.py (mcp 2.x) over stdio and Streamable HTTP, mcp-server-time and
mcp-server-git, driven by the mcp 2.x client in-process (both protocol eras), the mcp 1.x client
and langchain-mcp-adapters through the drivers in drivers/ (see mcp_support.py).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from mcp_support import (
    MODERN_VERSION,
    NOTES_SERVER_INFO,
    NOTES_TOOLS,
    SESSION_ERA_VERSION,
    TIME_TOOLS,
    NotesHTTPServer,
    git_stdio_command,
    langchain_tools,
    mcp1_client,
    notes_stdio_command,
    run_async,
    time_stdio_command,
)

# mode= of mcp.Client, and the protocol revision the session must end up on.
ERAS = [
    pytest.param("legacy", SESSION_ERA_VERSION, id="session-era"),
    pytest.param("auto", MODERN_VERSION, id="modern"),
]

GROCERIES = {"id": "note-1", "title": "Groceries", "body": "milk, eggs"}
STANDUP = {"id": "note-2", "title": "Standup", "body": "Ask about the release date"}
ADD_NOTE_DESCRIPTION = "Store a new note and return its id. Notes last as long as the server runs."


def stdio(command: list[str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=command[1:])


def run_client(server: Any, mode: str, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Connects an mcp 2.x Client in `mode` and runs `scenario` on it, within the MCP timeout."""

    async def main() -> None:
        async with Client(server, mode=mode) as client:
            await scenario(client)

    run_async(main)


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1, result
    block = result.content[0]
    assert isinstance(block, TextContent), result
    return block.text


def structured(result: CallToolResult) -> Any:
    """The structured content of a successful call, checked against its JSON text block."""
    assert result.is_error is False, result
    assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


async def add_and_search_notes(client: Client) -> None:
    """On a notes server that has no notes yet: two notes added, then searched and listed."""
    added = await client.call_tool("add_note", {"title": GROCERIES["title"], "body": GROCERIES["body"]})
    assert structured(added) == {"id": "note-1"}
    added = await client.call_tool("add_note", {"title": STANDUP["title"], "body": STANDUP["body"]})
    assert structured(added) == {"id": "note-2"}

    found = await client.call_tool("search_notes", {"query": "EGGS"})
    assert structured(found) == {"query": "EGGS", "matches": [GROCERIES]}
    found = await client.call_tool("search_notes", {"query": "e"})
    assert structured(found) == {"query": "e", "matches": [GROCERIES, STANDUP]}
    found = await client.call_tool("search_notes", {"query": "absent"})
    assert structured(found) == {"query": "absent", "matches": []}

    listed = await client.call_tool("list_notes", {})
    assert structured(listed) == {
        "notes": [{"id": "note-1", "title": "Groceries"}, {"id": "note-2", "title": "Standup"}]
    }


async def check_notes_server(client: Client, expected_version: str) -> None:
    assert client.protocol_version == expected_version
    assert client.server_info is not None
    assert client.server_info.model_dump(exclude_none=True) == NOTES_SERVER_INFO

    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == NOTES_TOOLS
    add = tools["add_note"]
    assert add.description == ADD_NOTE_DESCRIPTION
    assert add.input_schema["type"] == "object"
    assert add.input_schema["required"] == ["title", "body"]
    assert add.input_schema["properties"]["title"] == {
        "description": "A short title",
        "maxLength": 200,
        "minLength": 1,
        "title": "Title",
        "type": "string",
    }
    assert add.output_schema is not None and add.output_schema["required"] == ["id"]
    assert tools["list_notes"].input_schema["properties"] == {}
    assert tools["search_notes"].input_schema["required"] == ["query"]
    read_only = [tool.annotations.read_only_hint if tool.annotations else None for tool in tools.values()]
    assert read_only == [False, True, True]

    await add_and_search_notes(client)

    rejected = await client.call_tool("search_notes", {"query": ""})
    assert rejected.is_error is True
    assert rejected.structured_content is None
    assert "String should have at least 1 character" in text_of(rejected)


def test_clients_are_on_both_majors() -> None:
    assert version("mcp").split(".")[0] == "2"
    answer = mcp1_client(notes_stdio_command(), [])
    assert answer["sdk"].split(".")[0] == "1"
    assert answer["protocolVersion"] == SESSION_ERA_VERSION
    assert answer["serverInfo"] == NOTES_SERVER_INFO
    assert answer["results"] == []


@pytest.mark.parametrize(("mode", "expected_version"), ERAS)
def test_notes_over_stdio_with_the_mcp2_client(mode: str, expected_version: str) -> None:
    run_client(stdio(notes_stdio_command()), mode, lambda client: check_notes_server(client, expected_version))


@pytest.fixture
def notes_http() -> Iterator[NotesHTTPServer]:
    server = NotesHTTPServer()
    yield server
    code = server.stop()
    print(f"--- notes.py --http (exit {code}) ---\n{server.log_text}")
    assert code == 0, f"notes.py --http exited with {code} after SIGTERM"


@pytest.mark.parametrize(("mode", "expected_version"), ERAS)
def test_notes_over_streamable_http_with_the_mcp2_client(
    notes_http: NotesHTTPServer, mode: str, expected_version: str
) -> None:
    assert notes_http.url.startswith("http://127.0.0.1:")
    run_client(notes_http.url, mode, lambda client: check_notes_server(client, expected_version))


def test_notes_over_streamable_http_are_shared_across_sessions_and_eras(notes_http: NotesHTTPServer) -> None:
    run_client(notes_http.url, "legacy", add_and_search_notes)

    async def modern(client: Client) -> None:
        assert client.protocol_version == MODERN_VERSION
        assert structured(await client.call_tool("add_note", {"title": "Third", "body": ""})) == {"id": "note-3"}

    run_client(notes_http.url, "auto", modern)

    answer = mcp1_client(["--url", notes_http.url], [{"method": "tools/call", "name": "list_notes", "arguments": {}}])
    assert answer["results"][0]["structuredContent"] == {
        "notes": [
            {"id": "note-1", "title": "Groceries"},
            {"id": "note-2", "title": "Standup"},
            {"id": "note-3", "title": "Third"},
        ]
    }


NOTES_CALLS = [
    {"method": "tools/list"},
    {"method": "tools/call", "name": "add_note", "arguments": {"title": "Groceries", "body": "milk, eggs"}},
    {"method": "tools/call", "name": "search_notes", "arguments": {"query": "EGGS"}},
    {"method": "tools/call", "name": "search_notes", "arguments": {"query": ""}},
    {"method": "tools/call", "name": "no_such_tool", "arguments": {}},
]


def check_notes_with_mcp1(answer: dict[str, Any]) -> None:
    assert answer["sdk"].split(".")[0] == "1"
    assert answer["protocolVersion"] == SESSION_ERA_VERSION
    assert answer["serverInfo"] == NOTES_SERVER_INFO
    listed, added, found, rejected, unknown = answer["results"]
    assert [tool["name"] for tool in listed["tools"]] == NOTES_TOOLS
    assert [tool["inputSchema"]["required"] for tool in listed["tools"] if "required" in tool["inputSchema"]] == [
        ["title", "body"],
        ["query"],
    ]
    assert added["isError"] is False
    assert added["structuredContent"] == {"id": "note-1"}
    assert json.loads(added["content"][0]["text"]) == {"id": "note-1"}
    assert found["structuredContent"] == {"query": "EGGS", "matches": [GROCERIES]}
    assert rejected["isError"] is True
    assert "structuredContent" not in rejected
    assert "String should have at least 1 character" in rejected["content"][0]["text"]
    assert unknown["isError"] is True
    assert unknown["content"][0]["text"] == "Unknown tool: no_such_tool"


def test_notes_over_stdio_with_the_mcp1_client() -> None:
    check_notes_with_mcp1(mcp1_client(notes_stdio_command(), NOTES_CALLS))


def test_notes_over_streamable_http_with_the_mcp1_client(notes_http: NotesHTTPServer) -> None:
    check_notes_with_mcp1(mcp1_client(["--url", notes_http.url], NOTES_CALLS))


def test_time_server_with_the_mcp1_client() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    answer = mcp1_client(
        time_stdio_command(),
        [
            {"method": "tools/list"},
            {"method": "tools/call", "name": "get_current_time", "arguments": {"timezone": "UTC"}},
            {"method": "tools/call", "name": "get_current_time", "arguments": {"timezone": "Not/AZone"}},
        ],
    )
    after = datetime.now(timezone.utc)

    assert answer["protocolVersion"] == SESSION_ERA_VERSION
    assert answer["serverInfo"] == {"name": "mcp-time", "version": version("mcp-server-time")}
    listed, current, invalid = answer["results"]
    assert [tool["name"] for tool in listed["tools"]] == TIME_TOOLS
    get_current_time = listed["tools"][0]
    assert get_current_time["inputSchema"]["required"] == ["timezone"]
    assert "Use 'UTC' as local timezone" in get_current_time["inputSchema"]["properties"]["timezone"]["description"]

    assert current["isError"] is False
    result = current["structuredContent"]
    assert json.loads(current["content"][0]["text"]) == result
    assert sorted(result) == ["datetime", "day_of_week", "is_dst", "timezone"]
    assert (result["timezone"], result["is_dst"]) == ("UTC", False)
    now = datetime.fromisoformat(result["datetime"])
    assert now.utcoffset() == timedelta(0)
    assert now.isoformat(timespec="seconds") == result["datetime"]
    assert before <= now <= after
    assert result["day_of_week"] == now.strftime("%A")

    assert invalid["isError"] is True
    assert invalid["content"][0]["text"] == (
        "Error executing tool get_current_time: Invalid timezone: 'No time zone found with key Not/AZone'"
    )


def test_git_server_with_the_mcp2_client(tmp_path: pathlib.Path) -> None:
    repository = tmp_path / "repo"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repository), *args], check=True, capture_output=True, text=True, timeout=30
        ).stdout

    repository.mkdir()
    git("init", "--quiet", "--initial-branch", "main")
    git("config", "user.name", "Interop Test")
    git("config", "user.email", "interop@example.invalid")
    (repository / "hello.txt").write_text("hello\n")
    path = str(repository)

    async def scenario(client: Client) -> None:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        assert {"git_status", "git_add", "git_commit", "git_log"} <= set(tools)
        staged = await client.call_tool("git_add", {"repo_path": path, "files": ["hello.txt"]})
        assert (staged.is_error, text_of(staged)) == (False, "Files staged successfully")
        committed = await client.call_tool("git_commit", {"repo_path": path, "message": "Add hello"})
        assert committed.is_error is False
        assert text_of(committed) == f"Changes committed successfully with hash {git('rev-parse', 'HEAD').strip()}"

    run_client(stdio(git_stdio_command(repository)), "legacy", scenario)

    assert git("log", "--format=%s %an").splitlines() == ["Add hello Interop Test"]
    assert git("status", "--porcelain") == ""


def test_notes_through_langchain_mcp_adapters() -> None:
    answer = langchain_tools(
        notes_stdio_command(),
        [
            {"name": "add_note", "args": {"title": "Groceries", "body": "milk, eggs"}},
            {"name": "search_notes", "args": {"query": "milk"}},
            {"name": "search_notes", "args": {"query": ""}},
        ],
    )

    assert [tool["name"] for tool in answer["tools"]] == NOTES_TOOLS
    assert answer["tools"][0]["description"] == ADD_NOTE_DESCRIPTION
    assert answer["tools"][0]["args_schema"]["required"] == ["title", "body"]
    added, found, rejected = answer["messages"]
    assert (added["name"], added["tool_call_id"], added["status"]) == ("add_note", "call-1", "success")
    assert json.loads(added["text"]) == {"id": "note-1"}
    assert added["artifact"] == {"structured_content": {"id": "note-1"}}
    assert found["artifact"] == {"structured_content": {"query": "milk", "matches": [GROCERIES]}}
    assert (rejected["name"], rejected["status"], rejected["artifact"]) == ("search_notes", "error", None)
    assert "String should have at least 1 character" in rejected["text"]
