import LLMProxy
import Policy
import Prometheus
import Store
import Testing

@testable import gatehouse

@Suite struct UsageLedgerTests {
    private func record(inputTokens: Int, outputTokens: Int, costPicoUSD: Int64) -> UsageRecord {
        UsageRecord(
            requestID: "r1",
            agent: "a",
            model: "m",
            provider: "p",
            upstreamModel: "u",
            endpoint: .chatCompletions,
            isStreaming: false,
            usage: TokenUsage(inputTokens: inputTokens, outputTokens: outputTokens),
            isUsageReported: true,
            costPicoUSD: costPicoUSD,
            status: 200
        )
    }

    private func metricLines(_ registry: PrometheusCollectorRegistry) -> [String] {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("#") }.sorted()
    }

    /// Totals seeded from the store plus one more call once overflowed and trapped.
    @Test func totalsSaturateInsteadOfOverflowing() async {
        let seed = SpendTotal(
            agent: "a",
            model: "m",
            requests: .max,
            inputTokens: .max - 1,
            outputTokens: 7,
            costPicoUSD: .max - 5
        )
        let ledger = UsageLedger(seed: [seed], metrics: PrometheusMetricsFactory(registry: .init()))
        await ledger.record(record(inputTokens: 10, outputTokens: 3, costPicoUSD: 100))
        #expect(
            ledger.snapshot() == [
                SpendTotal(
                    agent: "a",
                    model: "m",
                    requests: .max,
                    inputTokens: .max,
                    outputTokens: 10,
                    costPicoUSD: .max
                )
            ]
        )
    }

    /// A negative amount once reached the Prometheus counter, whose precondition traps on it.
    @Test func negativeAmountsCountAsZero() async {
        let registry = PrometheusCollectorRegistry()
        let ledger = UsageLedger(seed: [], metrics: PrometheusMetricsFactory(registry: registry))
        await ledger.record(record(inputTokens: -5, outputTokens: 4, costPicoUSD: -1))
        #expect(
            ledger.snapshot() == [
                SpendTotal(agent: "a", model: "m", requests: 1, inputTokens: 0, outputTokens: 4, costPicoUSD: 0)
            ]
        )
        #expect(
            metricLines(registry) == [
                #"gatehouse_llm_cost_usd_total{agent="a",model="m"} 0"#,
                #"gatehouse_llm_requests_total{agent="a",model="m"} 1"#,
                #"gatehouse_llm_tokens_total{agent="a",model="m",type="input"} 0"#,
                #"gatehouse_llm_tokens_total{agent="a",model="m",type="output"} 4"#,
            ]
        )
        #expect(ledger.takePendingRows().map { [$0.inputTokens, $0.outputTokens] } == [[0, 4]])
    }
}
