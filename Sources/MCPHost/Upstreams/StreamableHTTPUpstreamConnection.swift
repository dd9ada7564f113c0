internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseJSON
internal import GatehouseSSE
internal import Logging
internal import NIOCore
internal import NIOHTTP1
internal import Synchronization

/// How to reach a Streamable HTTP server.
public struct StreamableHTTPEndpoint: Sendable, Equatable {
    public var url: String
    /// Sent on every request (credentials included); values may be secrets and are never logged.
    public var headers: [HTTPHeaderField]
    public var connectTimeout: Duration

    public init(url: String, headers: [HTTPHeaderField], connectTimeout: Duration) {
        self.url = url
        self.headers = headers
        self.connectTimeout = connectTimeout
    }
}

public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A Streamable HTTP server, shared by every client: one POST per message over pooled keep-alive
/// connections, JSON or SSE replies, `Mcp-Session-Id` kept for a session-era server and the
/// session re-initialized once on 404, `DELETE` at shutdown. Ids are rewritten per call because
/// a session-era server keys its streams by request id, and clients pick ids independently.
final class StreamableHTTPUpstreamConnection: UpstreamConnection {
    let serverName: String
    private let endpoint: StreamableHTTPEndpoint
    private let client: HTTPClient
    private let handlers: UpstreamEventHandlers
    private let logger: Logger
    private let maximumBodySize: Int
    private let onUpstreamMessage: @Sendable () -> Void
    private let state = Mutex(State())
    private let closedSignal: AsyncStream<String>
    private let closedContinuation: AsyncStream<String>.Continuation

    private struct State {
        var nextID: UInt64 = 1
        var sessionID: String?
        /// The `initialize` request that opened the session, replayed when the session expires.
        var initializeRequest: JSONRPCMessage?
        var protocolVersion: String?
        var closedReason: String?
    }

    var processID: Int32? { nil }

    init(
        serverName: String,
        endpoint: StreamableHTTPEndpoint,
        client: HTTPClient,
        maximumBodySize: Int,
        handlers: UpstreamEventHandlers,
        logger: Logger,
        onUpstreamMessage: @escaping @Sendable () -> Void
    ) {
        self.serverName = serverName
        self.endpoint = endpoint
        self.client = client
        self.maximumBodySize = maximumBodySize
        self.handlers = handlers
        self.logger = logger
        self.onUpstreamMessage = onUpstreamMessage
        (closedSignal, closedContinuation) = AsyncStream.makeStream(
            of: String.self,
            bufferingPolicy: .bufferingNewest(1)
        )
    }

    func call(
        _ request: JSONRPCMessage,
        from client: ClientToken,
        timeout: Duration,
        toolHeaders: MCPToolHeaderBindings,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> JSONRPCMessage {
        guard let originalID = request.id else { throw .invalidReply(server: serverName, reason: "no request id") }
        if let reason = state.withLock({ $0.closedReason }) { throw .unavailable(server: serverName, reason: reason) }
        let upstreamID = state.withLock { state -> JSONRPCID in
            defer { state.nextID += 1 }
            return .string("gh-\(state.nextID)")
        }
        let originalToken = request.progressToken
        var outgoing = request.replacingID(with: upstreamID)
        if originalToken != nil {
            outgoing =
                outgoing.replacingParamsMember("progressToken", with: upstreamID.jsonValue, inMeta: true) ?? outgoing
        }
        let restore: @Sendable (JSONRPCMessage) -> JSONRPCMessage? = { message in
            switch message.kind {
            case .response, .errorResponse:
                return message.id == upstreamID ? message.replacingID(with: originalID) : nil
            case .notification("notifications/progress", let params):
                guard let originalToken, params?["progressToken"] == upstreamID.jsonValue else { return nil }
                return message.replacingParamsMember("progressToken", with: originalToken, inMeta: false)
            default:
                return nil
            }
        }
        let prepared = outgoing
        if request.method == "initialize" { state.withLock { $0.initializeRequest = prepared } }
        let limits = PostLimits(timeout: timeout, toolHeaders: toolHeaders)
        var attempt = try await post(prepared, limits: limits, restore: restore, onNotification: onNotification)
        if case .sessionExpired = attempt {
            try await reinitialize(limits: PostLimits(timeout: timeout, toolHeaders: .none))
            attempt = try await post(prepared, limits: limits, restore: restore, onNotification: onNotification)
        }
        let reply: JSONRPCMessage
        switch attempt {
        case .reply(let message): reply = message
        case .accepted, .sessionExpired:
            throw .invalidReply(server: serverName, reason: "no JSON-RPC reply to the request")
        }
        if request.method == "initialize", case .response(_, let result) = reply.kind {
            state.withLock { $0.protocolVersion = result["protocolVersion"]?.stringValue }
        }
        return reply
    }

    func notify(_ notification: JSONRPCMessage) async {
        do {
            _ = try await post(
                notification,
                limits: PostLimits(timeout: .seconds(10), toolHeaders: .none),
                restore: { _ in nil },
                onNotification: { _ in }
            )
        } catch {
            logger.debug("notification not delivered", metadata: ["error": "\(error)"])
        }
    }

    func waitUntilClosed() async -> String {
        for await reason in closedSignal { return reason }
        return state.withLock { $0.closedReason } ?? "closed"
    }

    func shutdown() async {
        let sessionID = state.withLock { $0.sessionID }
        if let sessionID {
            var request = HTTPClientRequest(url: endpoint.url)
            request.method = .DELETE
            addCommonHeaders(to: &request, sessionID: sessionID)
            // Shutdown arrives as cancellation, which would fail the DELETE before it is sent;
            // the request runs in a task of its own, awaited, and bounded by one stop step.
            let client = self.client
            let delete = Task { _ = try? await client.execute(request, timeout: TimeAmount(UpstreamStopBound.step)) }
            await delete.value
        }
        close(reason: "stopped by the gateway")
    }

    func close(reason: String) {
        let first = state.withLock { state -> Bool in
            guard state.closedReason == nil else { return false }
            state.closedReason = reason
            return true
        }
        guard first else { return }
        closedContinuation.yield(reason)
        closedContinuation.finish()
    }

    // MARK: - One POST

    private enum PostOutcome {
        case reply(JSONRPCMessage)
        /// 202: a notification or response was accepted.
        case accepted
        /// 404 while a session was open: the server forgot it.
        case sessionExpired
    }

    private func addCommonHeaders(to request: inout HTTPClientRequest, sessionID: String?) {
        for field in endpoint.headers { request.headers.add(name: field.name, value: field.value) }
        if let sessionID { request.headers.replaceOrAdd(name: "Mcp-Session-Id", value: sessionID) }
        if let version = state.withLock({ $0.protocolVersion }) {
            request.headers.replaceOrAdd(name: MCPRequestHeaders.protocolVersion, value: version)
        }
    }

    /// What bounds one POST, and the headers its body implies.
    private struct PostLimits {
        /// Bounds the wait for the reply's head; the client's read timeout bounds every silence
        /// after it, so a stream that keeps reporting progress may run longer.
        let timeout: Duration
        let toolHeaders: MCPToolHeaderBindings
    }

    private func post(
        _ message: JSONRPCMessage,
        limits: PostLimits,
        restore: @escaping @Sendable (JSONRPCMessage) -> JSONRPCMessage?,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> PostOutcome {
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        let sessionID = message.method == "initialize" ? nil : state.withLock { $0.sessionID }
        addCommonHeaders(to: &request, sessionID: sessionID)
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        request.headers.replaceOrAdd(name: "Accept", value: "application/json, text/event-stream")
        if message.paramsMeta?[MCPRequestMeta.protocolVersionKey] != nil {
            for field in MCPHeaderValidation.headers(for: message, toolHeaders: limits.toolHeaders) {
                request.headers.replaceOrAdd(name: field.name, value: field.value)
            }
        }
        // The trace context the request carries in `_meta` goes in the W3C header too, for servers
        // (and proxies before them) that read only HTTP.
        if let traceParent = message.paramsMeta?["traceparent"]?.stringValue {
            request.headers.replaceOrAdd(name: "traceparent", value: traceParent)
        }
        request.body = .bytes(ByteBuffer(bytes: message.encoded()))
        onUpstreamMessage()
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: .now() + TimeAmount(limits.timeout))
        } catch {
            throw failure(error, after: limits.timeout, closingOnConnectionError: true)
        }
        if message.method == "initialize", let id = response.headers.first(name: "Mcp-Session-Id") {
            state.withLock { $0.sessionID = id }
        }
        let status = response.status.code
        if status == 202 { return .accepted }
        if status == 404, sessionID != nil {
            state.withLock { $0.sessionID = nil }
            return .sessionExpired
        }
        let contentType = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        if contentType.hasPrefix("text/event-stream") {
            return try await readEventStream(
                response.body,
                timeout: limits.timeout,
                restore: restore,
                onNotification: onNotification
            )
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: maximumBodySize)
        } catch {
            throw failure(error, after: limits.timeout, closingOnConnectionError: false)
        }
        if let decoded = try? JSONRPCMessage.decode(body.readableBytesView), case .single(let reply) = decoded,
            let restored = restore(reply)
        {
            return .reply(restored)
        }
        if let decoded = try? JSONRPCMessage.decode(body.readableBytesView),
            case .single(let reply) = decoded, case .errorResponse(nil, _) = reply.kind, let id = message.id
        {
            // An error answering no id (HTTP 4xx from the transport layer) still answers this call.
            return .reply(restore(reply.replacingID(with: id)) ?? reply)
        }
        throw .invalidReply(server: serverName, reason: "HTTP \(status) without a JSON-RPC reply")
    }

    private func readEventStream(
        _ body: HTTPClientResponse.Body,
        timeout: Duration,
        restore: @escaping @Sendable (JSONRPCMessage) -> JSONRPCMessage?,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> PostOutcome {
        var framer = SSEEventFramer(maximumEventSize: maximumBodySize)
        do {
            for try await chunk in body {
                for block in try framer.append(chunk) {
                    guard let event = SSEEvent.parse(block), !event.data.isEmpty,
                        let decoded = try? JSONRPCMessage.decode(Array(event.data.utf8)),
                        case .single(let message) = decoded
                    else { continue }
                    if let restored = restore(message) {
                        if message.isRequest || message.method != nil {
                            onNotification(restored)
                            continue
                        }
                        return .reply(restored)
                    }
                    switch message.kind {
                    case .notification: handlers.onNotification(message)
                    case .request:
                        let reply = handlers.onRequest(message)
                        Task { await self.notify(reply) }
                    case .response, .errorResponse: continue
                    }
                }
            }
        } catch let error as UpstreamCallError {
            throw error
        } catch {
            throw failure(error, after: timeout, closingOnConnectionError: false)
        }
        throw .disconnected(server: serverName, reason: "the event stream ended without a reply")
    }

    /// The session expired (404): open a new one with the same `initialize`, then `initialized`.
    private func reinitialize(limits: PostLimits) async throws(UpstreamCallError) {
        guard let initialize = state.withLock({ $0.initializeRequest }) else {
            throw .invalidReply(server: serverName, reason: "session expired and no initialize to replay")
        }
        logger.notice("upstream session expired; initializing a new one")
        let outcome = try await post(initialize, limits: limits, restore: { $0 }, onNotification: { _ in })
        guard case .reply(let reply) = outcome, case .response = reply.kind else {
            throw .invalidReply(server: serverName, reason: "re-initialize failed")
        }
        await notify(.notification(method: "notifications/initialized"))
    }

    /// What a failed exchange means for the call. A timeout or a cancellation ends the call only;
    /// failing to reach the server at all (refused, reset before the reply) also marks the
    /// connection closed, so the supervisor marks the server down and retries in the background.
    private func failure(
        _ error: any Error,
        after timeout: Duration,
        closingOnConnectionError: Bool
    ) -> UpstreamCallError {
        if error is CancellationError { return .disconnected(server: serverName, reason: "cancelled") }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout:
                return .timedOut(server: serverName, after: timeout)
            case .cancelled:
                return .disconnected(server: serverName, reason: "cancelled")
            default:
                break
            }
        }
        let reason = "connection failed: \(Self.describe(error))"
        if closingOnConnectionError { close(reason: reason) }
        return .disconnected(server: serverName, reason: reason)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: error)
    }
}
