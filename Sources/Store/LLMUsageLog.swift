/// One LLM call as the store keeps it: who, which model, how many tokens, what it cost.
public struct LLMUsageRow: Sendable, Equatable {
    public var recordedAt: String
    public var requestID: String
    public var agent: String
    public var model: String
    public var provider: String
    public var upstreamModel: String
    public var endpoint: String
    public var isStreaming: Bool
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedInputTokens: Int
    public var isUsageReported: Bool
    public var costPicoUSD: Int64
    public var status: Int

    public init(
        recordedAt: String,
        requestID: String,
        agent: String,
        model: String,
        provider: String,
        upstreamModel: String,
        endpoint: String,
        isStreaming: Bool,
        inputTokens: Int,
        outputTokens: Int,
        cachedInputTokens: Int,
        isUsageReported: Bool,
        costPicoUSD: Int64,
        status: Int
    ) {
        self.recordedAt = recordedAt
        self.requestID = requestID
        self.agent = agent
        self.model = model
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.endpoint = endpoint
        self.isStreaming = isStreaming
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.isUsageReported = isUsageReported
        self.costPicoUSD = costPicoUSD
        self.status = status
    }
}

/// Totals per agent and client-facing model.
public struct LLMUsageTotals: Sendable, Equatable {
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

extension Store {
    /// Appends rows in one transaction (the usage writer batches what arrived meanwhile).
    public func recordLLMUsage(_ rows: [LLMUsageRow]) async throws {
        guard !rows.isEmpty else { return }
        _ = try await write { connection throws in
            let insert = try connection.cachedStatement(
                """
                INSERT INTO llm_usage (recorded_at, request_id, agent, model, provider, upstream_model, endpoint, streamed,
                    input_tokens, output_tokens, cached_input_tokens, usage_reported, cost_picousd, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            try connection.transaction { () throws in
                for row in rows {
                    try insert.run([
                        .text(row.recordedAt), .text(row.requestID), .text(row.agent), .text(row.model),
                        .text(row.provider),
                        .text(row.upstreamModel), .text(row.endpoint), .integer(row.isStreaming ? 1 : 0),
                        .integer(Int64(row.inputTokens)), .integer(Int64(row.outputTokens)),
                        .integer(Int64(row.cachedInputTokens)), .integer(row.isUsageReported ? 1 : 0),
                        .integer(row.costPicoUSD), .integer(Int64(row.status)),
                    ])
                }
            }
        }
    }

    public func llmUsageTotals() async throws -> [LLMUsageTotals] {
        try await read { connection throws in
            let rows = try connection.prepare(
                """
                SELECT agent, model, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_picousd)
                FROM llm_usage GROUP BY agent, model ORDER BY agent, model
                """
            ).run()
            return rows.compactMap { row -> LLMUsageTotals? in
                guard row.count == 6, case .text(let agent) = row[0], case .text(let model) = row[1],
                    case .integer(let requests) = row[2], case .integer(let input) = row[3],
                    case .integer(let output) = row[4], case .integer(let cost) = row[5]
                else { return nil }
                return LLMUsageTotals(
                    agent: agent,
                    model: model,
                    requests: Int(requests),
                    inputTokens: Int(input),
                    outputTokens: Int(output),
                    costPicoUSD: cost
                )
            }
        }
    }
}

extension Store {
    /// Cost per agent of the calls recorded at or after `timestamp` (a UTC timestamp as stored):
    /// what budgets start a day or month with.
    public func llmSpendByAgent(since timestamp: String) async throws -> [String: Int64] {
        try await read { connection throws in
            let rows = try connection.prepare(
                "SELECT agent, SUM(cost_picousd) FROM llm_usage WHERE recorded_at >= ? GROUP BY agent"
            ).run([.text(timestamp)])
            var spend: [String: Int64] = [:]
            for row in rows {
                guard row.count == 2, case .text(let agent) = row[0], case .integer(let cost) = row[1] else { continue }
                spend[agent] = cost
            }
            return spend
        }
    }
}
