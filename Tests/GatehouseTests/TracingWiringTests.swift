import Foundation
import GatehouseTracing
import Logging
import Prometheus
import Store
import Testing

@testable import gatehouse

@Suite struct TracingWiringTests {
    @Test func retryAfterInSecondsOrAsADate() {
        #expect(HTTPSpanTransport.retryAfter("3") == .seconds(3))
        #expect(HTTPSpanTransport.retryAfter(" 0 ") == .seconds(0))
        #expect(HTTPSpanTransport.retryAfter(nil) == nil)
        #expect(HTTPSpanTransport.retryAfter("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_784_000_000)
        let later = "Tue, 14 Jul 2026 03:33:30 GMT"
        let wait = HTTPSpanTransport.retryAfter(later, now: now)
        let expected = Date(timeIntervalSince1970: 1_784_000_010)
        #expect(wait == .milliseconds(Int(expected.timeIntervalSince(now) * 1000)))
        #expect(wait == .seconds(10))
    }

    private func metricLines(_ registry: PrometheusCollectorRegistry, containing text: String) -> [String] {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("#") && $0.contains(text) }.sorted()
    }

    /// One chat that answers, one tool call that fails, one chat the policy denies.
    private func recordCalls(_ recorder: any TraceRecorder) {
        let caller = TraceCaller(agent: "demo")
        let chat = recorder.llmCallStarted(
            LLMCallStart(caller: caller, model: "gpt-4o-mini", isStreaming: false, startNanoseconds: 1_000)
        )
        recorder.llmCallEnded(
            chat,
            LLMCallEnd(
                provider: "openai",
                responseModel: "gpt-4o-mini",
                usage: GatehouseSpans.Usage(input: 12, output: 3),
                finishReasons: ["stop"],
                toolCalls: [],
                costUSD: 0.001,
                endNanoseconds: 2_000
            )
        )
        let tool = recorder.toolCallStarted(
            ToolCallStart(caller: caller, tool: "files__read", requestID: "1", arguments: "{}", startNanoseconds: 3_000)
        )
        recorder.toolCallEnded(
            tool,
            ToolCallEnd(outcome: .toolError("no such file"), upstream: nil, endNanoseconds: 4_000)
        )
        let denied = recorder.llmCallStarted(
            LLMCallStart(caller: caller, model: "gpt-4o", isStreaming: false, startNanoseconds: 5_000)
        )
        recorder.llmCallEnded(
            denied,
            LLMCallEnd(
                provider: "openai",
                responseModel: nil,
                usage: nil,
                finishReasons: [],
                toolCalls: [],
                costUSD: nil,
                error: "policy_denied",
                endNanoseconds: 6_000,
                decisions: [
                    TraceDecision(stage: "admission", decision: "deny", rule: "models.deny", timeNanoseconds: 5_500)
                ]
            )
        )
    }

    private func expectCallMetrics(_ registry: PrometheusCollectorRegistry) {
        #expect(
            metricLines(registry, containing: "gatehouse_agent_requests_total") == [
                #"gatehouse_agent_requests_total{agent="demo",kind="llm",target="gpt-4o",status="denied"} 1"#,
                #"gatehouse_agent_requests_total{agent="demo",kind="llm",target="gpt-4o-mini",status="ok"} 1"#,
                #"gatehouse_agent_requests_total{agent="demo",kind="tool",target="files__read",status="error"} 1"#,
            ]
        )
        #expect(
            metricLines(registry, containing: "gatehouse_policy_denials_total") == [
                #"gatehouse_policy_denials_total{agent="demo",stage="admission",decision="deny",rule="models.deny"} 1"#
            ]
        )
        // The denied call's model has its token series, with nothing recorded.
        let labels = #"gen_ai_request_model="gpt-4o-mini",gen_ai_provider_name="openai",agent="demo""#
        let denied = #"gen_ai_request_model="gpt-4o",gen_ai_provider_name="openai",agent="demo""#
        #expect(
            metricLines(registry, containing: "gen_ai_client_token_usage_sum") == [
                #"gen_ai_client_token_usage_sum{gen_ai_token_type="input","# + denied + "} 0.0",
                #"gen_ai_client_token_usage_sum{gen_ai_token_type="input","# + labels + "} 12.0",
                #"gen_ai_client_token_usage_sum{gen_ai_token_type="output","# + denied + "} 0.0",
                #"gen_ai_client_token_usage_sum{gen_ai_token_type="output","# + labels + "} 3.0",
            ]
        )
        #expect(metricLines(registry, containing: "mcp_server_operation_duration_seconds_count").count == 1)
    }

    /// The gateway's tracing wiring over a store in a scratch folder, its metrics in `registry`.
    private func withRuntime(
        _ configuration: TracingConfiguration,
        _ body: (TracingRuntime, PrometheusCollectorRegistry) throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await Store.open(
            path: directory.appendingPathComponent("g.db").path,
            logger: Logger(label: "test")
        )
        let registry = PrometheusCollectorRegistry()
        let runtime = TracingRuntime.make(
            configuration: configuration,
            store: store,
            metrics: PrometheusMetricsFactory(registry: registry),
            logger: Logger(label: "test")
        )
        try body(runtime, registry)
    }

    /// With a store or an exporter, the trace metrics are read off the spans in the encoding
    /// pipeline's loop, not on the request path; the counts are the same.
    @Test func traceMetricsAreCountedInThePipelineLoopWhenSpansAreEncoded() async throws {
        try await withRuntime(TracingConfiguration()) { runtime, registry in
            let pipeline = try #require(runtime.pipeline)
            recordCalls(runtime.recorder)
            #expect(metricLines(registry, containing: "gatehouse_agent_requests_total").isEmpty)
            pipeline.drain()
            expectCallMetrics(registry)
            // The chat, its run's root, the tool call, the denied chat and the second run's root.
            #expect(runtime.storeWriter?.queued == 5)
        }
    }

    /// With neither, no pipeline runs: the tracer feeds the metrics itself.
    @Test func traceMetricsAreCountedOnTheCallWhenNothingIsEncoded() async throws {
        var configuration = TracingConfiguration()
        configuration.store.isEnabled = false
        try await withRuntime(configuration) { runtime, registry in
            #expect(runtime.pipeline == nil)
            recordCalls(runtime.recorder)
            expectCallMetrics(registry)
        }
    }
}
