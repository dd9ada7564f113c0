public import GatehouseCore
public import Hummingbird
public import LLMProxy
internal import Logging
public import MCPHost
internal import NIOCore

/// The per-request context every middleware and route reads: who is calling and under which id.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the request-id middleware before anything else runs.
    var requestID = GatehouseCore.RequestID()
    /// Set by the authentication middleware on proxy routes; nil elsewhere.
    var identity: Identity?
    /// The request's well-formed W3C `traceparent`, set by the request-id middleware.
    var traceParent: String?
    /// The agent run named in `x-gatehouse-session`, set by the request-id middleware.
    var run: String?
    /// The configured body limit, so Hummingbird's own decoders enforce the same number.
    public var maxUploadSize: Int = 4 << 20

    let connectionClosed: EventLoopFuture<Void>
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.connectionClosed = source.channel.closeFuture
        self.channel = source.channel
    }
}

extension GatehouseRequestContext: LLMRequestContextProtocol, MCPRequestContextProtocol {
    /// Read once per request by the plane that takes it.
    public var agentRequest: AgentRequest? {
        guard let identity else { return nil }
        let channel = self.channel
        let closeFuture = connectionClosed
        return AgentRequest(
            identity: identity,
            requestID: requestID,
            connection: ClientConnection(
                isOpen: { channel.isActive },
                waitUntilClosed: { await ConnectionCloseWatcher.wait(for: closeFuture) }
            ),
            traceParent: traceParent,
            run: run
        )
    }

    public var requestBodyLimit: Int { maxUploadSize }
}
