internal import Foundation
public import GatehouseCore
internal import GatehouseJSON
internal import HTTPTypes
public import Hummingbird
public import Logging
internal import NIOCore

/// What the MCP routes need from the executable's request context.
public protocol MCPRequestContextProtocol {
    /// The authenticated request: caller, request id, connection. The authentication middleware
    /// runs before every MCP route; nil means it did not, and the route answers 401.
    var agentRequest: AgentRequest? { get }
    /// The configured request body limit.
    var requestBodyLimit: Int { get }
}

extension HTTPField.Name {
    static let mcpSessionID = HTTPField.Name("Mcp-Session-Id")!
    static let mcpProtocolVersion = HTTPField.Name("MCP-Protocol-Version")!
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}

/// Client-facing Streamable HTTP: `/mcp` (every server) and `/mcp/{server}` (one), both eras on
/// the same URL. A request with `Mcp-Session-Id` belongs to a session-era session; `initialize`
/// opens one; a request whose `_meta` names a 2026 version is stateless and has its headers
/// checked against its body. Replies are JSON, or SSE when the client asked for progress.
public struct MCPRoutes: Sendable {
    let federation: MCPFederation
    let logger: Logger

    public init(federation: MCPFederation, logger: Logger) {
        self.federation = federation
        self.logger = logger
    }

    public func register<Context: RequestContext & MCPRequestContextProtocol>(on router: Router<Context>) {
        router.post("/mcp") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return await post(request, caller: caller, scope: nil)
        }
        router.get("/mcp") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return await get(request, owner: caller.request.identity, scope: nil)
        }
        router.delete("/mcp") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return delete(request, owner: caller.request.identity, scope: nil)
        }
        router.post("/mcp/:server") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return await post(request, caller: caller, scope: context.parameters.get("server") ?? "")
        }
        router.get("/mcp/:server") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return await get(request, owner: caller.request.identity, scope: context.parameters.get("server") ?? "")
        }
        router.delete("/mcp/:server") { request, context in
            guard let caller = Caller(context) else { return unauthenticated() }
            return delete(request, owner: caller.request.identity, scope: context.parameters.get("server") ?? "")
        }
    }

    // MARK: - POST

    /// Who sent a request, whether they are still there, and how large a body they may send.
    struct Caller: Sendable {
        let request: AgentRequest
        let bodyLimit: Int

        init?(_ context: some MCPRequestContextProtocol) {
            guard let request = context.agentRequest else { return nil }
            self.request = request
            self.bodyLimit = context.requestBodyLimit
        }

        var agent: String { request.identity.agentName }
        var isConnected: @Sendable () -> Bool { request.connection.isOpen }
    }

    func post(_ request: Request, caller: Caller, scope: String?) async -> Response {
        let owner = caller.request.identity
        let limit = caller.bodyLimit
        if let refusal = refuse(request, scope: scope) { return refusal }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            return errorResponse(
                .requestTooLarge,
                "The request body exceeds the gateway's limit of \(limit) bytes.",
                status: .contentTooLarge
            )
        }
        let decoded: JSONRPCMessageBatch
        do {
            decoded = try JSONRPCMessage.decode(body.readableBytesView)
        } catch {
            return jsonResponse(error.errorResponse, status: .badRequest)
        }
        let sessionHeader = request.headers[.mcpSessionID]
        switch decoded {
        case .single(let message):
            return await handle(message, request: request, sessionHeader: sessionHeader, caller: caller, scope: scope)
        case .batch(let items):
            // Batches exist in 2025-03-26 only, inside a session that negotiated it.
            guard let sessionHeader,
                let session = federation.sessions.lookup(sessionHeader, owner: owner, scope: scope),
                session.version.allowsBatching
            else {
                return errorResponse(
                    .invalidRequest,
                    "Invalid Request: batches are allowed only in protocol version 2025-03-26",
                    status: .badRequest
                )
            }
            let context = callContext(session: session, caller: caller.request, scope: scope)
            var replies: [JSONRPCMessage] = []
            // Each element takes the path a single message takes: requests can be cancelled and
            // are interrupted by shutdown, notifications are heard.
            for item in items {
                switch item {
                case .failure(let error): replies.append(error.errorResponse)
                case .success(let message) where message.isRequest:
                    replies.append(await cancellable(message, context: context, caller: caller) { _ in })
                case .success(let message):
                    receive(notification: message, context: context)
                }
            }
            if replies.isEmpty { return Response(status: .accepted) }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: JSONRPCMessage.encodedBatch(replies)))
            )
        }
    }

    private func handle(
        _ message: JSONRPCMessage,
        request: Request,
        sessionHeader: String?,
        caller: Caller,
        scope: String?
    ) async -> Response {
        let owner = caller.request.identity
        // initialize always opens a new session (a client whose session expired re-initializes).
        if case .request(let id, "initialize", let params) = message.kind {
            let era: MCPEra
            do throws(JSONRPCErrorObject) {
                era = try federation.versions.negotiateInitialize(params: params)
            } catch {
                return jsonResponse(.errorResponse(id: id, error: error), status: .badRequest)
            }
            let session = federation.sessions.open(
                owner: owner,
                scope: scope,
                version: era.version,
                clientCapabilities: params?["capabilities"]?.objectValue ?? JSONObject()
            )
            logger.info(
                "MCP session opened",
                metadata: ["agent": "\(owner.agentName)", "version": "\(era.version)", "scope": "\(scope ?? "*")"]
            )
            var response = jsonResponse(
                .response(id: id, result: federation.initializeResult(version: era.version, scope: scope))
            )
            response.headers[.mcpSessionID] = session.id
            return response
        }

        let context: MCPCallContext
        if let sessionHeader {
            guard let session = federation.sessions.lookup(sessionHeader, owner: owner, scope: scope) else {
                return errorResponse(
                    .sessionNotFound,
                    "Session not found: initialize a new session",
                    status: .notFound,
                    id: message.id
                )
            }
            guard
                MCPHeaderValidation.legacyProtocolVersion(
                    header: request.headers[.mcpProtocolVersion],
                    negotiated: session.version
                ) != nil
            else {
                return errorResponse(
                    .invalidRequest,
                    "Bad Request: MCP-Protocol-Version does not match the session's version \(session.version)",
                    status: .badRequest,
                    id: message.id
                )
            }
            context = callContext(session: session, caller: caller.request, scope: scope)
        } else if isStateless(message, request: request) {
            if !message.isRequest { return Response(status: .accepted) }
            let meta: MCPRequestMeta
            do throws(JSONRPCErrorObject) {
                meta = try federation.versions.validateRequestMeta(params: message.params)
            } catch {
                return jsonResponse(.errorResponse(id: message.id, error: error), status: .badRequest)
            }
            let toolHeaders: MCPToolHeaderBindings
            if message.method == "tools/call", let name = message.paramsName {
                toolHeaders = federation.catalog.resolve(name, scope: scope)?.headerBindings ?? .none
            } else {
                toolHeaders = .none
            }
            let fields = request.headers.map { (name: $0.name.rawName, value: $0.value) }
            if let mismatch = MCPHeaderValidation.validate(
                MCPRequestHeaders(fields),
                against: message,
                toolHeaders: toolHeaders
            ).headerMismatchError {
                return jsonResponse(.errorResponse(id: message.id, error: mismatch), status: .badRequest)
            }
            context = MCPCallContext(
                caller: caller.request,
                scope: scope,
                era: meta.era,
                clientCapabilities: meta.clientCapabilities,
                client: federation.sessions.newClientToken()
            )
        } else {
            return errorResponse(
                .invalidRequest,
                "Bad Request: no Mcp-Session-Id; send initialize first, or use protocol version 2026-07-28 with params._meta",
                status: .badRequest,
                id: message.id
            )
        }

        guard message.isRequest else {
            receive(notification: message, context: context)
            return Response(status: .accepted)
        }
        if case .stateless = context.era, message.method == "initialize" || message.method == "ping" {
            return jsonResponse(
                .errorResponse(
                    id: message.id,
                    error: JSONRPCErrorObject(code: .methodNotFound, message: "Method not found")
                ),
                status: .notFound
            )
        }
        if message.method == "subscriptions/listen", case .stateless = context.era {
            return listen(message)
        }
        let wantsStream = message.progressToken != nil && accepts(request, "text/event-stream")
        guard wantsStream else {
            let reply = await cancellable(message, context: context, caller: caller) { _ in }
            return jsonResponse(reply, status: httpStatus(for: reply, era: context.era))
        }
        return eventStream(message, context: context, caller: caller)
    }

    /// A client's notification or reply: `notifications/cancelled` cancels its call; the gateway
    /// sends no requests to clients, so nothing waits for the others.
    private func receive(notification message: JSONRPCMessage, context: MCPCallContext) {
        if message.method == "notifications/cancelled",
            let requestID = message.params?["requestId"].flatMap(JSONRPCID.init)
        {
            federation.watchdog.cancel(client: context.client, requestID: requestID)
        }
    }

    /// Methods that wait for upstream servers (a routed call, or a list merged from every server),
    /// and may take long.
    private static let upstreamMethods: Set<String> = [
        "tools/call", "prompts/get", "resources/read", "completion/complete",
        "prompts/list", "resources/list", "resources/templates/list",
    ]

    /// Answers a request, cancelling it (upstream too) when the client's connection closes or a
    /// session-era client sends `notifications/cancelled` for it, and answering it with an error
    /// when the gateway's shutdown reaches its deadline (`CallWatchdog`).
    private func cancellable(
        _ message: JSONRPCMessage,
        context: MCPCallContext,
        caller: Caller,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async -> JSONRPCMessage {
        guard let id = message.id, let method = message.method, Self.upstreamMethods.contains(method) else {
            return await federation.handle(message, context: context, onNotification: onNotification)
        }
        let isSessionBased: Bool
        if case .sessionBased = context.era { isSessionBased = true } else { isSessionBased = false }
        let watch = CallWatchdog.Entry(
            client: context.client,
            requestID: isSessionBased ? id : nil,
            isConnected: caller.isConnected
        )
        let key = federation.watchdog.register(watch)
        defer { federation.watchdog.remove(key) }
        let federation = self.federation
        enum Outcome: Sendable {
            case reply(JSONRPCMessage)
            case interrupted(CallWatchdog.Interruption)
        }
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask { .reply(await federation.handle(message, context: context, onNotification: onNotification)) }
            group.addTask { .interrupted(await watch.wait()) }
            let first = await group.next() ?? .interrupted(.cancelled)
            group.cancelAll()
            return first
        }
        switch outcome {
        case .reply(let reply):
            return reply
        case .interrupted(.cancelled):
            logger.info(
                "MCP request cancelled: the client left or cancelled it",
                metadata: ["method": "\(method)", "agent": "\(context.agent)"]
            )
            return .errorResponse(id: id, error: JSONRPCErrorObject(code: .internalError, message: "Request cancelled"))
        case .interrupted(.shuttingDown):
            logger.notice(
                "MCP request interrupted by shutdown",
                metadata: ["method": "\(method)", "agent": "\(context.agent)"]
            )
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(
                    code: .gatewayShuttingDown,
                    message: "The gateway is shutting down; the request was interrupted. Retry it on another instance."
                )
            )
        }
    }

    /// A reply as SSE: progress and log notifications of the call, then its result.
    private func eventStream(_ message: JSONRPCMessage, context: MCPCallContext, caller: Caller) -> Response {
        let routes = self
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"],
            body: ResponseBody { writer in
                let (events, continuation) = AsyncStream.makeStream(
                    of: JSONRPCMessage.self,
                    bufferingPolicy: .bufferingNewest(256)
                )
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let reply = await routes.cancellable(message, context: context, caller: caller) {
                            continuation.yield($0)
                        }
                        continuation.yield(reply)
                        continuation.finish()
                    }
                    for await event in events {
                        var bytes = Array("event: message\ndata: ".utf8)
                        bytes += event.encoded()
                        bytes += Array("\n\n".utf8)
                        do {
                            try await writer.write(ByteBuffer(bytes: bytes))
                        } catch {
                            group.cancelAll()  // the client left: the call is cancelled upstream
                            break
                        }
                    }
                }
                try await writer.finish(nil)
            }
        )
    }

    private func isStateless(_ message: JSONRPCMessage, request: Request) -> Bool {
        if message.paramsMeta?[MCPRequestMeta.protocolVersionKey] != nil { return true }
        if let header = request.headers[.mcpProtocolVersion], let version = MCPProtocolVersion(header),
            case .stateless = version.era
        {
            return true
        }
        return false
    }

    private func callContext(session: MCPSession, caller: AgentRequest, scope: String?) -> MCPCallContext {
        MCPCallContext(
            caller: caller,
            scope: scope,
            era: .sessionBased(session.version),
            clientCapabilities: session.clientCapabilities,
            client: session.client,
            sessionID: session.id
        )
    }

    /// 2026 asks for HTTP statuses that match some errors; everything else is 200.
    private func httpStatus(for reply: JSONRPCMessage, era: MCPEra) -> HTTPResponse.Status {
        guard case .stateless = era, case .errorResponse(_, let error) = reply.kind else { return .ok }
        switch error.code {
        case JSONRPCErrorCode.methodNotFound.rawValue: return .notFound
        case MCPErrorCode.headerMismatch, MCPErrorCode.missingRequiredClientCapability,
            MCPErrorCode.unsupportedProtocolVersion:
            return .badRequest
        default: return .ok
        }
    }

    // MARK: - GET and DELETE

    /// The session's stream of server notifications (tools changed); 405 without a session.
    func get(_ request: Request, owner: Identity, scope: String?) async -> Response {
        if let refusal = refuse(request, scope: scope) { return refusal }
        guard let sessionHeader = request.headers[.mcpSessionID] else {
            return methodNotAllowed()
        }
        guard let session = federation.sessions.lookup(sessionHeader, owner: owner, scope: scope) else {
            return errorResponse(.sessionNotFound, "Session not found: initialize a new session", status: .notFound)
        }
        return notificationStream(session.notifications)
    }

    /// A long-lived SSE stream of server notifications from `mailbox`: the session era's GET
    /// stream, and the 2026 `subscriptions/listen` stream (which opens with `prologue`, tags each
    /// notification with `tag` in `_meta`, and ends with `epilogue` when the gateway ends it).
    private func notificationStream(
        _ mailbox: Mailbox<MCPSession.SessionEvent>,
        prologue: JSONRPCMessage? = nil,
        tag: (key: String, value: JSONValue)? = nil,
        epilogue: JSONRPCMessage? = nil,
        onEnd: @escaping @Sendable () -> Void = {}
    ) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"],
            body: ResponseBody { writer in
                defer { onEnd() }
                func event(_ message: JSONRPCMessage) -> ByteBuffer {
                    var bytes = Array("event: message\ndata: ".utf8)
                    bytes += message.encoded()
                    bytes += Array("\n\n".utf8)
                    return ByteBuffer(bytes: bytes)
                }
                if let prologue { try await writer.write(event(prologue)) }
                // A comment every 15 s keeps idle connections (and proxies) from closing the stream.
                stream: while true {
                    let next = await withTaskGroup(of: MCPSession.SessionEvent?.self) { group in
                        group.addTask { await mailbox.next() }
                        group.addTask {
                            try? await Task.sleep(for: .seconds(15))
                            return nil
                        }
                        let first = await group.next() ?? nil
                        group.cancelAll()
                        return first
                    }
                    if Task.isCancelled { break stream }
                    switch next {
                    case .message(var message)?:
                        if let tag { message = message.replacingMetaMember(tag.key, with: tag.value) }
                        try await writer.write(event(message))
                    case .end?:
                        if let epilogue { try await writer.write(event(epilogue)) }
                        break stream
                    case nil:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                try await writer.finish(nil)
            }
        )
    }

    /// 2026-07-28 `subscriptions/listen`: the stream of `notifications/tools/list_changed` (the one
    /// notification type the gateway offers), acknowledged first, ended with a result at shutdown.
    private func listen(_ message: JSONRPCMessage) -> Response {
        guard let id = message.id else { return Response(status: .accepted) }
        let wantsTools = message.params?["notifications"]?["toolsListChanged"] == .bool(true)
        var agreed = JSONObject()
        if wantsTools { agreed["toolsListChanged"] = .bool(true) }
        let subscription = (key: "io.modelcontextprotocol/subscriptionId", value: id.jsonValue)
        let acknowledged = JSONRPCMessage.notification(
            method: "notifications/subscriptions/acknowledged",
            params: .object(
                JSONObject([
                    "notifications": .object(agreed),
                    "_meta": .object(JSONObject([subscription.key: subscription.value])),
                ])
            )
        )
        let ended = JSONRPCMessage.response(
            id: id,
            result: .object(
                JSONObject([
                    "resultType": .string("complete"),
                    "_meta": .object(JSONObject([subscription.key: subscription.value])),
                ])
            )
        )
        let (mailbox, key) = federation.openListener(toolsListChanged: wantsTools)
        let federation = self.federation
        return notificationStream(
            mailbox,
            prologue: acknowledged,
            tag: subscription,
            epilogue: ended,
            onEnd: { federation.closeListener(key) }
        )
    }

    func delete(_ request: Request, owner: Identity, scope: String?) -> Response {
        if let refusal = refuse(request, scope: scope) { return refusal }
        guard let sessionHeader = request.headers[.mcpSessionID] else { return methodNotAllowed() }
        guard federation.sessions.close(sessionHeader, owner: owner, scope: scope) else {
            return errorResponse(.sessionNotFound, "Session not found", status: .notFound)
        }
        return Response(status: .noContent)
    }

    // MARK: - Shared checks and shapes

    /// 403 for a foreign `Origin` (DNS rebinding), 404 for a server that is not configured.
    private func refuse(_ request: Request, scope: String?) -> Response? {
        if let origin = request.headers[.origin], !isAllowed(origin: origin, host: request.head.authority) {
            return errorResponse(.forbidden, "Forbidden: Origin \(origin) is not allowed", status: .forbidden)
        }
        if let scope, federation.server(named: scope) == nil {
            return errorResponse(.invalidRequest, "No MCP server named '\(scope)' is configured", status: .notFound)
        }
        return nil
    }

    /// The gateway's own origin (same host and port as the request) and the configured ones.
    private func isAllowed(origin: String, host: String?) -> Bool {
        let trimmed = origin.hasSuffix("/") ? String(origin.dropLast()) : origin
        if federation.configuration.allowedOrigins.contains(trimmed) { return true }
        guard let host, let schemeEnd = trimmed.range(of: "://") else { return false }
        return trimmed[schemeEnd.upperBound...].lowercased() == host.lowercased()
    }

    private func accepts(_ request: Request, _ mediaType: String) -> Bool {
        request.headers[values: .accept].contains { $0.lowercased().contains(mediaType) }
    }

    private func unauthenticated() -> Response {
        jsonResponse(
            .errorResponse(
                id: nil,
                error: JSONRPCErrorObject(
                    code: .unauthorized,
                    message: "Unauthorized: the request was not authenticated"
                )
            ),
            status: .unauthorized
        )
    }

    private func methodNotAllowed() -> Response {
        var response = errorResponse(
            .invalidRequest,
            "Method Not Allowed: use POST (GET and DELETE need an Mcp-Session-Id)",
            status: .methodNotAllowed
        )
        response.headers[.allow] = "POST"
        return response
    }

    private enum GatewayErrorCode: Int {
        case invalidRequest = -32600
        case forbidden = -32003
        case sessionNotFound = -32001
        case requestTooLarge = -32002
    }

    private func errorResponse(
        _ code: GatewayErrorCode,
        _ message: String,
        status: HTTPResponse.Status,
        id: JSONRPCID? = nil
    ) -> Response {
        jsonResponse(
            .errorResponse(id: id, error: JSONRPCErrorObject(code: code.rawValue, message: message)),
            status: status
        )
    }

    private func jsonResponse(_ message: JSONRPCMessage, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        // A limit's refusal says when to retry in the error's data; HTTP clients read it here.
        if case .errorResponse(_, let error) = message.kind, error.code == MCPErrorCode.rateLimited,
            let seconds = error.data?["retryAfterSeconds"]?.intValue
        {
            headers[.retryAfter] = String(seconds)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: message.encoded())))
    }
}
