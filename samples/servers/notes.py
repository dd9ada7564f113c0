"""A small MCP server that keeps notes in memory: add them, list them, search them.

Written with the official `mcp` Python SDK, 2.x line (its high-level `MCPServer`). Each tool is
a typed function: the SDK derives the input schema from the parameters, validates arguments, and
returns the pydantic result model both as `structuredContent` (with an `outputSchema`) and as a
JSON text block. Both protocol eras are served: a 2025-11-25 client through the initialize
handshake, a 2026-07-28 client sessionlessly.

Run it with an interpreter that has `mcp` 2.x installed:

    python samples/servers/notes.py              # stdio (the default)
    python samples/servers/notes.py --http 8931  # Streamable HTTP at http://127.0.0.1:8931/mcp

With --http the server listens on 127.0.0.1 only; port 0 takes a free port. Once it accepts
connections it prints one line on stderr, `notes: listening on http://127.0.0.1:PORT/mcp`, with
the real port. The notes live as long as the process: with stdio each client has its own, over
HTTP all clients share them. SIGTERM or SIGINT stops the HTTP server, with exit status 0.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import socket
import sys
from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

SERVER_NAME = "notes"
HOST = "127.0.0.1"
PATH = "/mcp"
MAX_TITLE = 200
MAX_BODY = 10_000


class Note(BaseModel):
    id: str = Field(description="The note's id, as add_note returned it")
    title: str
    body: str


class NoteRef(BaseModel):
    id: str
    title: str


class AddedNote(BaseModel):
    id: str = Field(description="The new note's id: note-1, note-2, ... in the order notes are added")


class NoteList(BaseModel):
    notes: list[NoteRef] = Field(description="Every note, oldest first")


class SearchResult(BaseModel):
    query: str
    matches: list[Note] = Field(description="The notes whose title or body contains the query, oldest first")


class NoteStore:
    """Notes in insertion order, with ids note-1, note-2, ..."""

    def __init__(self) -> None:
        self._notes: dict[str, Note] = {}
        self._ids = itertools.count(1)

    def add(self, title: str, body: str) -> Note:
        note = Note(id=f"note-{next(self._ids)}", title=title, body=body)
        self._notes[note.id] = note
        return note

    def all(self) -> list[Note]:
        return list(self._notes.values())

    def search(self, query: str) -> list[Note]:
        needle = query.casefold()
        return [
            note for note in self._notes.values() if needle in note.title.casefold() or needle in note.body.casefold()
        ]


def create_server(store: NoteStore | None = None) -> MCPServer:
    notes = store or NoteStore()
    # The tool list never changes, so there is nothing to listen for (2026-07-28 subscriptions).
    server = MCPServer(
        SERVER_NAME,
        version="1.0.0",
        instructions="Keeps short notes in memory: add_note stores one, list_notes and search_notes read them.",
        subscriptions=False,
    )

    @server.tool(
        description="Store a new note and return its id. Notes last as long as the server runs.",
        annotations=ToolAnnotations(title="Add a note", read_only_hint=False, destructive_hint=False),
    )
    def add_note(
        title: Annotated[str, Field(description="A short title", min_length=1, max_length=MAX_TITLE)],
        body: Annotated[str, Field(description="The text of the note", max_length=MAX_BODY)],
    ) -> AddedNote:
        return AddedNote(id=notes.add(title, body).id)

    @server.tool(
        description="List the ids and titles of all notes, oldest first.",
        annotations=ToolAnnotations(title="List notes", read_only_hint=True, idempotent_hint=True),
    )
    def list_notes() -> NoteList:
        return NoteList(notes=[NoteRef(id=note.id, title=note.title) for note in notes.all()])

    @server.tool(
        description="Find the notes whose title or body contains the query (case-insensitive), oldest first.",
        annotations=ToolAnnotations(title="Search notes", read_only_hint=True, idempotent_hint=True),
    )
    def search_notes(
        query: Annotated[str, Field(description="Text to look for", min_length=1, max_length=MAX_TITLE)],
    ) -> SearchResult:
        return SearchResult(query=query, matches=notes.search(query))

    return server


def serve_http(server: MCPServer, port: int) -> None:
    """Streamable HTTP on 127.0.0.1:port; announces the bound port on stderr once connections queue."""
    import anyio
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=PATH, host=HOST)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(128)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler it
    # found: this one makes that (or a SIGTERM before uvicorn is up) a clean exit with status 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Connections made from now on wait in the backlog until uvicorn has run the app's startup.
    print(f"notes: listening on http://{HOST}:{listener.getsockname()[1]}{PATH}", file=sys.stderr, flush=True)
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[listener]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An MCP server that keeps notes in memory (stdio by default).")
    parser.add_argument(
        "--http",
        metavar="PORT",
        type=int,
        help=f"serve Streamable HTTP on {HOST}:PORT{PATH} instead of stdio (0: any free port)",
    )
    args = parser.parse_args(argv)
    server = create_server()
    if args.http is None:
        server.run("stdio")
    elif not 0 <= args.http <= 65535:
        parser.error(f"--http: port out of range: {args.http}")
    else:
        serve_http(server, args.http)


if __name__ == "__main__":
    main()
