internal import LLMProxy
internal import Logging
internal import Metrics
internal import Policy
internal import ServiceLifecycle
internal import Store
internal import Synchronization

/// Keeps the books of the LLM plane: running totals per agent and model (Policy's `SpendTotals`,
/// behind `/admin/usage`, seeded from the store at startup so they survive restarts), token and
/// cost metrics, and one store row per call, queued in `rows` and written in batches by a
/// `RowWriter` off the request path. No row is dropped: a full queue makes `record` wait.
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
    }

    private let books: Mutex<Books>
    /// The rows waiting for the disk.
    let rows: RowQueue<LLMUsageRow>
    private let metricsFactory: any MetricsFactory
    /// The day's and month's spend per agent, for budgets.
    let budgetSpend: BudgetSpend

    /// `capacity` bounds the rows waiting for the disk; past it, `record` waits for room.
    init(
        seed: [SpendTotal],
        metrics: any MetricsFactory,
        capacity: Int = 10_000,
        budgetSpend: BudgetSpend = BudgetSpend()
    ) {
        self.books = Mutex(Books(totals: SpendTotals(seed: seed)))
        self.rows = RowQueue(capacity: capacity)
        self.metricsFactory = metrics
        self.budgetSpend = budgetSpend
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
            if let handles = books.metrics[key] { return handles }
            let handles = makeHandles(for: key)
            books.metrics[key] = handles
            return handles
        }
        handles.requests.increment()
        handles.inputTokens.increment(by: inputTokens)
        handles.outputTokens.increment(by: outputTokens)
        handles.cost.increment(by: Double(costPicoUSD) / 1e12)
        budgetSpend.add(agent: usage.agent, picoUSD: costPicoUSD)
        await rows.append(row)
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

    func snapshot() -> [SpendTotal] {
        books.withLock { $0.totals.all }
    }

}
