internal import Foundation
internal import GatehouseJSON
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import MCPHost
internal import ServiceLifecycle
internal import Store

/// Tool pins kept in the store.
struct StoreToolPinStore: ToolPinStore {
    let store: Store

    func loadToolPins() async throws -> [ToolPinRecord] {
        try await store.toolPins().map {
            ToolPinRecord(server: $0.server, tool: $0.tool, approvedHash: $0.approvedHash)
        }
    }

    func saveToolPin(_ record: ToolPinRecord) async throws {
        try await store.saveToolPin(
            StoredToolPin(server: record.server, tool: record.tool, approvedHash: record.approvedHash),
            approvedAt: UTCTimestamp.now()
        )
    }
}

/// Supervises the upstream MCP servers for as long as the gateway runs. Listed before the HTTP
/// server, so at shutdown it stops after the server has drained: calls in flight finish, then the
/// servers are stopped (stdio: close stdin, SIGTERM, SIGKILL).
struct MCPSupervisorService: Service {
    let federation: MCPFederation

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await federation.run()
            // With no server configured there is nothing to supervise, but a service that
            // returns early would stop the gateway: wait for the shutdown like the others.
            while (try? await Task.sleep(for: .seconds(3600))) != nil {}
        }
    }
}

/// Ends the session-era clients' notification streams when shutdown begins. Listed after the HTTP
/// server, so it runs first: an open GET stream would otherwise hold the server's drain until the
/// grace period runs out.
struct MCPSessionCloser: Service {
    let federation: MCPFederation

    func run() async throws {
        try? await gracefulShutdown()
        federation.closeSessions()
    }
}

/// `/admin/mcp/…`: servers and their state, tools with their pins, restart, approve.
struct MCPAdminRoutes {
    let federation: MCPFederation

    private struct Servers: Encodable {
        struct Server: Encodable {
            let name: String
            let transport: String
            let status: String
            let era: String?
            let pid: Int32?
            let restarts: Int
            let last_error: String?
            let tools: Int

            // Every key is always present (null when unknown), so clients can rely on the shape.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encode(transport, forKey: .transport)
                try container.encode(status, forKey: .status)
                try container.encode(era, forKey: .era)
                try container.encode(pid, forKey: .pid)
                try container.encode(restarts, forKey: .restarts)
                try container.encode(last_error, forKey: .last_error)
                try container.encode(tools, forKey: .tools)
            }

            private enum CodingKeys: String, CodingKey {
                case name, transport, status, era, pid, restarts, last_error, tools
            }
        }
        let servers: [Server]
    }

    private struct Tools: Encodable {
        struct Tool: Encodable {
            let name: String
            let federated_name: String?
            let pin: String
            let hidden: Bool
            let hash: String
            let approved_hash: String
        }
        let server: String
        let tools: [Tool]
    }

    private struct Status: Encodable {
        let status: String
    }

    private struct Approved: Encodable {
        let status = "approved"
        let tool: String
        let hash: String
    }

    func register(on admin: RouterGroup<GatehouseRequestContext>) {
        admin.get("mcp/servers") { _, _ in
            try jsonResponse(
                Servers(
                    servers: federation.servers.map { server in
                        let snapshot = server.snapshot
                        return .init(
                            name: snapshot.name,
                            transport: snapshot.transport,
                            status: snapshot.status.rawValue,
                            era: snapshot.era?.version.rawValue,
                            pid: snapshot.processID,
                            restarts: snapshot.restarts,
                            last_error: snapshot.lastError,
                            tools: snapshot.status == .up ? snapshot.tools.count : 0
                        )
                    }
                )
            )
        }
        admin.get("mcp/servers/:name/tools") { _, context in
            let server = try server(context)
            let snapshot = server.snapshot
            let catalog = federation.catalog
            return try jsonResponse(
                Tools(
                    server: snapshot.name,
                    tools: snapshot.tools.map { tool in
                        let shown = server.definition.curation.shownName(of: tool.upstreamName)
                        let federated = catalog.resolve(shown, scope: snapshot.name)?.federatedName
                        return .init(
                            name: tool.upstreamName,
                            federated_name: federated,
                            pin: tool.pinState.rawValue,
                            hidden: tool.pinState == .changed && snapshot.pinning == .block,
                            hash: tool.hash,
                            approved_hash: tool.approvedHash
                        )
                    }
                )
            )
        }
        admin.post("mcp/servers/:name/restart") { _, context in
            try server(context).restart()
            return try jsonResponse(Status(status: "restarting"), status: .accepted)
        }
        admin.post("mcp/servers/:name/tools/:tool/approve") { _, context in
            let server = try server(context)
            let tool = context.parameters.get("tool") ?? ""
            guard let hash = try await server.approve(upstreamToolName: tool) else {
                throw GatewayError(kind: .notFound, message: "MCP server '\(server.name)' has no tool '\(tool)'.")
            }
            return try jsonResponse(Approved(tool: tool, hash: hash))
        }
    }

    private func server(_ context: GatehouseRequestContext) throws -> UpstreamServer {
        let name = context.parameters.get("name") ?? ""
        guard let server = federation.server(named: name) else {
            throw GatewayError(kind: .notFound, message: "No MCP server named '\(name)' is configured.")
        }
        return server
    }
}
