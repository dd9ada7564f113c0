public import GatehouseJSON
internal import Logging

/// The tools every client sees, built from the servers that are up: curated, renamed, prefixed
/// (`{server}__{tool}` on `/mcp`), and without those a `block` pin hides. Immutable; rebuilt when a
/// server comes up, goes down or changes its tools, so a `tools/call` resolves with one lookup.
public struct FederatedCatalog: Sendable {
    public struct Tool: Sendable {
        public let server: String
        public let upstreamName: String
        /// The curated name, as `/mcp/{server}` lists it.
        public let shownName: String
        /// The prefixed name, as `/mcp` lists it.
        public let federatedName: String
        /// The definition with the curated description; `name` is set per endpoint.
        public let definition: JSONObject
        public let isHidden: Bool
        /// `x-mcp-header` bindings of the input schema, for validating 2026 request headers.
        public let headerBindings: MCPToolHeaderBindings

        func listed(name: String) -> JSONValue {
            var object = definition
            object["name"] = .string(name)
            return .object(object)
        }
    }

    /// In server order, then in each server's order.
    public let tools: [Tool]
    private let byFederatedName: [String: Int]
    private let byServer: [String: [String: Int]]
    private let ttlByServer: [String: Int]

    public static let empty = FederatedCatalog(tools: [], ttlByServer: [:])

    private init(tools: [Tool], ttlByServer: [String: Int]) {
        self.tools = tools
        self.ttlByServer = ttlByServer
        var byFederatedName: [String: Int] = [:]
        var byServer: [String: [String: Int]] = [:]
        for (index, tool) in tools.enumerated() {
            byFederatedName[tool.federatedName] = index
            byServer[tool.server, default: [:]][tool.shownName] = index
        }
        self.byFederatedName = byFederatedName
        self.byServer = byServer
    }

    init(servers: [(definition: MCPServerDefinition, snapshot: UpstreamServerSnapshot)], logger: Logger) {
        var candidates: [(server: MCPServerDefinition, tool: UpstreamTool, shownName: String, blocks: Bool)] = []
        for (definition, snapshot) in servers where snapshot.status == .up {
            for tool in snapshot.tools {
                let shownName = definition.curation.shownName(of: tool.upstreamName)
                candidates.append((definition, tool, shownName, snapshot.pinning == .block))
            }
        }
        let names = ToolNameTable(candidates.map { (server: $0.server.name, upstreamToolName: $0.shownName) })
        for rejection in names.rejections {
            logger.warning(
                "tool left out of the federated list",
                metadata: [
                    "mcp_server": "\(rejection.server)", "tool": "\(rejection.upstreamToolName)",
                    "reason": "\(rejection.reason)",
                ]
            )
        }
        var tools: [Tool] = []
        var taken: Set<String> = []
        for (server, tool, shownName, blocks) in candidates {
            guard let federatedName = names.federatedToolName(server: server.name, upstreamToolName: shownName),
                taken.insert(federatedName).inserted
            else { continue }
            var definition = tool.definition
            if let description = server.curation.descriptions[tool.upstreamName] {
                definition["description"] = .string(description)
            }
            let isHidden = blocks && tool.pinState == .changed
            let bindings =
                (try? MCPToolHeaderBindings(inputSchema: tool.definition["inputSchema"] ?? .null)) ?? .none
            tools.append(
                Tool(
                    server: server.name,
                    upstreamName: tool.upstreamName,
                    shownName: shownName,
                    federatedName: federatedName,
                    definition: definition,
                    isHidden: isHidden,
                    headerBindings: bindings
                )
            )
        }
        var ttlByServer: [String: Int] = [:]
        for (definition, snapshot) in servers where snapshot.status == .up {
            ttlByServer[definition.name] = snapshot.toolsTTLMilliseconds
        }
        self.init(tools: tools, ttlByServer: ttlByServer)
    }

    /// How long a client may cache the list of a scope: the smallest of its servers' (0 without any).
    public func ttlMilliseconds(scope: String?) -> Int {
        if let scope { return ttlByServer[scope] ?? 0 }
        return ttlByServer.values.min() ?? 0
    }

    /// The tool a name in `tools/call` means: federated on `/mcp` (scope nil), curated on
    /// `/mcp/{server}`.
    public func resolve(_ name: String, scope: String?) -> Tool? {
        if let scope { return byServer[scope]?[name].map { tools[$0] } }
        return byFederatedName[name].map { tools[$0] }
    }

    /// The definitions `tools/list` returns for a scope, hidden tools left out.
    public func listed(scope: String?, including isIncluded: (Tool) -> Bool = { _ in true }) -> [JSONValue] {
        tools.filter { !$0.isHidden && (scope == nil || $0.server == scope) && isIncluded($0) }.map {
            $0.listed(name: scope == nil ? $0.federatedName : $0.shownName)
        }
    }
}
