public import GatehouseCore

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
    /// The authenticated request: caller, request id, connection. The authentication middleware
    /// runs before every LLM route; nil means it did not, and the route answers 401.
    var agentRequest: AgentRequest? { get }
    /// The configured request body limit.
    var requestBodyLimit: Int { get }
}
