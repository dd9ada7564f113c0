/// What one finished LLM call cost, handed to whoever keeps the books (the store, metrics, and
/// later budgets and traces). One value per call, streaming or not.
public struct UsageRecord: Sendable, Equatable {
    public var requestID: String
    public var agent: String
    /// The client-facing model name the agent asked for.
    public var model: String
    public var provider: String
    public var upstreamModel: String
    public var endpoint: Endpoint
    public var isStreaming: Bool
    public var usage: TokenUsage
    /// False when the upstream sent no usage (a cut stream): the tokens are then a lower bound.
    public var isUsageReported: Bool
    public var costPicoUSD: Int64
    /// The HTTP status the client received (200 for streams that started).
    public var status: Int

    public enum Endpoint: String, Sendable {
        case chatCompletions = "chat.completions"
        case messages
        case responses
        case embeddings
    }

    public init(
        requestID: String,
        agent: String,
        model: String,
        provider: String,
        upstreamModel: String,
        endpoint: Endpoint,
        isStreaming: Bool,
        usage: TokenUsage,
        isUsageReported: Bool,
        costPicoUSD: Int64,
        status: Int
    ) {
        self.requestID = requestID
        self.agent = agent
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.endpoint = endpoint
        self.isStreaming = isStreaming
        self.usage = usage
        self.isUsageReported = isUsageReported
        self.costPicoUSD = costPicoUSD
        self.status = status
    }
}

/// Receives every finished call's usage. The executable's implementation writes the store,
/// updates the totals behind `/admin/usage` and the token and cost metrics.
public protocol UsageSink: Sendable {
    func record(_ usage: UsageRecord) async
}
