internal import GatehouseJSON

/// Why a call to an upstream server did not produce a JSON-RPC reply. The federation turns each
/// into a JSON-RPC error for the client (`jsonRPCError`), naming the server.
public enum UpstreamCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server is not running (down, starting, stopped).
    case unavailable(server: String, reason: String)
    /// The process exited or the connection broke while the call was in flight.
    case disconnected(server: String, reason: String)
    /// No reply within the call's deadline; the server was told to cancel.
    case timedOut(server: String, after: Duration)
    /// Too many calls are in flight on this server already.
    case overloaded(server: String, maximumPending: Int)
    /// The server answered something that is not a JSON-RPC reply to the call.
    case invalidReply(server: String, reason: String)

    public var description: String {
        switch self {
        case .unavailable(let server, let reason): return "MCP server '\(server)' is unavailable: \(reason)"
        case .disconnected(let server, let reason): return "MCP server '\(server)' went away during the call: \(reason)"
        case .timedOut(let server, let after): return "MCP server '\(server)' did not answer within \(after)"
        case .overloaded(let server, let maximum):
            return "MCP server '\(server)' has \(maximum) calls in flight already; try again later"
        case .invalidReply(let server, let reason): return "MCP server '\(server)' sent an invalid reply: \(reason)"
        }
    }

    public var jsonRPCError: JSONRPCErrorObject {
        let server: String
        switch self {
        case .unavailable(let name, _), .disconnected(let name, _), .timedOut(let name, _),
            .overloaded(let name, _), .invalidReply(let name, _):
            server = name
        }
        return JSONRPCErrorObject(
            code: .internalError,
            message: description,
            data: .object(JSONObject(["server": .string(server)]))
        )
    }
}

/// How long stopping an upstream server may take (gateway shutdown, restart): a stdio server gets
/// end of input, then SIGTERM, then SIGKILL to its process group, one `step` apart, and one more
/// step to be reaped; an HTTP server gets its session's DELETE, bounded by one step. Servers stop
/// concurrently, so `bound` holds for all of them together.
public enum UpstreamStopBound {
    public static let step: Duration = .seconds(1)
    public static let bound: Duration = step * 3
}

/// Receives what an upstream sends that is not the reply to a call: notifications not tied to a
/// call (`notifications/tools/list_changed`, logging) and requests from the server.
struct UpstreamEventHandlers: Sendable {
    var onNotification: @Sendable (JSONRPCMessage) -> Void
    /// Answers a server→client request (`ping`, `sampling/createMessage`, …).
    var onRequest: @Sendable (JSONRPCMessage) -> JSONRPCMessage
}

/// One live connection to an upstream MCP server (a stdio process, or an HTTP endpoint and its
/// session), shared by every client. Ids and progress tokens are rewritten inside, so callers
/// pass their own.
protocol UpstreamConnection: AnyObject, Sendable {
    /// Sends a request and waits for the reply, which comes back with the caller's id.
    /// Notifications tied to the call (progress, logging) go to `onNotification` with the caller's
    /// progress token. Cancelling the calling task cancels the call upstream.
    /// `toolHeaders` are the `x-mcp-header` bindings of the tool a `tools/call` names: an HTTP
    /// transport mirrors those arguments into `Mcp-Param-*` headers.
    func call(
        _ request: JSONRPCMessage,
        from client: ClientToken,
        timeout: Duration,
        toolHeaders: MCPToolHeaderBindings,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> JSONRPCMessage

    /// Sends a notification (no reply).
    func notify(_ notification: JSONRPCMessage) async

    /// Waits until the connection is gone, and says why.
    func waitUntilClosed() async -> String

    /// Ends the connection gracefully (stdio: close stdin, SIGTERM, SIGKILL; HTTP: DELETE the session).
    func shutdown() async

    /// The process id of a stdio server.
    var processID: Int32? { get }
}
