"""samples/mcp-federation.yaml as it is: three MCP servers behind /mcp, reached by real MCP clients.

The official mcp SDK client of both majors (1.x in the session era through drivers/mcp1_client.py;
2.x in-process, at 2026-07-28 and in the session era) and langchain-mcp-adapters list the tools of
`time` (mcp-server-time, stdio), `notes` (samples/servers/notes.py, stdio) and `remote` (notes.py
over Streamable HTTP) through the gateway, and call one of each. Every result must equal what the
same client gets from the same server directly.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from conftest import REPO_ROOT, MCPStack, StartMCPGateway, closed_port
from mcp_support import (
    INVALID_PARAMS,
    MCP_SAMPLE,
    MODERN_VERSION,
    NOTES_TOOLS,
    SESSION_ERA_VERSION,
    TIME_TOOLS,
    NotesHTTPServer,
    federated,
    langchain_tools,
    mcp1_client,
    notes_stdio_command,
    passthrough,
    run_async,
    time_stdio_command,
    wait_until,
)

pytestmark = pytest.mark.mcp

FEDERATED_TOOLS = sorted(
    federated("time", TIME_TOOLS) + federated("notes", NOTES_TOOLS) + federated("remote", NOTES_TOOLS)
)

# One call on each server: (tool, arguments). The remote call finds the note the test adds directly.
TIME_CALL = ("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})
NOTES_CALL = ("add_note", {"title": "Groceries", "body": "milk, eggs"})
REMOTE_CALL = ("search_notes", {"query": "milk"})
REMOTE_NOTE = {"title": "Shopping", "body": "oat milk"}
REMOTE_MATCH = {"query": "milk", "matches": [{"id": "note-1", **REMOTE_NOTE}]}

ERAS = [
    pytest.param("auto", MODERN_VERSION, id="modern"),
    pytest.param("legacy", SESSION_ERA_VERSION, id="session-era"),
]


def stdio(command: list[str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=command[1:])


def wire(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def definition(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool's definition apart from its name (and _meta, which a gateway may use for its own notes)."""
    return {key: value for key, value in tool.items() if key not in ("name", "_meta")}


def check_time_result(result: dict[str, Any], direct_before: dict[str, Any], direct_after: dict[str, Any]) -> None:
    """convert_time names today's date: the gateway's answer equals a direct one made just before or after."""
    assert result["isError"] is False, result
    assert result["structuredContent"]["target"]["datetime"].endswith("T21:00:00+09:00"), result
    assert passthrough(result) in (passthrough(direct_before), passthrough(direct_after))


# -- mcp 2.x ---------------------------------------------------------------------------------------------


async def mcp2_list_and_call(client: Client, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Every tool (all pages) by name, the calls' results in wire form, and the protocol version."""
    tools: dict[str, dict[str, Any]] = {}
    cursor = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools.update({tool.name: wire(tool) for tool in page.tools})
        cursor = page.next_cursor
        if not cursor:
            break
    results = [wire(await client.call_tool(name, arguments)) for name, arguments in calls]
    return {"protocolVersion": client.protocol_version, "tools": tools, "results": results}


def mcp2_direct(server: Any, mode: str, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with Client(server, mode=mode) as client:
            return await mcp2_list_and_call(client, calls)

    return run_async(main)


@pytest.mark.parametrize(("mode", "expected_version"), ERAS)
def test_the_mcp2_client_lists_and_calls_every_server(
    mcp_sample: MCPStack, remote_notes: NotesHTTPServer, mode: str, expected_version: str
) -> None:
    added = mcp2_direct(remote_notes.url, mode, [("add_note", REMOTE_NOTE)])
    assert added["results"][0]["structuredContent"] == {"id": "note-1"}
    time_before = mcp2_direct(stdio(time_stdio_command()), mode, [TIME_CALL])
    direct_notes = mcp2_direct(stdio(notes_stdio_command()), mode, [NOTES_CALL])
    direct_remote = mcp2_direct(remote_notes.url, mode, [REMOTE_CALL])

    calls = [("time__" + TIME_CALL[0], TIME_CALL[1]), ("notes__" + NOTES_CALL[0], NOTES_CALL[1])]
    calls.append(("remote__" + REMOTE_CALL[0], REMOTE_CALL[1]))
    through = mcp_sample.mcp2("/mcp", mode, lambda client: mcp2_list_and_call(client, calls))
    time_after = mcp2_direct(stdio(time_stdio_command()), mode, [TIME_CALL])

    assert through["protocolVersion"] == expected_version
    assert sorted(through["tools"]) == FEDERATED_TOOLS
    for server, direct in (("time", time_before), ("notes", direct_notes), ("remote", direct_remote)):
        for name, tool in direct["tools"].items():
            assert definition(through["tools"][f"{server}__{name}"]) == definition(tool), f"{server}__{name}"

    time_result, notes_result, remote_result = through["results"]
    check_time_result(time_result, time_before["results"][0], time_after["results"][0])
    assert notes_result["structuredContent"] == {"id": "note-1"}
    assert passthrough(notes_result) == passthrough(direct_notes["results"][0])
    assert remote_result["structuredContent"] == REMOTE_MATCH
    assert passthrough(remote_result) == passthrough(direct_remote["results"][0])


# -- mcp 1.x ---------------------------------------------------------------------------------------------


def mcp1_calls(prefix: str, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = [{"method": "tools/list"}]
    return listed + [{"method": "tools/call", "name": prefix + name, "arguments": args} for name, args in calls]


def test_the_mcp1_client_lists_and_calls_every_server(mcp_sample: MCPStack, remote_notes: NotesHTTPServer) -> None:
    add = {"method": "tools/call", "name": "add_note", "arguments": REMOTE_NOTE}
    added = mcp1_client(["--url", remote_notes.url], [add])
    assert added["results"][0]["structuredContent"] == {"id": "note-1"}
    time_before = mcp1_client(time_stdio_command(), mcp1_calls("", TIME_CALL))
    direct_notes = mcp1_client(notes_stdio_command(), mcp1_calls("", NOTES_CALL))
    direct_remote = mcp1_client(["--url", remote_notes.url], mcp1_calls("", REMOTE_CALL))

    calls = mcp1_calls("time__", TIME_CALL) + mcp1_calls("notes__", NOTES_CALL)[1:]
    calls += mcp1_calls("remote__", REMOTE_CALL)[1:]
    through = mcp1_client(mcp_sample.mcp1_target("/mcp"), calls)
    time_after = mcp1_client(time_stdio_command(), mcp1_calls("", TIME_CALL))

    assert through["sdk"].split(".")[0] == "1"
    assert through["protocolVersion"] == SESSION_ERA_VERSION
    listed, time_result, notes_result, remote_result = through["results"]
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert sorted(tools) == FEDERATED_TOOLS
    assert "nextCursor" not in listed
    for server, direct in (("time", time_before), ("notes", direct_notes), ("remote", direct_remote)):
        for tool in direct["results"][0]["tools"]:
            assert definition(tools[f"{server}__{tool['name']}"]) == definition(tool), f"{server}__{tool['name']}"

    check_time_result(time_result, time_before["results"][1], time_after["results"][1])
    assert notes_result["structuredContent"] == {"id": "note-1"}
    assert passthrough(notes_result) == passthrough(direct_notes["results"][1])
    assert remote_result["structuredContent"] == REMOTE_MATCH
    assert passthrough(remote_result) == passthrough(direct_remote["results"][1])


# -- one server's endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "expected_version"), ERAS)
def test_mcp_time_serves_only_the_time_tools(mcp_sample: MCPStack, mode: str, expected_version: str) -> None:
    async def scenario(client: Client) -> dict[str, Any]:
        listed = await mcp2_list_and_call(client, [TIME_CALL])
        try:
            await client.call_tool("add_note", {"title": "t", "body": "b"})
        except MCPError as error:
            listed["refused"] = {"code": error.code, "message": error.message}
        return listed

    time_before = mcp2_direct(stdio(time_stdio_command()), mode, [TIME_CALL])
    through = mcp_sample.mcp2("/mcp/time", mode, scenario)
    time_after = mcp2_direct(stdio(time_stdio_command()), mode, [TIME_CALL])

    assert through["protocolVersion"] == expected_version
    assert sorted(through["tools"]) == sorted(TIME_TOOLS)
    for name, tool in time_before["tools"].items():
        assert definition(through["tools"][name]) == definition(tool), name
    check_time_result(through["results"][0], time_before["results"][0], time_after["results"][0])
    assert through["refused"] == {"code": INVALID_PARAMS, "message": "Unknown tool: add_note"}


def test_mcp_time_with_the_mcp1_client(mcp_sample: MCPStack) -> None:
    answer = mcp1_client(mcp_sample.mcp1_target("/mcp/time"), [{"method": "tools/list"}])

    assert answer["protocolVersion"] == SESSION_ERA_VERSION
    assert sorted(tool["name"] for tool in answer["results"][0]["tools"]) == sorted(TIME_TOOLS)


# -- langchain-mcp-adapters ------------------------------------------------------------------------------


def test_langchain_loads_the_federated_tools_and_invokes_one(mcp_sample: MCPStack) -> None:
    direct = langchain_tools(notes_stdio_command(), [{"name": "add_note", "args": NOTES_CALL[1]}])

    answer = langchain_tools(
        mcp_sample.mcp1_target("/mcp"),
        [
            {"name": "notes__add_note", "args": NOTES_CALL[1]},
            {"name": "notes__search_notes", "args": {"query": "EGGS"}},
        ],
    )

    tools = {tool["name"]: tool for tool in answer["tools"]}
    assert sorted(tools) == FEDERATED_TOOLS
    direct_add = direct["tools"][0]
    assert (tools["notes__add_note"]["description"], tools["notes__add_note"]["args_schema"]) == (
        direct_add["description"],
        direct_add["args_schema"],
    )
    added, found = answer["messages"]
    expected_added = {**direct["messages"][0], "name": "notes__add_note"}
    assert added == expected_added
    assert added["artifact"] == {"structured_content": {"id": "note-1"}}
    assert (found["name"], found["tool_call_id"], found["status"]) == ("notes__search_notes", "call-2", "success")
    assert found["artifact"] == {
        "structured_content": {"query": "EGGS", "matches": [{"id": "note-1", **NOTES_CALL[1]}]}
    }


# -- the admin view --------------------------------------------------------------------------------------


def test_admin_lists_the_sample_servers_in_configuration_order(mcp_sample: MCPStack) -> None:
    servers = mcp_sample.servers()

    keys = ["era", "last_error", "name", "pid", "restarts", "status", "tools", "transport"]
    assert [sorted(server) for server in servers] == [keys, keys, keys], "every key, null ones too"
    assert [(s["name"], s["transport"], s["status"]) for s in servers] == [
        ("time", "stdio", "up"),
        ("notes", "stdio", "up"),
        ("remote", "streamable_http", "up"),
    ]
    assert [(s["tools"], s["restarts"], s["last_error"]) for s in servers] == [(2, 0, None), (3, 0, None), (3, 0, None)]
    assert [s["era"] in (MODERN_VERSION, SESSION_ERA_VERSION) for s in servers] == [True, True, True]
    time_pid, notes_pid, remote_pid = (s["pid"] for s in servers)
    assert isinstance(time_pid, int) and isinstance(notes_pid, int) and time_pid != notes_pid
    assert remote_pid is None
    assert sorted(mcp_sample.server_tools("notes")) == sorted(NOTES_TOOLS)
    add_note = mcp_sample.server_tools("notes")["add_note"]
    assert (add_note["federated_name"], add_note["pin"], add_note["hidden"]) == ("notes__add_note", "approved", False)
    assert add_note["hash"] == add_note["approved_hash"]


def test_the_sample_serves_without_its_remote_server_and_adds_it_when_it_comes_up(
    start_mcp_gateway: StartMCPGateway, tmp_path: pathlib.Path
) -> None:
    port = closed_port()
    (tmp_path / "samples").symlink_to(REPO_ROOT / "samples", target_is_directory=True)
    stack = start_mcp_gateway(
        config_file=MCP_SAMPLE, env={"MCP_REMOTE_URL": f"http://127.0.0.1:{port}/mcp"}, up=["time", "notes"]
    )
    remote = stack.server("remote")
    assert remote["status"] in ("down", "starting"), remote
    assert sorted(stack.modern_tools()) == sorted(federated("time", TIME_TOOLS) + federated("notes", NOTES_TOOLS))
    added = stack.modern_call("notes__add_note", {"title": "Without remote", "body": ""})
    assert added["result"]["structuredContent"] == {"id": "note-1"}
    assert stack.modern_call("time__get_current_time", {"timezone": "UTC"})["result"]["isError"] is False
    unavailable = stack.modern_call("remote__list_notes", {})
    assert unavailable["error"]["code"] == INVALID_PARAMS, unavailable  # its tools are not listed

    server = NotesHTTPServer(port=port)
    try:
        stack.wait_up("remote", timeout=30.0)
        wait_until(lambda: sorted(stack.modern_tools()) == FEDERATED_TOOLS, 20.0, "remote's tools in the list")
        listed = stack.modern_call("remote__list_notes", {})
        assert listed["result"]["structuredContent"] == {"notes": []}
    finally:
        stack.gateway.stop()
        server.stop()
