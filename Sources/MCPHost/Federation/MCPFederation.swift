internal import Foundation
public import GatehouseCore
public import GatehouseJSON
public import Logging
public import Metrics
public import NIOCore
internal import Synchronization

/// Who is asking, through which endpoint, in which era: everything a request is answered with
/// besides its own body.
public struct MCPCallContext: Sendable {
    /// The request as the executable handed it over: caller, request id, connection.
    public var caller: AgentRequest
    /// `nil` for `/mcp`, a server's name for `/mcp/{server}`.
    public var scope: String?
    public var era: MCPEra
    public var clientCapabilities: JSONObject
    public var client: ClientToken

    /// The calling agent's name.
    public var agent: String { caller.identity.agentName }
}

/// The federated MCP endpoint: every configured server behind one catalog. Answers a client's
/// request, whatever its era, by routing it to the server that owns the tool, prompt or resource,
/// or by merging what every healthy server returns.
public final class MCPFederation: Sendable {
    public let configuration: MCPHostConfiguration
    public let servers: [UpstreamServer]
    private let serversByName: [String: UpstreamServer]
    let sessions: MCPSessionTable
    public let versions = MCPVersionSupport.default
    private let catalogState = Mutex(FederatedCatalog.empty)
    private let resourceOwners = Mutex<[String: String]>([:])
    private let listRequests = Atomic<UInt64>(0)
    /// Open 2026 `subscriptions/listen` streams; `isClosed` once shutdown has ended them.
    private let listeners = Mutex<
        (open: [UInt64: (mailbox: Mailbox<MCPSession.SessionEvent>, toolsListChanged: Bool)], isClosed: Bool)
    >(([:], false))
    private let listenerKeys = Atomic<UInt64>(0)
    private let pins: ToolPinRegistry
    private let logger: Logger
    /// Cancels routed calls whose client left.
    let watchdog = CallWatchdog()

    /// Resource URIs remembered from lists, to route `resources/read`; bounded.
    static let maximumRememberedResources = 50_000
    /// The page size of gateway-paginated lists.
    static let pageSize = 500

    public init(
        configuration: MCPHostConfiguration,
        pinStore: (any ToolPinStore)?,
        group: any EventLoopGroup,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.configuration = configuration
        self.sessions = MCPSessionTable(
            maximumSessions: configuration.maximumSessions,
            idleTimeout: configuration.sessionIdleTimeout
        )
        self.pins = ToolPinRegistry(store: pinStore)
        self.logger = logger
        var servers: [UpstreamServer] = []
        let rebuild = Mutex<(@Sendable () -> Void)?>(nil)
        for definition in configuration.servers {
            let counter = Counter(
                label: "gatehouse_mcp_upstream_requests_total",
                dimensions: [("server", definition.name), ("transport", definition.transport.name)],
                factory: metrics
            )
            servers.append(
                UpstreamServer(
                    definition: definition,
                    configuration: configuration,
                    group: group,
                    pins: pins,
                    logger: logger,
                    countUpstreamMessage: { counter.increment() },
                    callMetrics: MCPCallMetrics(server: definition.name, factory: metrics),
                    onChange: { rebuild.withLock { $0 }?() }
                )
            )
        }
        self.servers = servers
        self.serversByName = Dictionary(servers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        rebuild.withLock { $0 = { [weak self] in self?.rebuildCatalog() } }
    }

    public func server(named name: String) -> UpstreamServer? { serversByName[name] }

    public var catalog: FederatedCatalog { catalogState.withLock { $0 } }

    /// Loads the pins, then supervises every server until cancelled; then stops them all.
    public func run() async {
        do {
            try await pins.load()
        } catch {
            logger.error(
                "could not read tool pins from the store; every tool counts as new",
                metadata: ["error": "\(error)"]
            )
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchdog.run() }
            for server in servers { group.addTask { await server.run() } }
        }
    }

    /// Answers every request still waiting for an upstream, and every later one, with a JSON-RPC
    /// error saying the gateway is shutting down (the end of shutdown's drain).
    public func interruptCalls() {
        watchdog.interruptAll()
    }

    /// Kills every stdio server's process group at once, without the orderly stop: for a gateway
    /// that must exit now (its shutdown overran its bound).
    public static func killServerProcessesNow() {
        ChildProcess.killEveryGroupNow()
    }

    /// Ends every session's notification stream (shutdown).
    public func closeSessions() {
        sessions.closeAll()
        let open = listeners.withLock { listeners -> [Mailbox<MCPSession.SessionEvent>] in
            defer { listeners = ([:], true) }
            return listeners.open.values.map(\.mailbox)
        }
        for mailbox in open { mailbox.post(.end) }
    }

    /// A 2026 `subscriptions/listen` stream's mailbox; `toolsListChanged` false means the client
    /// asked for nothing the gateway sends, so nothing is posted to it until it ends.
    func openListener(toolsListChanged: Bool) -> (Mailbox<MCPSession.SessionEvent>, UInt64) {
        let mailbox = Mailbox<MCPSession.SessionEvent>(capacity: 64)
        let key = listenerKeys.wrappingAdd(1, ordering: .relaxed).oldValue
        let isClosed = listeners.withLock { listeners in
            if !listeners.isClosed { listeners.open[key] = (mailbox, toolsListChanged) }
            return listeners.isClosed
        }
        // A stream opened while the gateway stops ends at once, like those open when it began.
        if isClosed { mailbox.post(.end) }
        return (mailbox, key)
    }

    func closeListener(_ key: UInt64) {
        _ = listeners.withLock { $0.open.removeValue(forKey: key) }
    }

    private func rebuildCatalog() {
        let rebuilt = FederatedCatalog(servers: servers.map { ($0.definition, $0.snapshot) }, logger: logger)
        let changed = catalogState.withLock { current -> Bool in
            let before = current.listed(scope: nil)
            current = rebuilt
            return before != rebuilt.listed(scope: nil)
        }
        guard changed else { return }
        let notification = JSONRPCMessage.notification(method: "notifications/tools/list_changed")
        for session in sessions.all { session.notifications.post(.message(notification)) }
        let listening = listeners.withLock { $0.open.values.filter(\.toolsListChanged).map(\.mailbox) }
        for mailbox in listening { mailbox.post(.message(notification)) }
    }

    // MARK: - Answering requests

    /// The capabilities the endpoint announces: what the servers in scope offer, merged.
    func mergedCapabilities(scope: String?) -> JSONObject {
        var capabilities = JSONObject(["tools": .object(JSONObject(["listChanged": .bool(true)]))])
        let snapshots = servers(in: scope).map(\.snapshot)
        if snapshots.contains(where: { $0.capabilities["prompts"] != nil }) {
            capabilities["prompts"] = .object(JSONObject(["listChanged": .bool(false)]))
        }
        if snapshots.contains(where: { $0.capabilities["resources"] != nil }) {
            let subscribe = snapshots.contains { $0.capabilities["resources"]?["subscribe"] == .bool(true) }
            capabilities["resources"] = .object(
                JSONObject(["subscribe": .bool(subscribe), "listChanged": .bool(false)])
            )
        }
        if snapshots.contains(where: { $0.capabilities["completions"] != nil }) {
            capabilities["completions"] = .object(JSONObject())
        }
        capabilities["logging"] = .object(JSONObject())
        return capabilities
    }

    /// The servers' instructions, each under its server's name.
    func mergedInstructions(scope: String?) -> String? {
        let parts = servers(in: scope).compactMap { server -> String? in
            guard let text = server.snapshot.instructions, !text.isEmpty else { return nil }
            return scope == nil ? "## \(server.name) (tools prefixed \(server.name)__)\n\(text)" : text
        }
        return parts.isEmpty ? nil : parts.joined(separator: "\n\n")
    }

    private func servers(in scope: String?) -> [UpstreamServer] {
        guard let scope else { return servers }
        return serversByName[scope].map { [$0] } ?? []
    }

    /// The result of `initialize` for a new session.
    func initializeResult(version: MCPProtocolVersion, scope: String?) -> JSONValue {
        var result = JSONObject([
            "protocolVersion": .string(version.rawValue),
            "capabilities": .object(mergedCapabilities(scope: scope)),
            "serverInfo": EraBridge.gatewayInfo,
        ])
        if let instructions = mergedInstructions(scope: scope) { result["instructions"] = .string(instructions) }
        return .object(result)
    }

    /// Answers one request. Errors the client must see come back as JSON-RPC error responses;
    /// `onNotification` receives progress and log notifications of a routed call.
    public func handle(
        _ request: JSONRPCMessage,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void = { _ in }
    ) async -> JSONRPCMessage {
        guard case .request(let id, let method, let params) = request.kind else {
            return .errorResponse(id: nil, error: JSONRPCErrorObject(code: .invalidRequest, message: "not a request"))
        }
        let reply: JSONRPCMessage
        switch method {
        case "ping", "logging/setLevel":
            reply = .response(id: id, result: .object(JSONObject()))
        case "server/discover":
            var result = JSONObject([
                "supportedVersions": .array(versions.stateless.map { .string($0.rawValue) }),
                "capabilities": .object(mergedCapabilities(scope: context.scope)),
            ])
            if let instructions = mergedInstructions(scope: context.scope) {
                result["instructions"] = .string(instructions)
            }
            result["ttlMs"] = JSONValue(0)
            result["cacheScope"] = .string("private")
            result["_meta"] = .object(JSONObject(["io.modelcontextprotocol/serverInfo": EraBridge.gatewayInfo]))
            reply = .response(id: id, result: .object(result))
        case "tools/list":
            let catalog = self.catalog
            reply = page(
                catalog.listed(scope: context.scope),
                key: "tools",
                ttlMilliseconds: catalog.ttlMilliseconds(scope: context.scope),
                id: id,
                params: params,
                context: context
            )
        case "tools/call":
            reply = await callTool(request, id: id, context: context, onNotification: onNotification)
        case "prompts/list":
            reply = await mergedList(method: method, key: "prompts", id: id, params: params, context: context)
        case "resources/list":
            reply = await mergedList(method: method, key: "resources", id: id, params: params, context: context)
        case "resources/templates/list":
            reply = await mergedList(method: method, key: "resourceTemplates", id: id, params: params, context: context)
        case "prompts/get":
            reply = await routePrompt(request, id: id, context: context, onNotification: onNotification)
        case "resources/read", "resources/subscribe", "resources/unsubscribe":
            reply = await routeResource(
                request,
                uri: params?["uri"]?.stringValue,
                id: id,
                context: context,
                onNotification: onNotification
            )
        case "completion/complete":
            let reference = params?["ref"]
            if reference?["type"]?.stringValue == "ref/resource" {
                reply = await routeResource(
                    request,
                    uri: reference?["uri"]?.stringValue,
                    id: id,
                    context: context,
                    onNotification: onNotification
                )
            } else {
                reply = await routePrompt(
                    request,
                    id: id,
                    context: context,
                    onNotification: onNotification,
                    nameAt: ["ref", "name"]
                )
            }
        default:
            reply = .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .methodNotFound, message: "Method not found: \(method)")
            )
        }
        return EraBridge.reply(reply, toClient: context.era)
    }

    private func callTool(
        _ request: JSONRPCMessage,
        id: JSONRPCID,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async -> JSONRPCMessage {
        guard let name = request.paramsName else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "tools/call needs params.name")
            )
        }
        guard let tool = catalog.resolve(name, scope: context.scope) else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "Unknown tool: \(name)")
            )
        }
        guard !tool.isHidden else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(
                    code: .invalidParams,
                    message:
                        "Tool \(name) is blocked: its definition changed since it was approved; an administrator must approve it"
                )
            )
        }
        guard let server = serversByName[tool.server],
            let routed = request.replacingParamsMember("name", with: .string(tool.upstreamName), inMeta: false)
        else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "Unknown tool: \(name)")
            )
        }
        return await forward(
            routed,
            to: server,
            id: id,
            context: context,
            toolHeaders: tool.headerBindings,
            onNotification: onNotification
        )
    }

    private func forward(
        _ request: JSONRPCMessage,
        to server: UpstreamServer,
        id: JSONRPCID,
        context: MCPCallContext,
        toolHeaders: MCPToolHeaderBindings = .none,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async -> JSONRPCMessage {
        do {
            return try await server.call(
                request,
                from: context.client,
                clientCapabilities: context.clientCapabilities,
                toolHeaders: toolHeaders,
                onNotification: onNotification
            )
        } catch {
            // A cancelled call was ended by its route (client gone, shutdown), which says so itself.
            let level: Logger.Level = Task.isCancelled ? .debug : .notice
            logger.log(
                level: level,
                "MCP call failed",
                metadata: ["mcp_server": "\(server.name)", "error": "\(error)"]
            )
            return .errorResponse(id: id, error: error.jsonRPCError)
        }
    }

    /// Prompts are prefixed like tools on `/mcp`; the prefix picks the server.
    private func routePrompt(
        _ request: JSONRPCMessage,
        id: JSONRPCID,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void,
        nameAt path: [String] = ["name"]
    ) async -> JSONRPCMessage {
        var value = request.params
        for key in path { value = value?[key] }
        guard let name = value?.stringValue else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "missing prompt name")
            )
        }
        let serverName: String
        let upstreamName: String
        if let scope = context.scope {
            (serverName, upstreamName) = (scope, name)
        } else if let separator = name.range(of: FederatedToolName.separator) {
            (serverName, upstreamName) = (String(name[..<separator.lowerBound]), String(name[separator.upperBound...]))
        } else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "Unknown prompt: \(name)")
            )
        }
        guard let server = serversByName[serverName], var params = request.params?.objectValue else {
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(code: .invalidParams, message: "Unknown prompt: \(name)")
            )
        }
        if path.count == 2, var reference = params["ref"]?.objectValue {
            reference["name"] = .string(upstreamName)
            params["ref"] = .object(reference)
        } else {
            params["name"] = .string(upstreamName)
        }
        return await forward(
            request.replacingParams(with: .object(params)),
            to: server,
            id: id,
            context: context,
            onNotification: onNotification
        )
    }

    /// Resource URIs are served as the servers name them; the owner is remembered from lists.
    private func routeResource(
        _ request: JSONRPCMessage,
        uri: String?,
        id: JSONRPCID,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async -> JSONRPCMessage {
        guard let uri else {
            return .errorResponse(id: id, error: JSONRPCErrorObject(code: .invalidParams, message: "missing uri"))
        }
        let candidates = servers(in: context.scope).filter {
            let snapshot = $0.snapshot
            return snapshot.status == .up && snapshot.capabilities["resources"] != nil
        }
        let remembered = resourceOwners.withLock { $0[uri] }
        let owner =
            candidates.first { $0.name == remembered }
            ?? candidates.first { server in
                resourceOwners.withLock { owners in
                    owners.contains { entry in
                        guard entry.value == server.name, let brace = entry.key.firstIndex(of: "{") else {
                            return false
                        }
                        return uri.hasPrefix(entry.key[..<brace])
                    }
                }
            } ?? (candidates.count == 1 ? candidates.first : nil)
        guard let owner else {
            let code =
                context.era.version >= MCPProtocolVersion.firstStateless
                ? JSONRPCErrorCode.invalidParams.rawValue : MCPErrorCode.resourceNotFound
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(
                    code: code,
                    message: "Resource not found",
                    data: .object(JSONObject(["uri": .string(uri)]))
                )
            )
        }
        return await forward(request, to: owner, id: id, context: context, onNotification: onNotification)
    }

    /// Fans a list out to every healthy server in scope, in parallel, reads every page, merges,
    /// and pages the result with the gateway's own cursor.
    private func mergedList(
        method: String,
        key: String,
        id: JSONRPCID,
        params: JSONValue?,
        context: MCPCallContext
    ) async -> JSONRPCMessage {
        let capability = key == "prompts" ? "prompts" : "resources"
        let targets = servers(in: context.scope).filter {
            let snapshot = $0.snapshot
            return snapshot.status == .up && snapshot.capabilities[capability] != nil
        }
        let collected = await withTaskGroup(of: (Int, [JSONValue], Int).self) { group in
            for (index, server) in targets.enumerated() {
                group.addTask {
                    var reader = PagedListReader(key: key)
                    while !reader.isComplete {
                        let serial = self.listRequests.wrappingAdd(1, ordering: .relaxed).oldValue
                        let pageRequest = JSONRPCMessage.request(
                            id: .string("gatehouse-list-\(serial)"),
                            method: method,
                            params: reader.nextParams
                        )
                        guard
                            let reply = try? await server.call(
                                pageRequest,
                                from: UpstreamServer.gatewayClient,
                                clientCapabilities: context.clientCapabilities,
                                onNotification: { _ in }
                            ),
                            case .response(_, let result) = reply.kind, reader.absorb(result)
                        else { break }
                    }
                    return (index, reader.items, reader.ttlMilliseconds)
                }
            }
            var byIndex: [Int: [JSONValue]] = [:]
            var smallestTTL: Int?
            for await (index, items, ttl) in group {
                byIndex[index] = items
                smallestTTL = min(smallestTTL ?? ttl, ttl)
            }
            return (byIndex, smallestTTL ?? 0)
        }
        var merged: [JSONValue] = []
        var owners: [(String, String)] = []
        for (index, server) in targets.enumerated() {
            for item in collected.0[index] ?? [] {
                guard var object = item.objectValue else { continue }
                switch key {
                case "prompts":
                    if context.scope == nil, let name = object["name"]?.stringValue {
                        object["name"] = .string(server.name + FederatedToolName.separator + name)
                    }
                case "resources":
                    if let uri = object["uri"]?.stringValue { owners.append((uri, server.name)) }
                default:
                    if let template = object["uriTemplate"]?.stringValue { owners.append((template, server.name)) }
                }
                merged.append(.object(object))
            }
        }
        if !owners.isEmpty {
            resourceOwners.withLock { remembered in
                if remembered.count + owners.count > Self.maximumRememberedResources { remembered = [:] }
                for (uri, server) in owners { remembered[uri] = server }
            }
        }
        return page(merged, key: key, ttlMilliseconds: collected.1, id: id, params: params, context: context)
    }

    /// One page of a gateway-merged list. The cursor is the offset, in a form clients must treat
    /// as opaque; a cursor the gateway did not mint is -32602.
    private func page(
        _ items: [JSONValue],
        key: String,
        ttlMilliseconds: Int,
        id: JSONRPCID,
        params: JSONValue?,
        context: MCPCallContext
    ) -> JSONRPCMessage {
        var offset = 0
        if let cursor = params?["cursor"]?.stringValue, !cursor.isEmpty {
            guard cursor.hasPrefix("gh-page-"), let parsed = Int(cursor.dropFirst(8)), parsed >= 0,
                parsed <= items.count
            else {
                return .errorResponse(
                    id: id,
                    error: JSONRPCErrorObject(code: .invalidParams, message: "Invalid cursor")
                )
            }
            offset = parsed
        }
        let end = min(offset + Self.pageSize, items.count)
        var result = JSONObject([key: .array(Array(items[offset..<end]))])
        if end < items.count { result["nextCursor"] = .string("gh-page-\(end)") }
        if case .stateless = context.era {
            // Private whatever the servers say: what the gateway lists depends on who asks.
            result["ttlMs"] = JSONValue(ttlMilliseconds)
            result["cacheScope"] = .string("private")
        }
        return .response(id: id, result: .object(result))
    }
}
