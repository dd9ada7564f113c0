import Foundation
import Synchronization
import Testing

@testable import GatehouseTracing

/// A collector scripted per test: answers in order, records every body it got.
final class ScriptedCollector: SpanExportTransport, Sendable {
    enum Answer: Sendable {
        case status(Int, retryAfter: Duration?)
        case unreachable
    }

    private let script: Mutex<[Answer]>
    private let bodies = Mutex<[[UInt8]]>([])
    let fallback: Answer

    init(_ answers: [Answer], then fallback: Answer = .status(200, retryAfter: nil)) {
        script = Mutex(answers)
        self.fallback = fallback
    }

    func post(_ body: [UInt8], contentType: String) async throws -> SpanExportResponse {
        bodies.withLock { $0.append(body) }
        let answer = script.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
        switch answer {
        case .status(let status, let retryAfter): return SpanExportResponse(status: status, retryAfter: retryAfter)
        case .unreachable: throw SpanExportUnreachable("connection refused")
        }
    }

    var received: [[UInt8]] { bodies.withLock { $0 } }
}

/// Records the waits instead of waiting.
final class RecordedSleeps: Sendable {
    private let waits = Mutex<[Duration]>([])
    var all: [Duration] { waits.withLock { $0 } }
    func sleep(_ duration: Duration) async throws { waits.withLock { $0.append(duration) } }
}

@Suite("Span exporter")
struct SpanExporterTests {
    func spans(_ count: Int) -> [EncodedSpan] {
        (0..<count).map {
            let record = SpanRecord(
                traceID: "0af7651916cd43dd8448eb211c80319c",
                spanID: String(format: "%016x", $0 + 1),
                parentSpanID: nil,
                name: "s\($0)",
                kind: .internal,
                startNanoseconds: 1,
                endNanoseconds: 2
            )
            // Bytes a test can read back: the span's name, and for Langfuse a marker after it.
            return EncodedSpan(
                record: record,
                agent: "a",
                otlp: Array(record.name.utf8),
                langfuse: Array("+lf".utf8)
            )
        }
    }

    /// Each batch body is its spans' bytes joined by commas, so a test can see what arrived.
    let encodeNames: @Sendable ([ExportedSpan], inout [UInt8]) -> Void = { spans, body in
        body.append(
            contentsOf: spans.map { String(decoding: $0.span + $0.attributes, as: UTF8.self) }.joined(separator: ",")
                .utf8
        )
    }

    @Test func aLangfuseExporterSendsEachSpanWithItsAttributesAndOthersWithout() async {
        let langfuseCollector = ScriptedCollector([])
        let otlpCollector = ScriptedCollector([])
        let langfuse = SpanExporter(
            name: "langfuse",
            transport: langfuseCollector,
            contentType: "application/x-protobuf",
            encode: encodeNames,
            addsLangfuseAttributes: true
        )
        let otlp = SpanExporter(
            name: "otlp",
            transport: otlpCollector,
            contentType: "application/x-protobuf",
            encode: encodeNames
        )
        for exporter in [langfuse, otlp] { exporter.accept(spans(2)) }
        await langfuse.exportQueued()
        await otlp.exportQueued()
        #expect(langfuseCollector.received.map { String(decoding: $0, as: UTF8.self) } == ["s0+lf,s1+lf"])
        #expect(otlpCollector.received.map { String(decoding: $0, as: UTF8.self) } == ["s0,s1"])
    }

    @Test func aCollectorAnswering503WithRetryAfterGetsEverySpanAfterTheRetry() async {
        let collector = ScriptedCollector([.status(503, retryAfter: .seconds(2)), .status(429, retryAfter: nil)])
        let sleeps = RecordedSleeps()
        let exporter = SpanExporter(
            name: "otlp",
            transport: collector,
            contentType: "application/x-protobuf",
            encode: encodeNames,
            batchSize: 10,
            sleep: sleeps.sleep
        )
        exporter.accept(spans(3))
        await exporter.exportQueued()
        #expect(collector.received.count == 3)
        #expect(collector.received.allSatisfy { String(decoding: $0, as: UTF8.self) == "s0,s1,s2" })
        // Retry-After honoured; without one, the first backoff.
        #expect(sleeps.all == [.seconds(2), .milliseconds(1000)])
        #expect(
            exporter.counts == SpanExporter.Counts(queued: 0, exported: 3, droppedQueueFull: 0, droppedByCollector: 0)
        )
    }

    @Test func onlyRetryableAnswersAreRetried() {
        func decide(_ status: Int, attempt: Int = 1) -> SpanExportRetry {
            SpanExportRetry.decide(.success(SpanExportResponse(status: status)), attempt: attempt, maximumAttempts: 3)
        }
        #expect(decide(200) == .delivered)
        #expect(decide(400) == .drop(reason: "HTTP 400"))
        #expect(decide(500) == .drop(reason: "HTTP 500"))
        #expect(decide(502) == .retry(after: .milliseconds(500)))
        #expect(decide(504, attempt: 2) == .retry(after: .milliseconds(1000)))
        #expect(decide(429, attempt: 3) == .drop(reason: "HTTP 429 after 3 attempts"))
        let unreachable = SpanExportRetry.decide(.failure(SpanExportUnreachable("x")), attempt: 1, maximumAttempts: 3)
        #expect(unreachable == .retry(after: .milliseconds(500)))
    }

    @Test func aDeadCollectorKeepsMemoryBoundedAndCountsDrops() async {
        let collector = ScriptedCollector([], then: .unreachable)
        let sleeps = RecordedSleeps()
        let exporter = SpanExporter(
            name: "otlp",
            transport: collector,
            contentType: "application/x-protobuf",
            encode: encodeNames,
            capacity: 100,
            batchSize: 50,
            maximumAttempts: 3,
            sleep: sleeps.sleep
        )
        for _ in 0..<10 { exporter.accept(spans(30)) }
        // The queue holds at most its capacity; the rest was dropped at once.
        #expect(exporter.counts.queued == 100 && exporter.counts.droppedQueueFull == 200)
        await exporter.exportQueued()
        #expect(exporter.counts.droppedByCollector == 100 && exporter.counts.exported == 0)
        #expect(collector.received.count == 6)  // 2 batches × 3 attempts
        #expect(exporter.lastDropReason == "unreachable after 3 attempts")
    }

    @Test func theLoopSendsAFullBatchWithoutWaitingForTheInterval() async throws {
        let collector = ScriptedCollector([])
        let exporter = SpanExporter(
            name: "otlp",
            transport: collector,
            contentType: "application/x-protobuf",
            encode: encodeNames,
            batchSize: 5,
            flushInterval: .seconds(3600)
        )
        let loop = Task { await exporter.run() }
        exporter.accept(spans(5))
        for _ in 0..<200 where exporter.counts.exported < 5 { try await Task.sleep(for: .milliseconds(10)) }
        loop.cancel()
        await loop.value
        #expect(exporter.counts.exported == 5)
    }

    @Test func eachBatchBodyHoldsOnlyItsOwnSpansWhenTheBufferIsReused() async {
        let collector = ScriptedCollector([])
        let exporter = SpanExporter(
            name: "otlp",
            transport: collector,
            contentType: "application/x-protobuf",
            encode: { spans, body in
                // Appends without clearing: what the last body left must be gone already.
                body.append(
                    contentsOf: spans.map { String(decoding: $0.span, as: UTF8.self) }.joined(separator: ",").utf8
                )
                body.append(contentsOf: ";".utf8)
            },
            batchSize: 4
        )
        exporter.accept(spans(6))
        await exporter.exportQueued()
        exporter.accept(spans(1))
        await exporter.exportQueued()
        #expect(collector.received.map { String(decoding: $0, as: UTF8.self) } == ["s0,s1,s2,s3;", "s4,s5;", "s0;"])
    }
}
