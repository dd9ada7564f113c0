internal import Foundation
public import GatehouseCore
public import GatehouseJSON
public import GatehouseTracing
public import Logging
public import Metrics
public import NIOCore
public import Policy
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
    /// The session-era `Mcp-Session-Id` the request came under; nil for stateless clients.
    public var sessionID: String?

    /// The calling agent's name.
    public var agent: String { caller.identity.agentName }

    /// The MCP session and agent run, for session rules.
    var sessionKeys: SessionKeys { SessionKeys(mcpSession: sessionID, run: caller.run) }

    /// Who and where, for the content guards on one subject (a tool, resource URI or prompt).
    func guardContext(subject: String) -> GuardContext {
        GuardContext(identity: caller.identity, requestID: caller.requestID, subject: subject, session: sessionKeys)
    }
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
    /// Held while a catalog is built from the servers' snapshots and stored. Servers that come up
    /// together rebuild at once; unserialized, a rebuild that read the snapshots before another
    /// server's tools arrived could store its catalog last and lose those tools until the next
    /// refresh.
    private let rebuilding = Mutex(())
    private let resourceOwners = Mutex<[String: String]>([:])
    private let listRequests = Atomic<UInt64>(0)
    /// Open 2026 `subscriptions/listen` streams; `isClosed` once shutdown has ended them.
    private let listeners = Mutex<
        (open: [UInt64: (mailbox: Mailbox<MCPSession.SessionEvent>, toolsListChanged: Bool)], isClosed: Bool)
    >(([:], false))
    private let listenerKeys = Atomic<UInt64>(0)
    private let pins: ToolPinRegistry
    private let logger: Logger
    /// Decides what each caller may list and call, and counts calls against its limits.
    let policy: any PolicyDecisionPoint
    /// Receives each tools/call for the agent's trace.
    let tracer: any TraceRecorder
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
        logger: Logger,
        policy: any PolicyDecisionPoint = AllowAllPolicy(),
        tracer: any TraceRecorder = NoTraceRecorder()
    ) {
        self.configuration = configuration
        self.policy = policy
        self.tracer = tracer
        self.sessions = MCPSessionTable(
            maximumSessions: configuration.maximumSessions,
            idleTimeout: configuration.sessionIdleTimeout,
            onEnd: { [policy] id in policy.endMCPSession(id) }
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
        let changed = rebuilding.withLock { _ -> Bool in
            let rebuilt = FederatedCatalog(servers: servers.map { ($0.definition, $0.snapshot) }, logger: logger)
            return catalogState.withLock { current -> Bool in
                let before = current.listed(scope: nil)
                current = rebuilt
                return before != rebuilt.listed(scope: nil)
            }
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

    /// Answers one request: the federation's edge, where its errors (`MCPRequestError`) become
    /// JSON-RPC error responses in the client's era. `onNotification` receives progress and log
    /// notifications of a routed call.
    public func handle(
        _ request: JSONRPCMessage,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void = { _ in }
    ) async -> JSONRPCMessage {
        guard case .request(let id, let method, let params) = request.kind else {
            return .errorResponse(id: nil, error: MCPRequestError.notARequest.jsonRPCError(era: context.era))
        }
        let reply: JSONRPCMessage
        do {
            reply = try await answer(
                request,
                id: id,
                method: method,
                params: params,
                context: context,
                onNotification: onNotification
            )
        } catch {
            reply = .errorResponse(id: id, error: error.jsonRPCError(era: context.era))
        }
        return EraBridge.reply(reply, toClient: context.era)
    }

    private func answer(
        _ request: JSONRPCMessage,
        id: JSONRPCID,
        method: String,
        params: JSONValue?,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(MCPRequestError) -> JSONRPCMessage {
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
            reply = try page(
                catalog.listed(scope: context.scope) { tool in
                    mayList(tool, context: context)
                },
                key: "tools",
                ttlMilliseconds: catalog.ttlMilliseconds(scope: context.scope),
                id: id,
                params: params,
                context: context
            )
        case "tools/call":
            reply = try await callTool(request, context: context, onNotification: onNotification)
        case "prompts/list":
            reply = try await mergedList(method: method, key: "prompts", id: id, params: params, context: context)
        case "resources/list":
            reply = try await mergedList(method: method, key: "resources", id: id, params: params, context: context)
        case "resources/templates/list":
            reply = try await mergedList(
                method: method,
                key: "resourceTemplates",
                id: id,
                params: params,
                context: context
            )
        case "prompts/get":
            let answered = try await routePrompt(request, context: context, onNotification: onNotification)
            reply = try await guardServerContent(
                answered,
                subject: params?["name"]?.stringValue ?? "",
                context: context
            )
        case "resources/read":
            let answered = try await routeResource(
                request,
                uri: params?["uri"]?.stringValue,
                context: context,
                onNotification: onNotification
            )
            reply = try await guardServerContent(answered, subject: params?["uri"]?.stringValue ?? "", context: context)
        case "resources/subscribe", "resources/unsubscribe":
            reply = try await routeResource(
                request,
                uri: params?["uri"]?.stringValue,
                context: context,
                onNotification: onNotification
            )
        case "completion/complete":
            let reference = params?["ref"]
            if reference?["type"]?.stringValue == "ref/resource" {
                reply = try await routeResource(
                    request,
                    uri: reference?["uri"]?.stringValue,
                    context: context,
                    onNotification: onNotification
                )
            } else {
                reply = try await routePrompt(
                    request,
                    context: context,
                    onNotification: onNotification,
                    nameAt: ["ref", "name"]
                )
            }
        default:
            throw .methodNotFound(method: method)
        }
        return reply
    }

    // MARK: - Policy

    /// Whether `tools/list` shows the tool to this caller.
    private func mayList(_ tool: FederatedCatalog.Tool, context: MCPCallContext) -> Bool {
        guard policy.isActive else { return true }
        let input = PolicyInput(
            identity: context.caller.identity,
            action: .listTool(ToolTarget(server: tool.server, name: tool.federatedName))
        )
        return policy.decide(input).isAllowed
    }

    /// Whether the caller may list and use a server's prompts and resources.
    private func mayUse(server: String, context: MCPCallContext) -> Bool {
        guard policy.isActive else { return true }
        return policy.decide(PolicyInput(identity: context.caller.identity, action: .useServer(server))).isAllowed
    }

    /// The policy's answer to a call; throws the refusal, which never reaches the upstream.
    private func admit(
        _ tool: FederatedCatalog.Tool,
        arguments: JSONValue?,
        trace: ToolCallTrace?,
        context: MCPCallContext
    ) async throws(MCPRequestError) -> PolicyTicket {
        let input = PolicyInput(
            identity: context.caller.identity,
            action: .callTool(ToolTarget(server: tool.server, name: tool.federatedName), arguments: arguments),
            requestID: context.caller.requestID,
            session: context.sessionKeys
        )
        switch await policy.admit(input, estimatedTokens: 0) {
        case .admitted(let ticket):
            if policy.isActive { trace?.decided("admission", ticket.decision) }
            return ticket
        case .refused(let decision):
            trace?.decided("admission", decision)
            logger.info(
                "MCP call refused by policy",
                metadata: [
                    "agent": "\(context.agent)", "tool": "\(tool.federatedName)",
                    "decision": "\(decision.effect.rawValue)",
                    "rule": "\(decision.rule)",
                ]
            )
            throw .policyRefused(decision)
        }
    }

    private func callTool(
        _ request: JSONRPCMessage,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        guard let name = request.paramsName else { throw .missingToolName }
        guard let tool = catalog.resolve(name, scope: context.scope) else { throw .unknownTool(name: name) }
        guard !tool.isHidden else { throw .toolBlockedByPin(name: name) }
        guard let server = serversByName[tool.server] else { throw .unknownTool(name: name) }
        let trace =
            tracer.isActive
            ? ToolCallTrace(
                recorder: tracer,
                request: request,
                tool: tool.federatedName,
                context: context,
                capture: policy.contentCapture(context.caller.identity)
            ) : nil
        do throws(MCPRequestError) {
            // The request toward the server carries the upstream hop as its parent.
            guard
                let routed = request.routedToolCall(
                    name: tool.upstreamName,
                    traceParent: trace?.handle.upstreamTraceParent
                )
            else { throw MCPRequestError.unknownTool(name: name) }
            let reply = try await callTool(
                request,
                tool: tool,
                server: server,
                routed: routed,
                trace: trace,
                context: context,
                onNotification: onNotification
            )
            trace?.end(reply)
            return reply
        } catch {
            trace?.end(.jsonRPCError(code: error.jsonRPCError(era: context.era).code, message: error.traceMessage))
            throw error
        }
    }

    private func callTool(
        _ request: JSONRPCMessage,
        tool: FederatedCatalog.Tool,
        server: UpstreamServer,
        routed: JSONRPCMessage,
        trace: ToolCallTrace?,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        let target = ToolTarget(server: tool.server, name: tool.federatedName)
        let guardContext = context.guardContext(subject: tool.federatedName)
        let ticket: PolicyTicket
        var outgoing = routed
        do throws(MCPRequestError) {
            ticket = try await admit(tool, arguments: request.params?["arguments"], trace: trace, context: context)
            if let arguments = request.params?["arguments"],
                let argumentGuard = policy.contentGuard(.toolArguments, context: guardContext)
            {
                let (outcome, redacted) = await argumentGuard.check(json: arguments, reading: .everything)
                trace?.guarded(.toolArguments, outcome)
                if case .blocked(let decision) = outcome.verdict { throw MCPRequestError.policyRefused(decision) }
                if let redacted,
                    let replaced = outgoing.replacingParamsMember("arguments", with: redacted, inMeta: false)
                {
                    outgoing = replaced
                }
            }
        } catch {
            if case .policyRefused(let decision) = error, decision.effect == .deny || decision.effect == .block,
                policy.deniesWithToolResult(context.caller.identity), let id = request.id
            {
                return .response(id: id, result: Self.deniedToolResult(decision))
            }
            throw error
        }
        defer { ticket.finish(usedTokens: nil) }
        trace?.captureArguments(outgoing.params?["arguments"])
        let upstreamStart = trace == nil ? 0 : TraceClock.now()
        let reply: JSONRPCMessage
        do throws(MCPRequestError) {
            reply = try await forward(
                outgoing,
                to: server,
                context: context,
                toolHeaders: tool.headerBindings,
                onNotification: onNotification
            )
        } catch {
            trace?.upstream(server: server.name, tool: tool.upstreamName, startNanoseconds: upstreamStart)
            throw error
        }
        trace?.upstream(server: server.name, tool: tool.upstreamName, startNanoseconds: upstreamStart)
        guard case .response(let id, let result) = reply.kind else { return reply }
        let guarded = try await guardResult(
            result,
            id: id,
            guardContext: guardContext,
            context: context,
            trace: trace
        )
        policy.recordToolResult(target, context: guardContext, detectors: guarded.detectors)
        let answer = guarded.reply ?? reply
        if let trace, case .response(_, let finalResult) = answer.kind { trace.captureResult(finalResult) }
        return answer
    }

    /// `resources/read` and `prompts/get` answers pass the tool-result guards too (their subject is
    /// the resource URI or the prompt's name).
    private func guardServerContent(
        _ reply: JSONRPCMessage,
        subject: String,
        context: MCPCallContext
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        guard case .response(let id, let result) = reply.kind else { return reply }
        return try await guardResult(
            result,
            id: id,
            guardContext: context.guardContext(subject: subject),
            context: context,
            asToolResult: false
        )
        .reply ?? reply
    }

    /// The result guards of a tool result, resource or prompt: the reply with masked text, or the
    /// refusal (an error, or an `isError` result under `denials: tool_result` for tools).
    private func guardResult(
        _ result: JSONValue,
        id: JSONRPCID,
        guardContext: GuardContext,
        context: MCPCallContext,
        asToolResult: Bool = true,
        trace: ToolCallTrace? = nil
    ) async throws(MCPRequestError) -> (reply: JSONRPCMessage?, detectors: [String]) {
        guard let resultGuard = policy.contentGuard(.toolResult, context: guardContext) else { return (nil, []) }
        let (outcome, redacted) = await resultGuard.check(json: result, reading: .messageContent)
        trace?.guarded(.toolResult, outcome)
        switch outcome.verdict {
        case .pass:
            return (nil, outcome.detectors)
        case .redacted:
            return (redacted.map { .response(id: id, result: $0) }, outcome.detectors)
        case .blocked(let decision):
            logger.info(
                "MCP result blocked by a guard",
                metadata: [
                    "agent": "\(context.agent)", "subject": "\(guardContext.subject)", "rule": "\(decision.rule)",
                ]
            )
            if asToolResult, policy.deniesWithToolResult(context.caller.identity) {
                return (.response(id: id, result: Self.deniedToolResult(decision)), outcome.detectors)
            }
            throw .policyRefused(decision)
        }
    }

    /// A denial as a tool result the model reads (`denials: tool_result`).
    private static func deniedToolResult(_ decision: PolicyDecision) -> JSONValue {
        .object(
            JSONObject([
                "content": .array([
                    .object(
                        JSONObject([
                            "type": .string("text"),
                            "text": .string(MCPRequestError.policyMessage(decision)),
                        ])
                    )
                ]),
                "isError": .bool(true),
            ])
        )
    }

    private func forward(
        _ request: JSONRPCMessage,
        to server: UpstreamServer,
        context: MCPCallContext,
        toolHeaders: MCPToolHeaderBindings = .none,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(MCPRequestError) -> JSONRPCMessage {
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
            throw .upstream(error)
        }
    }

    /// Prompts are prefixed like tools on `/mcp`; the prefix picks the server.
    private func routePrompt(
        _ request: JSONRPCMessage,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void,
        nameAt path: [String] = ["name"]
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        var value = request.params
        for key in path { value = value?[key] }
        guard let name = value?.stringValue else { throw .missingPromptName }
        let serverName: String
        let upstreamName: String
        if let scope = context.scope {
            (serverName, upstreamName) = (scope, name)
        } else if let separator = name.range(of: FederatedToolName.separator) {
            (serverName, upstreamName) = (String(name[..<separator.lowerBound]), String(name[separator.upperBound...]))
        } else {
            throw .unknownPrompt(name: name)
        }
        guard let server = serversByName[serverName], var params = request.params?.objectValue else {
            throw .unknownPrompt(name: name)
        }
        try await requireServer(serverName, context: context)
        if path.count == 2, var reference = params["ref"]?.objectValue {
            reference["name"] = .string(upstreamName)
            params["ref"] = .object(reference)
        } else {
            params["name"] = .string(upstreamName)
        }
        return try await forward(
            request.replacingParams(with: .object(params)),
            to: server,
            context: context,
            onNotification: onNotification
        )
    }

    /// Resource URIs are served as the servers name them; the owner is remembered from lists.
    private func routeResource(
        _ request: JSONRPCMessage,
        uri: String?,
        context: MCPCallContext,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        guard let uri else { throw .missingResourceURI }
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
        guard let owner else { throw .resourceNotFound(uri: uri) }
        try await requireServer(owner.name, context: context)
        return try await forward(request, to: owner, context: context, onNotification: onNotification)
    }

    private func requireServer(_ server: String, context: MCPCallContext) async throws(MCPRequestError) {
        guard policy.isActive else { return }
        let input = PolicyInput(
            identity: context.caller.identity,
            action: .useServer(server),
            requestID: context.caller.requestID
        )
        if case .refused(let decision) = await policy.admit(input, estimatedTokens: 0) {
            throw .policyRefused(decision)
        }
    }

    /// Fans a list out to every healthy server in scope, in parallel, reads every page, merges,
    /// and pages the result with the gateway's own cursor.
    private func mergedList(
        method: String,
        key: String,
        id: JSONRPCID,
        params: JSONValue?,
        context: MCPCallContext
    ) async throws(MCPRequestError) -> JSONRPCMessage {
        let capability = key == "prompts" ? "prompts" : "resources"
        let targets = servers(in: context.scope).filter {
            let snapshot = $0.snapshot
            return snapshot.status == .up && snapshot.capabilities[capability] != nil
                && mayUse(server: $0.name, context: context)
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
        return try page(merged, key: key, ttlMilliseconds: collected.1, id: id, params: params, context: context)
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
    ) throws(MCPRequestError) -> JSONRPCMessage {
        var offset = 0
        if let cursor = params?["cursor"]?.stringValue, !cursor.isEmpty {
            guard cursor.hasPrefix("gh-page-"), let parsed = Int(cursor.dropFirst(8)), parsed >= 0,
                parsed <= items.count
            else { throw .invalidCursor }
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
