internal import AsyncHTTPClient
public import GatehouseJSON
internal import Logging
internal import NIOCore
internal import Synchronization

/// Where an upstream server stands.
public enum UpstreamServerStatus: String, Sendable, Equatable {
    case starting, up, down, stopped
}

/// One tool of one server as the gateway last saw it, with its pin.
public struct UpstreamTool: Sendable, Equatable {
    /// The definition as the server sent it.
    public let definition: JSONObject
    public let upstreamName: String
    public let hash: String
    public let pinState: ToolPinState
    public let approvedHash: String
}

/// What the admin API and the federation read about a server.
public struct UpstreamServerSnapshot: Sendable {
    public let name: String
    public let transport: String
    public let status: UpstreamServerStatus
    public let era: MCPEra?
    public let processID: Int32?
    public let restarts: Int
    public let lastError: String?
    public let capabilities: JSONObject
    public let instructions: String?
    /// Every tool curation keeps, in the server's order.
    public let tools: [UpstreamTool]
    public let pinning: ToolPinningMode
    /// The smallest `ttlMs` of the server's last `tools/list` pages (0 when it sent none).
    public let toolsTTLMilliseconds: Int
}

/// Supervises one upstream server: connects (spawning a stdio process or reaching an HTTP
/// endpoint), detects its era (`server/discover`, then `initialize`), fetches its tools and pins
/// them, marks it up, and when the connection ends marks it down and tries again after a capped
/// exponential backoff. Everything it learns is kept in one snapshot that callers read.
public final class UpstreamServer: Sendable {
    public let definition: MCPServerDefinition
    private let pinning: ToolPinningMode
    private let requestTimeout: Duration
    private let maximumPending: Int
    private let group: any EventLoopGroup
    /// Streamable HTTP servers only: a pool of their own, with the server's connect timeout.
    private let httpClient: HTTPClient?
    private let pins: ToolPinRegistry
    private let logger: Logger
    private let onChange: @Sendable () -> Void
    private let countUpstreamMessage: @Sendable () -> Void
    private let callMetrics: MCPCallMetrics
    private let state: Mutex<State>
    /// Calls in a row that timed out (any reply resets it).
    private let unansweredCalls = Atomic<Int>(0)
    private let wakeups = Mailbox<Wakeup>(capacity: 8)

    /// The id the gateway's own calls (handshake, tool lists) use in the request tables.
    static let gatewayClient = ClientToken(0)
    /// How long a server may take to answer `server/discover` before it counts as session-era.
    static let discoverTimeout: Duration = .seconds(5)
    /// Tools are listed again this often besides when a server says they changed: a 2026 server
    /// can only say so on a subscription, and a changed definition must not go unnoticed.
    static let toolsRefreshInterval: Duration = .seconds(60)

    private enum Wakeup: Sendable {
        case restart
        case refreshTools
        /// Calls keep timing out: the server is alive but not answering.
        case unresponsive
    }

    private struct State {
        var status = UpstreamServerStatus.starting
        var era: MCPEra?
        var connection: (any UpstreamConnection)?
        var restarts = 0
        var lastError: String?
        var capabilities = JSONObject()
        var instructions: String?
        var tools: [UpstreamTool] = []
        var toolsTTLMilliseconds = 0
    }

    init(
        definition: MCPServerDefinition,
        configuration: MCPHostConfiguration,
        group: any EventLoopGroup,
        pins: ToolPinRegistry,
        logger: Logger,
        countUpstreamMessage: @escaping @Sendable () -> Void,
        callMetrics: MCPCallMetrics,
        onChange: @escaping @Sendable () -> Void
    ) {
        self.callMetrics = callMetrics
        self.definition = definition
        self.pinning = definition.pinning ?? configuration.toolPinning
        self.requestTimeout = configuration.requestTimeout
        self.maximumPending = configuration.maximumPendingPerServer
        self.group = group
        if case .streamableHTTP(let endpoint) = definition.transport {
            var clientConfiguration = HTTPClient.Configuration(
                timeout: .init(
                    connect: TimeAmount(endpoint.connectTimeout),
                    read: TimeAmount(configuration.requestTimeout)
                ),
                // Calls in flight each need a connection (HTTP/1.1): the default of 8 would queue them.
                connectionPool: .init(
                    idleTimeout: .seconds(60),
                    concurrentHTTP1ConnectionsPerHostSoftLimit: min(configuration.maximumPendingPerServer, 256)
                )
            )
            // The gateway traces tool calls itself; the client's own span per request would only cost time.
            clientConfiguration.tracing.tracer = nil
            self.httpClient = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: clientConfiguration)
        } else {
            self.httpClient = nil
        }
        self.pins = pins
        var logger = logger
        logger[metadataKey: "mcp_server"] = "\(definition.name)"
        self.logger = logger
        self.countUpstreamMessage = countUpstreamMessage
        self.onChange = onChange
        self.state = Mutex(State())
    }

    public var name: String { definition.name }

    public var snapshot: UpstreamServerSnapshot {
        state.withLock { state in
            UpstreamServerSnapshot(
                name: definition.name,
                transport: definition.transport.name,
                status: state.status,
                era: state.era,
                processID: state.status == .up || state.status == .starting ? state.connection?.processID : nil,
                restarts: state.restarts,
                lastError: state.lastError,
                capabilities: state.capabilities,
                instructions: state.instructions,
                tools: state.tools,
                pinning: pinning,
                toolsTTLMilliseconds: state.toolsTTLMilliseconds
            )
        }
    }

    /// Asks for a fresh start (the admin API's restart): the connection is closed and reopened.
    public func restart() {
        wakeups.post(.restart)
    }

    /// Accepts a tool's current definition as its pin.
    public func approve(upstreamToolName: String) async throws -> String? {
        guard let tool = state.withLock({ $0.tools.first { $0.upstreamName == upstreamToolName } }) else { return nil }
        try await pins.approve(server: name, tool: upstreamToolName, hash: tool.hash)
        state.withLock { state in
            state.tools = state.tools.map { existing in
                guard existing.upstreamName == upstreamToolName else { return existing }
                return UpstreamTool(
                    definition: existing.definition,
                    upstreamName: existing.upstreamName,
                    hash: existing.hash,
                    pinState: .approved,
                    approvedHash: existing.hash
                )
            }
        }
        logger.notice("tool definition approved", metadata: ["tool": "\(upstreamToolName)", "hash": "\(tool.hash)"])
        onChange()
        return tool.hash
    }

    // MARK: - Calls

    /// Sends a client's request, adapted to the server's era, and returns the reply with the
    /// client's id.
    public func call(
        _ request: JSONRPCMessage,
        from client: ClientToken,
        clientCapabilities: JSONObject,
        toolHeaders: MCPToolHeaderBindings = .none,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> JSONRPCMessage {
        let current = state.withLock { state -> (any UpstreamConnection, MCPEra)? in
            guard state.status == .up, let connection = state.connection, let era = state.era else { return nil }
            return (connection, era)
        }
        let started = ContinuousClock.now
        guard let (connection, era) = current else {
            let reason = state.withLock { $0.lastError } ?? "not started yet"
            callMetrics.record(reply: nil, elapsed: .now - started)
            throw .unavailable(server: name, reason: reason)
        }
        let adapted = EraBridge.request(request, toUpstream: era, clientCapabilities: clientCapabilities)
        do {
            let reply = try await connection.call(
                adapted,
                from: client,
                timeout: requestTimeout,
                toolHeaders: toolHeaders,
                onNotification: onNotification
            )
            unansweredCalls.store(0, ordering: .relaxed)
            callMetrics.record(reply: reply, elapsed: .now - started)
            return reply
        } catch {
            if case .timedOut = error { noteUnanswered() }
            callMetrics.record(reply: nil, elapsed: .now - started)
            throw error
        }
    }

    /// A server whose last `unansweredLimit` calls all timed out is restarted: it is up, but hung.
    static let unansweredLimit = 3

    private func noteUnanswered() {
        let count = unansweredCalls.wrappingAdd(1, ordering: .relaxed).newValue
        if count == Self.unansweredLimit { wakeups.post(.unresponsive) }
    }

    /// Forwards a client's notification (for example `notifications/cancelled` is handled by the
    /// connection itself through task cancellation; others pass as they are).
    public func notify(_ notification: JSONRPCMessage) async {
        guard
            let (connection, era) = state.withLock({ state -> (any UpstreamConnection, MCPEra)? in
                guard state.status == .up, let connection = state.connection, let era = state.era else { return nil }
                return (connection, era)
            })
        else { return }
        await connection.notify(EraBridge.request(notification, toUpstream: era, clientCapabilities: JSONObject()))
    }

    // MARK: - Supervision

    /// Runs until the task is cancelled (shutdown), then stops the server gracefully.
    public func run() async {
        var lifecycle = StdioServerLifecycle<ContinuousClock.Instant>()
        _ = lifecycle.start()
        while !Task.isCancelled {
            setStatus(.starting, error: nil)
            var connection: (any UpstreamConnection)?
            var actions: [StdioServerLifecycle<ContinuousClock.Instant>.Action]
            do {
                let opened = try await connect()
                connection = opened
                state.withLock { $0.connection = opened }
                try await withStartupDeadline { try await self.handshake(opened) }
                unansweredCalls.store(0, ordering: .relaxed)
                setStatus(.up, error: nil)
                _ = lifecycle.becameReady(at: .now)
                logger.info("MCP server up", metadata: ["era": "\(state.withLock { $0.era?.version.rawValue ?? "?" })"])
                let reason = await serve(opened)
                if Task.isCancelled { break }
                setStatus(.down, error: reason)
                logger.warning("MCP server down", metadata: ["reason": "\(reason)"])
                await opened.shutdown()
                actions = lifecycle.processExited(reason: reason, at: .now)
            } catch {
                if Task.isCancelled { break }
                let reason = "\(error)"
                setStatus(.down, error: reason)
                logger.warning("MCP server failed to start", metadata: ["reason": "\(reason)"])
                await connection?.shutdown()
                actions = lifecycle.failedToStart(reason: reason, at: .now)
            }
            state.withLock { $0.connection = nil }
            var delay: Duration = .zero
            for case .restart(let after) in actions { delay = after }
            if await waitBeforeRestart(delay) == .cancelled { break }
            // The backoff is over, or a restart request cut it short: either way it counts as elapsed.
            _ = lifecycle.restartTimerFired(at: .now.advanced(by: delay))
            state.withLock { $0.restarts += 1 }
        }
        let connection = state.withLock { state -> (any UpstreamConnection)? in
            state.status = .stopped
            defer { state.connection = nil }
            return state.connection
        }
        await connection?.shutdown()
        try? await httpClient?.shutdown()
        onChange()
    }

    private enum WaitOutcome { case elapsed, restartRequested, cancelled }

    /// Sleeps out the backoff; a restart request cuts it short.
    private func waitBeforeRestart(_ delay: Duration) async -> WaitOutcome {
        await withTaskGroup(of: WaitOutcome.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: delay)
                    return .elapsed
                } catch {
                    return .cancelled
                }
            }
            group.addTask {
                while let wakeup = await self.wakeups.next() {
                    if wakeup == .restart { return .restartRequested }
                }
                return .cancelled
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return Task.isCancelled ? .cancelled : first
        }
    }

    /// While the connection lives: refresh tools when the server says they changed; return when
    /// the connection ends or a restart is requested.
    private func serve(_ connection: any UpstreamConnection) async -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { await connection.waitUntilClosed() }
            group.addTask {
                while (try? await Task.sleep(for: Self.toolsRefreshInterval)) != nil {
                    self.wakeups.post(.refreshTools)
                }
                return nil
            }
            group.addTask {
                while let wakeup = await self.wakeups.next() {
                    switch wakeup {
                    case .restart: return "restart requested"
                    case .unresponsive:
                        return "stopped answering: \(Self.unansweredLimit) calls in a row timed out"
                    case .refreshTools:
                        do {
                            try await self.refreshTools(connection)
                        } catch {
                            if case .timedOut? = error as? UpstreamCallError { self.noteUnanswered() }
                            self.logger.warning("tool list refresh failed", metadata: ["error": "\(error)"])
                        }
                    }
                }
                return nil
            }
            var reason = "stopped"
            for await result in group {
                if let result {
                    reason = result
                    break
                }
            }
            group.cancelAll()
            return reason
        }
    }

    private func setStatus(_ status: UpstreamServerStatus, error: String?) {
        let changed = state.withLock { state -> Bool in
            let changed = state.status != status
            state.status = status
            if let error { state.lastError = error }
            return changed
        }
        if changed { onChange() }
    }

    private func withStartupDeadline(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let timeout = definition.startupTimeout
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            guard finished else { throw StartupError.timedOut(timeout) }
        }
    }

    enum StartupError: Error, CustomStringConvertible {
        case timedOut(Duration)
        case handshakeFailed(String)

        var description: String {
            switch self {
            case .timedOut(let limit): return "did not start within \(limit)"
            case .handshakeFailed(let reason): return "handshake failed: \(reason)"
            }
        }
    }

    private func connect() async throws -> any UpstreamConnection {
        let handlers = UpstreamEventHandlers(
            onNotification: { [weak self] message in self?.upstreamNotification(message) },
            onRequest: { message in
                guard case .request(let id, let method, _) = message.kind else { return message }
                if method == "ping" { return .response(id: id, result: .object(JSONObject())) }
                return .errorResponse(
                    id: id,
                    error: JSONRPCErrorObject(
                        code: .methodNotFound,
                        message: "The gateway does not forward \(method) from servers to clients"
                    )
                )
            }
        )
        switch definition.transport {
        case .stdio(let launch):
            return try await StdioUpstreamConnection.start(
                serverName: name,
                launch: launch,
                group: group,
                maximumPending: maximumPending,
                maximumLineLength: 16 << 20,
                handlers: handlers,
                logger: logger,
                onUpstreamMessage: countUpstreamMessage
            )
        case .streamableHTTP(let endpoint):
            guard let httpClient else { throw StartupError.handshakeFailed("no HTTP client") }
            return StreamableHTTPUpstreamConnection(
                serverName: name,
                endpoint: endpoint,
                client: httpClient,
                maximumBodySize: 16 << 20,
                handlers: handlers,
                logger: logger,
                onUpstreamMessage: countUpstreamMessage
            )
        }
    }

    private func upstreamNotification(_ message: JSONRPCMessage) {
        switch message.method {
        case "notifications/tools/list_changed":
            wakeups.post(.refreshTools)
        case "notifications/message":
            let level = message.params?["level"]?.stringValue ?? "info"
            logger.info(
                "server log",
                metadata: ["level": "\(level)", "data": "\(message.params?["data"].map { $0.serializedString } ?? "")"]
            )
        default:
            break
        }
    }

    // MARK: - Handshake and tools

    /// `server/discover` first; anything but a usable 2026 answer means a session-era server,
    /// which gets one `initialize` handshake.
    private func handshake(_ connection: any UpstreamConnection) async throws {
        let stateless = MCPProtocolVersion.firstStateless
        let discover = JSONRPCMessage.request(
            id: .string("gatehouse-discover"),
            method: "server/discover",
            params: .object(JSONObject())
        )
        let discoverRequest = EraBridge.request(
            discover,
            toUpstream: .stateless(stateless),
            clientCapabilities: JSONObject()
        )
        var era: MCPEra?
        var capabilities = JSONObject()
        var instructions: String?
        /// `server/discover`: the server's era, or nil (an error, or no answer within `timeout`).
        func discoverEra(timeout: Duration) async -> (MCPEra, JSONObject, String?)? {
            guard
                let reply = try? await connection.call(
                    discoverRequest,
                    from: Self.gatewayClient,
                    timeout: timeout,
                    toolHeaders: .none,
                    onNotification: { _ in }
                ), case .response(_, let result) = reply.kind,
                let versions = result["supportedVersions"]?.arrayValue?.compactMap({ $0.stringValue }),
                let newest = MCPVersionSupport.default.stateless.last(where: { versions.contains($0.rawValue) })
            else { return nil }
            return (
                .stateless(newest), result["capabilities"]?.objectValue ?? JSONObject(),
                result["instructions"]?.stringValue
            )
        }
        if let found = await discoverEra(timeout: Self.discoverTimeout) {
            (era, capabilities, instructions) = (found.0, found.1, found.2)
        }
        if era == nil {
            let initialize = JSONRPCMessage.request(
                id: .string("gatehouse-initialize"),
                method: "initialize",
                params: .object(
                    JSONObject([
                        "protocolVersion": .string(MCPProtocolVersion.v2025_11_25.rawValue),
                        "capabilities": .object(JSONObject()),
                        "clientInfo": EraBridge.gatewayInfo,
                    ])
                )
            )
            let reply = try await connection.call(
                initialize,
                from: Self.gatewayClient,
                timeout: definition.startupTimeout,
                toolHeaders: .none,
                onNotification: { _ in }
            )
            switch reply.kind {
            case .response(_, let result):
                guard let text = result["protocolVersion"]?.stringValue, let version = MCPProtocolVersion(text),
                    MCPVersionSupport.default.sessionBased.contains(version)
                else {
                    throw StartupError.handshakeFailed("the server answered initialize with an unsupported version")
                }
                era = .sessionBased(version)
                capabilities = result["capabilities"]?.objectValue ?? JSONObject()
                instructions = result["instructions"]?.stringValue
            case .errorResponse(_, let error):
                // A modern server that was slow to answer `server/discover` (a cold interpreter on
                // a busy machine) refuses `initialize`: ask it again, given the whole startup time.
                guard let found = await discoverEra(timeout: definition.startupTimeout) else {
                    throw StartupError.handshakeFailed("initialize: \(error.message)")
                }
                (era, capabilities, instructions) = (found.0, found.1, found.2)
            default:
                throw StartupError.handshakeFailed("no reply to initialize")
            }
            if case .sessionBased? = era {
                await connection.notify(.notification(method: "notifications/initialized"))
            }
        }
        state.withLock { state in
            state.era = era
            state.capabilities = capabilities
            state.instructions = instructions
        }
        try await refreshTools(connection)
    }

    /// Fetches every page of `tools/list`, applies curation and checks each definition's pin.
    private func refreshTools(_ connection: any UpstreamConnection) async throws {
        guard let era = state.withLock({ $0.era }) else { return }
        guard state.withLock({ $0.capabilities["tools"] != nil }) else { return }
        var reader = PagedListReader(key: "tools")
        var page = 0
        while !reader.isComplete {
            let request = EraBridge.request(
                .request(id: .string("gatehouse-tools-\(page)"), method: "tools/list", params: reader.nextParams),
                toUpstream: era,
                clientCapabilities: JSONObject()
            )
            page += 1
            let reply = try await connection.call(
                request,
                from: Self.gatewayClient,
                timeout: requestTimeout,
                toolHeaders: .none,
                onNotification: { _ in }
            )
            guard case .response(_, let result) = reply.kind, reader.absorb(result) else {
                throw StartupError.handshakeFailed("tools/list did not return a tool list")
            }
        }
        let definitions = reader.items.compactMap(\.objectValue)
        var tools: [UpstreamTool] = []
        var seen: Set<String> = []
        for definition in definitions {
            guard let upstreamName = definition["name"]?.stringValue, seen.insert(upstreamName).inserted,
                self.definition.curation.keeps(upstreamName)
            else { continue }
            let hash = ToolPinRegistry.definitionHash(of: definition)
            let pin = try await pins.observe(server: name, tool: upstreamName, hash: hash)
            if pin.state == .changed {
                logger.warning(
                    "tool definition changed since it was approved",
                    metadata: [
                        "tool": "\(upstreamName)", "approved_hash": "\(pin.approvedHash)", "hash": "\(hash)",
                        "pinning": "\(pinning.rawValue)",
                    ]
                )
            }
            tools.append(
                UpstreamTool(
                    definition: definition,
                    upstreamName: upstreamName,
                    hash: hash,
                    pinState: pin.state,
                    approvedHash: pin.approvedHash
                )
            )
        }
        state.withLock { state in
            state.tools = tools
            state.toolsTTLMilliseconds = reader.ttlMilliseconds
        }
        onChange()
    }
}
