internal import LLMProxy
internal import Logging
internal import Metrics
internal import Policy
internal import ServiceLifecycle
internal import Store
internal import Synchronization

/// Keeps the books of the LLM plane: running totals per agent and model (Policy's `SpendTotals`,
/// behind `/admin/usage`, seeded from the store at startup so they survive restarts), token and cost metrics, and one
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
        var totals: SpendTotals
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
    init(seed: [SpendTotal], metrics: any MetricsFactory, capacity: Int = 10_000) {
        self.books = Mutex(Books(totals: SpendTotals(seed: seed)))
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
            books.totals.add(
                agent: usage.agent,
                model: usage.model,
                inputTokens: inputTokens,
                outputTokens: outputTokens,
                costPicoUSD: costPicoUSD
            )
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

    func snapshot() -> [SpendTotal] {
        books.withLock { $0.totals.all }
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
