internal import Foundation
internal import LLMProxy
internal import Logging
internal import Metrics
internal import ServiceLifecycle
internal import Store
internal import Synchronization

/// Keeps the books of the LLM plane: running totals per agent and model (behind `/admin/usage`,
/// seeded from the store at startup so they survive restarts), token and cost metrics, and one
/// store row per call, written by `UsageWriter` off the request path.
final class UsageLedger: UsageSink, Sendable {
    struct Key: Hashable, Sendable {
        let agent: String
        let model: String
    }

    private let totals: Mutex<[Key: LLMUsageTotals]>
    private let pending: AsyncStream<LLMUsageRow>.Continuation
    let rows: AsyncStream<LLMUsageRow>
    private let metrics: any MetricsFactory
    private let dropped = Atomic<Int>(0)

    /// `capacity` bounds the rows waiting for the disk; past it rows are dropped and counted
    /// (the totals and metrics still include them).
    init(seed: [LLMUsageTotals], metrics: any MetricsFactory, capacity: Int = 10_000) {
        var initial: [Key: LLMUsageTotals] = [:]
        for total in seed { initial[Key(agent: total.agent, model: total.model)] = total }
        self.totals = Mutex(initial)
        (self.rows, self.pending) = AsyncStream.makeStream(
            of: LLMUsageRow.self,
            bufferingPolicy: .bufferingOldest(capacity)
        )
        self.metrics = metrics
    }

    func record(_ usage: UsageRecord) async {
        totals.withLock { totals in
            let key = Key(agent: usage.agent, model: usage.model)
            var entry =
                totals[key]
                ?? LLMUsageTotals(
                    agent: usage.agent,
                    model: usage.model,
                    requests: 0,
                    inputTokens: 0,
                    outputTokens: 0,
                    costPicoUSD: 0
                )
            entry.requests += 1
            entry.inputTokens += usage.usage.inputTokens
            entry.outputTokens += usage.usage.outputTokens
            entry.costPicoUSD += usage.costPicoUSD
            totals[key] = entry
        }
        let dimensions = [("agent", usage.agent), ("model", usage.model)]
        Counter(label: "gatehouse_llm_requests_total", dimensions: dimensions, factory: metrics).increment()
        Counter(label: "gatehouse_llm_tokens_total", dimensions: dimensions + [("type", "input")], factory: metrics)
            .increment(by: usage.usage.inputTokens)
        Counter(label: "gatehouse_llm_tokens_total", dimensions: dimensions + [("type", "output")], factory: metrics)
            .increment(by: usage.usage.outputTokens)
        FloatingPointCounter(label: "gatehouse_llm_cost_usd_total", dimensions: dimensions, factory: metrics)
            .increment(by: Double(usage.costPicoUSD) / 1e12)
        let row = LLMUsageRow(
            recordedAt: ISO8601DateFormatter().string(from: Date()),
            requestID: usage.requestID,
            agent: usage.agent,
            model: usage.model,
            provider: usage.provider,
            upstreamModel: usage.upstreamModel,
            endpoint: usage.endpoint.rawValue,
            isStreaming: usage.isStreaming,
            inputTokens: usage.usage.inputTokens,
            outputTokens: usage.usage.outputTokens,
            cachedInputTokens: usage.usage.cachedInputTokens,
            isUsageReported: usage.isUsageReported,
            costPicoUSD: usage.costPicoUSD,
            status: usage.status
        )
        if case .dropped = pending.yield(row) {
            dropped.wrappingAdd(1, ordering: .relaxed)
        }
    }

    var droppedRows: Int { dropped.load(ordering: .relaxed) }

    func snapshot() -> [LLMUsageTotals] {
        totals.withLock { Array($0.values) }.sorted { ($0.agent, $0.model) < ($1.agent, $1.model) }
    }

    func finish() {
        pending.finish()
    }
}

/// Drains the ledger's rows into the store in batches; on shutdown writes what is left.
struct UsageWriter: Service {
    let ledger: UsageLedger
    let store: Store
    let logger: Logger

    func run() async throws {
        // The sequence ends when shutdown finishes the ledger, after the HTTP server stopped:
        // every row of every answered request is written before the store closes.
        await withGracefulShutdownHandler {
            for await row in ledger.rows {
                do {
                    try await store.recordLLMUsage([row])
                } catch {
                    logger.error("could not record LLM usage in the store", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            ledger.finish()
        }
    }
}
