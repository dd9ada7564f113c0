internal import GatehouseCore
public import Hummingbird
public import LLMProxy
internal import Logging
public import MCPHost
public import NIOCore
internal import Policy

/// The per-request context every middleware and route reads: who is calling and under which id.
public struct GatehouseRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the request-id middleware before anything else runs.
    var requestID = GatehouseCore.RequestID()
    /// Set by the authentication middleware on proxy routes; nil elsewhere.
    var identity: Identity?
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

extension GatehouseRequestContext: LLMRequestContextProtocol {
    // The authentication middleware runs before every /v1 route, so an identity is always set there.
    public var llmAgentName: String { identity?.agentName ?? "unauthenticated" }
    public var llmRequestID: String { requestID.description }
    public var llmMaxBodySize: Int { maxUploadSize }
    public var llmConnectionClosed: EventLoopFuture<Void> { connectionClosed }
}

extension GatehouseRequestContext: MCPRequestContextProtocol {
    // The authentication middleware runs before every /mcp route, so an identity is always set there.
    public var mcpAgentName: String { identity?.agentName ?? "unauthenticated" }
    public var mcpMaxBodySize: Int { maxUploadSize }
    public var mcpConnectionIsActive: @Sendable () -> Bool { { [channel] in channel.isActive } }
}
