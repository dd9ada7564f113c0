/// The approved definition hash of each upstream MCP tool, so a changed definition is noticed
/// across restarts.
public struct StoredToolPin: Sendable, Equatable {
    public let server: String
    public let tool: String
    public let approvedHash: String

    public init(server: String, tool: String, approvedHash: String) {
        self.server = server
        self.tool = tool
        self.approvedHash = approvedHash
    }
}

extension Store {
    public func toolPins() async throws -> [StoredToolPin] {
        try await read { connection throws in
            try connection.prepare("SELECT server, tool, approved_hash FROM mcp_tool_pins").run().compactMap { row in
                guard row.count == 3, case .text(let server) = row[0], case .text(let tool) = row[1],
                    case .text(let hash) = row[2]
                else { return nil }
                return StoredToolPin(server: server, tool: tool, approvedHash: hash)
            }
        }
    }

    /// Records (or replaces) the approved hash of a tool, committed before this returns.
    public func saveToolPin(_ pin: StoredToolPin, approvedAt: String) async throws {
        _ = try await write { connection throws in
            try connection.prepare(
                """
                INSERT INTO mcp_tool_pins (server, tool, approved_hash, approved_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (server, tool) DO UPDATE SET approved_hash = excluded.approved_hash,
                    approved_at = excluded.approved_at
                """
            ).run([.text(pin.server), .text(pin.tool), .text(pin.approvedHash), .text(approvedAt)])
        }
    }
}
