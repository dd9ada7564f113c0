internal import LLMProxy
internal import Logging
internal import Metrics
internal import ServiceLifecycle
internal import Store
internal import Synchronization

/// Keeps the books of the LLM plane: running totals per agent and model (behind `/admin/usage`,
/// seeded from the store at startup so they survive restarts), token and cost metrics, and one
/// store row per call, written in batches by `UsageWriter` off the request path.
final class UsageLedger: UsageSink, Sendable {
    struct Key: Hashable, Sendable {
        let agent: String
        let model: String
    }

    /// Metric handles per agent and model, made once: looking them up in the registry on every
    /// call would take the registry's lock and build label strings each time.
    private struct MetricHandles: Sendable {
        let requests: Counter
        let inputTokens: Counter
        let outputTokens: Counter
        let cost: FloatingPointCounter
    }

    private struct Books: Sendable {
        var totals: [Key: LLMUsageTotals] = [:]
        var metrics: [Key: MetricHandles] = [:]
        var pending: [LLMUsageRow] = []
        var droppedRows = 0
    }

    private let books: Mutex<Books>
    private let wakeUps: AsyncStream<Void>.Continuation
    /// Yields once per batch to write; a wake-up that finds the batch already taken is harmless.
    let batchesReady: AsyncStream<Void>
    private let metricsFactory: any MetricsFactory
    private let capacity: Int

    /// `capacity` bounds the rows waiting for the disk; past it rows are dropped and counted
    /// (the totals and metrics still include them).
    init(seed: [LLMUsageTotals], metrics: any MetricsFactory, capacity: Int = 10_000) {
        var books = Books()
        for total in seed { books.totals[Key(agent: total.agent, model: total.model)] = total }
        self.books = Mutex(books)
        (self.batchesReady, self.wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.metricsFactory = metrics
        self.capacity = capacity
    }

    func record(_ usage: UsageRecord) async {
        let key = Key(agent: usage.agent, model: usage.model)
        // Rows, totals and Prometheus counters never go backwards (a negative increment traps
        // in the counter), whatever a sink's caller passes.
        let inputTokens = max(usage.usage.inputTokens, 0)
        let outputTokens = max(usage.usage.outputTokens, 0)
        let costPicoUSD = max(usage.costPicoUSD, 0)
        let row = LLMUsageRow(
            recordedAt: UTCTimestamp.now(),
            requestID: usage.requestID,
            agent: usage.agent,
            model: usage.model,
            provider: usage.provider,
            upstreamModel: usage.upstreamModel,
            endpoint: usage.endpoint.rawValue,
            isStreaming: usage.isStreaming,
            inputTokens: inputTokens,
            outputTokens: outputTokens,
            cachedInputTokens: max(usage.usage.cachedInputTokens, 0),
            isUsageReported: usage.isUsageReported,
            costPicoUSD: costPicoUSD,
            status: usage.status
        )
        let handles = books.withLock { books -> MetricHandles in
            var entry =
                books.totals[key]
                ?? LLMUsageTotals(
                    agent: usage.agent,
                    model: usage.model,
                    requests: 0,
                    inputTokens: 0,
                    outputTokens: 0,
                    costPicoUSD: 0
                )
            entry.requests = Self.saturatingSum(entry.requests, 1)
            entry.inputTokens = Self.saturatingSum(entry.inputTokens, inputTokens)
            entry.outputTokens = Self.saturatingSum(entry.outputTokens, outputTokens)
            entry.costPicoUSD = Self.saturatingSum(entry.costPicoUSD, costPicoUSD)
            books.totals[key] = entry
            if books.pending.count < capacity {
                books.pending.append(row)
            } else {
                books.droppedRows += 1
            }
            if let handles = books.metrics[key] { return handles }
            let handles = makeHandles(for: key)
            books.metrics[key] = handles
            return handles
        }
        wakeUps.yield()
        handles.requests.increment()
        handles.inputTokens.increment(by: inputTokens)
        handles.outputTokens.increment(by: outputTokens)
        handles.cost.increment(by: Double(costPicoUSD) / 1e12)
    }

    /// Totals add upstream-reported amounts (never negative here) to totals seeded from the
    /// store: pinned at the type's maximum rather than trapping on overflow.
    private static func saturatingSum<Value: FixedWidthInteger>(_ total: Value, _ amount: Value) -> Value {
        let (sum, overflow) = total.addingReportingOverflow(amount)
        return overflow ? .max : sum
    }

    private func makeHandles(for key: Key) -> MetricHandles {
        let dimensions = [("agent", key.agent), ("model", key.model)]
        return MetricHandles(
            requests: Counter(label: "gatehouse_llm_requests_total", dimensions: dimensions, factory: metricsFactory),
            inputTokens: Counter(
                label: "gatehouse_llm_tokens_total",
                dimensions: dimensions + [("type", "input")],
                factory: metricsFactory
            ),
            outputTokens: Counter(
                label: "gatehouse_llm_tokens_total",
                dimensions: dimensions + [("type", "output")],
                factory: metricsFactory
            ),
            cost: FloatingPointCounter(
                label: "gatehouse_llm_cost_usd_total",
                dimensions: dimensions,
                factory: metricsFactory
            )
        )
    }

    /// Takes every row waiting for the disk.
    func takePendingRows() -> [LLMUsageRow] {
        books.withLock { books in
            defer { books.pending.removeAll(keepingCapacity: true) }
            return books.pending
        }
    }

    var droppedRows: Int { books.withLock { $0.droppedRows } }

    func snapshot() -> [LLMUsageTotals] {
        books.withLock { Array($0.totals.values) }.sorted { ($0.agent, $0.model) < ($1.agent, $1.model) }
    }

    func finish() {
        wakeUps.finish()
    }
}

/// Writes the ledger's rows to the store, as many as have gathered in one transaction; on
/// shutdown, after the HTTP server stopped, writes what is left before the store closes.
struct UsageWriter: Service {
    let ledger: UsageLedger
    let store: Store
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in ledger.batchesReady {
                await write(ledger.takePendingRows())
            }
            await write(ledger.takePendingRows())
        } onGracefulShutdown: {
            ledger.finish()
        }
    }

    private func write(_ rows: [LLMUsageRow]) async {
        guard !rows.isEmpty else { return }
        do {
            try await store.recordLLMUsage(rows)
        } catch {
            logger.error(
                "could not record LLM usage in the store",
                metadata: ["error": "\(error)", "rows": "\(rows.count)"]
            )
        }
    }
}
