import Foundation
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
        #expect(ledger.rows.take().map { [$0.inputTokens, $0.outputTokens] } == [[0, 4]])
    }
}

@Suite("RowQueue")
struct RowQueueTests {
    @Test func aFullQueueMakesAppendsWaitInsteadOfDropping() async throws {
        let queue = RowQueue<Int>(capacity: 2)
        await queue.append(1)
        await queue.append(2)
        let third = Task { await queue.append(3) }
        // The third append waits until the writer takes rows.
        try await Task.sleep(for: .milliseconds(50))
        #expect(queue.count == 2)
        #expect(queue.backPressureWaits == 1)
        #expect(queue.take() == [1, 2])
        await third.value
        #expect(queue.take() == [3])
    }

    @Test func rowsPutBackAreRetriedFirst() async {
        let queue = RowQueue<Int>(capacity: 10)
        for row in 1...4 { await queue.append(row) }
        let batch = queue.take(limit: 2)
        queue.putBack(batch)
        #expect(queue.take() == [1, 2, 3, 4])
    }

    @Test func afterFinishNothingWaits() async {
        let queue = RowQueue<Int>(capacity: 1)
        await queue.append(1)
        queue.finish()
        await queue.append(2)
        #expect(queue.take() == [1, 2])
    }
}

@Suite("UTCTimestamp")
struct UTCTimestampTests {
    @Test func writesMillisecondsAndReadsThemBack() throws {
        let date = Date(timeIntervalSince1970: 1_796_595_000.123)
        #expect(UTCTimestamp.string(from: date) == "2026-12-06T22:10:00.123Z")
        #expect(UTCTimestamp.string(from: Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        let parsed = try #require(UTCTimestamp.date(from: "2026-12-06T22:10:00.123Z"))
        #expect(abs(parsed.timeIntervalSince1970 - 1_796_595_000.123) < 0.001)
        let now = UTCTimestamp.now()
        #expect(now.count == 24 && now.hasSuffix("Z") && UTCTimestamp.date(from: now) != nil)
    }
}
