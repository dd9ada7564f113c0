public import NIOCore

/// The LLM plane as configured right now: routes and providers. Rebuilt on reload; requests in
/// flight keep the one they started with. The HTTP client outlives reloads.
public final class LLMRuntime: Sendable {
    public let configuration: LLMProxyConfiguration
    public let router: ModelRouter
    let client: UpstreamClient

    public init(configuration: LLMProxyConfiguration, client: UpstreamClient) {
        self.configuration = configuration
        self.router = ModelRouter(configuration: configuration)
        self.client = client
    }
}

/// What the LLM routes need from the executable's request context.
public protocol LLMRequestContextProtocol {
    /// Completes when the client's connection closes, so a stream can stop its upstream even
    /// while the provider is silent.
    var llmConnectionClosed: EventLoopFuture<Void> { get }
    /// The authenticated agent's name.
    var llmAgentName: String { get }
    /// The request's id, as echoed in `x-request-id`.
    var llmRequestID: String { get }
    /// The configured request body limit.
    var llmMaxBodySize: Int { get }
}
