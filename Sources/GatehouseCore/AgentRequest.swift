/// One agent request as the executable hands it to a plane, read once when the request arrives:
/// who is calling, under which id, and whether the caller is still there. The same value serves
/// both planes, so policy and tracing see one shape whichever plane a request took.
public struct AgentRequest: Sendable {
    public let identity: Identity
    public let requestID: RequestID
    public let connection: ClientConnection
    /// The caller's W3C `traceparent`, as it arrived (already checked to be well formed), for
    /// tracing to continue the caller's trace; nil when the caller sent none.
    public let traceParent: String?
    /// The agent run the caller names in `x-gatehouse-session` (the same value on its LLM and MCP
    /// requests), which session rules and traces group requests by; nil when it sent none.
    public let run: String?

    public init(
        identity: Identity,
        requestID: RequestID,
        connection: ClientConnection,
        traceParent: String? = nil,
        run: String? = nil
    ) {
        self.identity = identity
        self.requestID = requestID
        self.connection = connection
        self.traceParent = traceParent
        self.run = run
    }

    /// The header that names an agent run.
    public static let runHeader = "x-gatehouse-session"
    /// Longest run name kept; a longer one is cut (it is a grouping key, not content).
    public static let maximumRunLength = 128
}

/// The caller's connection, as far as a plane needs it: whether it is still open, and a wait that
/// returns when it closes. Free of the transport, so the planes need not know which one carried
/// the request.
public struct ClientConnection: Sendable {
    /// Cheap enough to poll.
    public let isOpen: @Sendable () -> Bool
    /// Returns when the connection has closed, or when the waiting task is cancelled.
    public let waitUntilClosed: @Sendable () async -> Void

    public init(isOpen: @escaping @Sendable () -> Bool, waitUntilClosed: @escaping @Sendable () async -> Void) {
        self.isOpen = isOpen
        self.waitUntilClosed = waitUntilClosed
    }
}
