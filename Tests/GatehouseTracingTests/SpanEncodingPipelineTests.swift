import Foundation
import Synchronization
import Testing

@testable import GatehouseTracing

/// Keeps the records a pipeline hands over, with their agent, a call at a time.
final class CollectedRecordCalls: SpanSink {
    private let calls = Mutex<[(spans: [SpanRecord], agent: String)]>([])
    var all: [(spans: [SpanRecord], agent: String)] { calls.withLock { $0 } }
    func accept(_ spans: [SpanRecord], agent: String) { calls.withLock { $0.append((spans, agent)) } }
}

/// Keeps what the pipeline hands over.
final class CollectedEncodedSpans: EncodedSpanSink {
    private let spans = Mutex<[EncodedSpan]>([])
    var all: [EncodedSpan] { spans.withLock { $0 } }
    func accept(_ spans: [EncodedSpan]) { self.spans.withLock { $0 += spans } }
}

@Suite("Span encoding pipeline")
struct SpanEncodingPipelineTests {
    func span(_ number: Int, operation: String = "chat") -> SpanRecord {
        SpanRecord(
            traceID: "6a0000010af7651916cd43dd8448eb21",
            spanID: String(format: "%016x", number + 1),
            parentSpanID: "00f067aa0ba902b7",
            name: "\(operation) gpt-4o-mini",
            kind: .client,
            startNanoseconds: 10,
            endNanoseconds: 20,
            attributes: [
                SpanAttribute(GenAIKey.operationName, operation), SpanAttribute(GatehouseKey.costUSD, .double(0.5)),
            ]
        )
    }

    @Test func everySinkGetsTheSameBytesOncePerSpan() throws {
        let store = CollectedEncodedSpans()
        let exporter = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(sinks: [store, exporter], addsLangfuseAttributes: false)
        pipeline.accept([span(0), span(1)], agent: "demo")
        pipeline.accept([span(2)], agent: "ops")
        #expect(store.all.isEmpty)
        pipeline.drain()
        #expect(store.all.map(\.record) == [span(0), span(1), span(2)])
        #expect(store.all.map(\.agent) == ["demo", "demo", "ops"])
        #expect(store.all.map(\.otlp) == exporter.all.map(\.otlp))
        let expected = [span(0), span(1), span(2)].map { Array(OTLPTraceEncoder.encode($0)) }
        #expect(store.all.map(\.otlp) == expected)
        #expect(store.all.allSatisfy { $0.langfuse.isEmpty })
        // Drained: nothing is handed over twice.
        pipeline.drain()
        #expect(store.all.count == 3)
    }

    @Test func recordSinksGetTheRecordsOffTheRequestPathEachAgentsRunInOneCall() {
        let metrics = CollectedRecordCalls()
        let store = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(sinks: [store], recordSinks: [metrics], addsLangfuseAttributes: false)
        pipeline.accept([span(0), span(1)], agent: "demo")
        pipeline.accept([span(2)], agent: "demo")
        pipeline.accept([span(3)], agent: "ops")
        pipeline.accept([span(4)], agent: "demo")
        // Accepting only buffers: the request path does not feed the metrics.
        #expect(metrics.all.isEmpty)
        pipeline.drain()
        #expect(metrics.all.map(\.agent) == ["demo", "ops", "demo"])
        #expect(metrics.all.map(\.spans) == [[span(0), span(1), span(2)], [span(3)], [span(4)]])
        #expect(store.all.count == 5)
        pipeline.drain()
        #expect(metrics.all.count == 3)
    }

    @Test func langfuseAttributesAreEncodedOnlyWhenAsked() throws {
        let sink = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(sinks: [sink], addsLangfuseAttributes: true)
        pipeline.accept([span(0)], agent: "demo")
        pipeline.drain()
        let encoded = try #require(sink.all.first)
        #expect(!encoded.langfuse.isEmpty)
        // The exporter frames the span's bytes and the attributes' as one span.
        let asLangfuseGetsIt = OTLPTraceEncoder.decode(encoded.otlp + encoded.langfuse)
        #expect(asLangfuseGetsIt == LangfuseAttributes.decorate([span(0)], agent: "demo").first)
        #expect(asLangfuseGetsIt?[attribute: LangfuseKey.observationType] == .string("generation"))
    }

    @Test func keptLangfuseGroupsEncodeAsTheWholeListWould() throws {
        let encoder = LangfuseAttributeEncoder()
        let root = SpanRecord(
            traceID: "6a0000010af7651916cd43dd8448eb21",
            spanID: "00f067aa0ba902b7",
            parentSpanID: "1111111111111111",
            name: "invoke_agent demo",
            kind: .internal,
            startNanoseconds: 1,
            endNanoseconds: 30,
            attributes: [SpanAttribute(GenAIKey.operationName, "invoke_agent")]
        )
        for (record, agent) in [(span(0), "demo"), (span(1), "demo"), (root, "demo"), (span(2), "ops"), (root, "demo")]
        {
            let whole = OTLPTraceEncoder.encodeAttributes(LangfuseAttributes.attributes(for: record, agent: agent))
            #expect(encoder.encode(record, agent: agent) == Array(whole))
        }
        // A root that continues a caller's trace is still Langfuse's trace root.
        let decoded = OTLPTraceEncoder.decode(OTLPTraceEncoder.encodedBytes(root) + encoder.encode(root, agent: "demo"))
        #expect(decoded?[attribute: LangfuseKey.asRoot] == .bool(true))
        #expect(decoded?[attribute: LangfuseKey.observationType] == .string("agent"))
    }

    @Test func aFullBufferDropsAndCountsWithoutWaiting() {
        let sink = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(sinks: [sink], addsLangfuseAttributes: false, capacity: 2)
        pipeline.accept([span(0), span(1), span(2)], agent: "demo")
        pipeline.accept([span(3)], agent: "demo")
        #expect(pipeline.dropped == 2)
        pipeline.drain()
        #expect(sink.all.map(\.record) == [span(0), span(1)])
    }

    /// The tracer hands over what a call reported; the pipeline builds the spans when it drains,
    /// the same spans a sink that takes them at once gets, and counts a call that does not fit
    /// as all of its spans dropped.
    @Test func spansOfACallAreBuiltWhenThePipelineDrains() {
        let encoded = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(sinks: [encoded], addsLangfuseAttributes: false, capacity: 3)
        let atOnce = CollectingSink()
        let tracer = AgentTracer(sinks: [pipeline, atOnce])
        let caller = TraceCaller(agent: "demo")
        for start: UInt64 in [0, 1_000] {
            let handle = tracer.llmCallStarted(
                LLMCallStart(caller: caller, model: "gpt-4o-mini", isStreaming: false, startNanoseconds: start)
            )
            tracer.llmCallEnded(
                handle,
                LLMCallEnd(
                    provider: "openai",
                    responseModel: "gpt-4o-mini",
                    usage: .init(input: 5, output: 2),
                    finishReasons: ["stop"],
                    toolCalls: [],
                    costUSD: nil,
                    endNanoseconds: start + 500
                )
            )
        }
        // Two runs of a chat span and a root each: the second run's root no longer fits.
        #expect(atOnce.spans.count == 4)
        #expect(encoded.all.isEmpty)
        #expect(pipeline.dropped == 1)
        pipeline.drain()
        #expect(encoded.all.map(\.record) == Array(atOnce.spans.prefix(3)))
        #expect(encoded.all.map(\.record.name) == ["chat gpt-4o-mini", "invoke_agent demo", "chat gpt-4o-mini"])
        #expect(encoded.all.allSatisfy { $0.agent == "demo" })
    }

    @Test func theLoopHandsOverAFullBatchBeforeItsInterval() async throws {
        let sink = CollectedEncodedSpans()
        let pipeline = SpanEncodingPipeline(
            sinks: [sink],
            addsLangfuseAttributes: false,
            batchSize: 4,
            interval: .seconds(3600)
        )
        let loop = Task { await pipeline.run() }
        pipeline.accept((0..<4).map { span($0) }, agent: "demo")
        for _ in 0..<200 where sink.all.count < 4 { try await Task.sleep(for: .milliseconds(10)) }
        loop.cancel()
        await loop.value
        #expect(sink.all.count == 4)
    }
}
