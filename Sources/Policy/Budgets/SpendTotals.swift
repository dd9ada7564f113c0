/// What one agent has spent on one model since records began: requests, tokens and cost.
public struct SpendTotal: Sendable, Equatable {
    public var agent: String
    public var model: String
    public var requests: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costPicoUSD: Int64

    public init(agent: String, model: String, requests: Int, inputTokens: Int, outputTokens: Int, costPicoUSD: Int64) {
        self.agent = agent
        self.model = model
        self.requests = requests
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costPicoUSD = costPicoUSD
    }
}

/// Running LLM spend per agent and model, seeded from the store at startup so restarts forget
/// nothing: what `/admin/usage` shows, and what budgets will be checked against. A value: its
/// owner keeps it under the lock that orders the calls it records.
public struct SpendTotals: Sendable {
    private struct Key: Hashable {
        let agent: String
        let model: String
    }

    private var totals: [Key: SpendTotal] = [:]

    public init(seed: [SpendTotal]) {
        for total in seed { totals[Key(agent: total.agent, model: total.model)] = total }
    }

    /// Adds one call. Amounts come from upstream bodies: negatives count as 0, and sums stop at
    /// the type's maximum instead of trapping.
    public mutating func add(agent: String, model: String, inputTokens: Int, outputTokens: Int, costPicoUSD: Int64) {
        let key = Key(agent: agent, model: model)
        var entry =
            totals[key]
            ?? SpendTotal(agent: agent, model: model, requests: 0, inputTokens: 0, outputTokens: 0, costPicoUSD: 0)
        entry.requests = Self.saturatingSum(entry.requests, 1)
        entry.inputTokens = Self.saturatingSum(entry.inputTokens, max(inputTokens, 0))
        entry.outputTokens = Self.saturatingSum(entry.outputTokens, max(outputTokens, 0))
        entry.costPicoUSD = Self.saturatingSum(entry.costPicoUSD, max(costPicoUSD, 0))
        totals[key] = entry
    }

    /// Every total, by agent then model.
    public var all: [SpendTotal] {
        totals.values.sorted { ($0.agent, $0.model) < ($1.agent, $1.model) }
    }

    private static func saturatingSum<Value: FixedWidthInteger>(_ total: Value, _ amount: Value) -> Value {
        let (sum, overflow) = total.addingReportingOverflow(amount)
        return overflow ? .max : sum
    }
}
