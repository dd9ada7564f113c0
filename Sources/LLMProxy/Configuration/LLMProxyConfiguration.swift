public import GatehouseCore

/// The LLM plane's own configuration, validated by the executable from the `providers`,
/// `models` and `prices` sections.
public struct LLMProxyConfiguration: Sendable, Equatable {
    public var providers: [ProviderDefinition]
    public var models: [ModelRoute]
    public var prices: PriceTable
    /// Idle time allowed between two chunks of an upstream response.
    public var upstreamIdleTimeout: Duration
    /// Connection setup limit for new upstream connections.
    public var upstreamConnectTimeout: Duration
    /// HTTP proxy for upstream calls (`host:port`), if any.
    public var upstreamProxy: UpstreamProxy?

    public init(
        providers: [ProviderDefinition] = [],
        models: [ModelRoute] = [],
        prices: PriceTable = .shippedDefaults,
        upstreamIdleTimeout: Duration = .seconds(120),
        upstreamConnectTimeout: Duration = .seconds(10),
        upstreamProxy: UpstreamProxy? = nil
    ) {
        self.providers = providers
        self.models = models
        self.prices = prices
        self.upstreamIdleTimeout = upstreamIdleTimeout
        self.upstreamConnectTimeout = upstreamConnectTimeout
        self.upstreamProxy = upstreamProxy
    }
}

public struct UpstreamProxy: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// One upstream API account: where it is, how to authenticate, which wire format it speaks.
public struct ProviderDefinition: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Any OpenAI-compatible API; `baseURL` includes the version path (`…/v1`).
        case openAI
        /// Azure OpenAI: `baseURL` is the resource endpoint; the deployment comes from each
        /// deployment's `model`; `api-version` is sent on every call.
        case azure(apiVersion: String)
        /// Anthropic Messages; `baseURL` has no version path.
        case anthropic(version: String)

        public var speaksAnthropic: Bool {
            if case .anthropic = self { return true }
            return false
        }
    }

    public var name: String
    public var kind: Kind
    public var baseURL: String
    public var apiKey: Secret
    /// Extra headers sent on every call (values may be secrets).
    public var headers: [Header]

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: Secret

        public init(name: String, value: Secret) {
            self.name = name
            self.value = value
        }
    }

    public init(name: String, kind: Kind, baseURL: String, apiKey: Secret, headers: [Header] = []) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
    }
}

/// A client-facing model name and the deployments that can serve it.
public struct ModelRoute: Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var deployments: [Deployment]
    /// Extra passes over the deployment list after every deployment failed, with backoff.
    public var retries: Int
    /// `max_tokens` sent to Anthropic when an OpenAI client set none (Anthropic requires it).
    public var defaultMaxTokens: Int

    public init(
        name: String,
        aliases: [String] = [],
        deployments: [Deployment],
        retries: Int = 1,
        defaultMaxTokens: Int = 4096
    ) {
        self.name = name
        self.aliases = aliases
        self.deployments = deployments
        self.retries = retries
        self.defaultMaxTokens = defaultMaxTokens
    }
}

/// One place a model can be served: a provider and the model name it knows.
public struct Deployment: Sendable, Equatable {
    public var provider: String
    public var model: String
    /// Share of traffic among deployments of the same priority.
    public var weight: Int
    /// Lower is tried first; higher priorities are fallbacks.
    public var priority: Int
    /// Time allowed until the response head arrives (connect, send, provider thinking).
    public var firstByteTimeout: Duration
    /// How long a deployment that failed is skipped, unless the provider said (Retry-After).
    public var cooldown: Duration

    public init(
        provider: String,
        model: String,
        weight: Int = 1,
        priority: Int = 0,
        firstByteTimeout: Duration = .seconds(60),
        cooldown: Duration = .seconds(10)
    ) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.priority = priority
        self.firstByteTimeout = firstByteTimeout
        self.cooldown = cooldown
    }
}
