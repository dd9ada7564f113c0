import Synchronization
import Testing

@testable import GatehouseTracing

final class CollectingSink: SpanSink {
    private let collected = Mutex<[SpanRecord]>([])
    func accept(_ spans: [SpanRecord], agent: String) { collected.withLock { $0 += spans } }
    var spans: [SpanRecord] { collected.withLock { $0 } }
}

@Suite("Agent tracer")
struct AgentTracerTests {
    let ms: UInt64 = 1_000_000

    /// chat → tools/call → chat, with no traceparent from the client: one trace, one root that
    /// covers everything, the tool span carrying the first chat's tool call id and linking to it.
    @Test func anAgentLoopWithoutTraceparentIsOneTrace() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let caller = TraceCaller(agent: "demo")
        let first = tracer.llmCallStarted(
            LLMCallStart(caller: caller, model: "gpt-4o-mini", isStreaming: false, startNanoseconds: 0)
        )
        tracer.llmCallEnded(
            first,
            LLMCallEnd(
                provider: "openai",
                responseModel: "gpt-4o-mini",
                usage: .init(input: 50, output: 10),
                finishReasons: ["tool_calls"],
                toolCalls: [
                    RequestedToolCall(
                        id: "call_abc",
                        name: "notes__add",
                        arguments: ToolArguments.canonical(json: #"{"title":"t"}"#)
                    )
                ],
                costUSD: 0.00001,
                endNanoseconds: 100 * ms
            )
        )
        let tool = tracer.toolCallStarted(
            ToolCallStart(
                caller: caller,
                tool: "notes__add",
                requestID: "3",
                arguments: #"{"title":"t"}"#,
                startNanoseconds: 120 * ms
            )
        )
        tracer.toolCallEnded(
            tool,
            ToolCallEnd(outcome: .result, upstream: ("notes", "add", 125 * ms, 140 * ms), endNanoseconds: 150 * ms)
        )
        let second = tracer.llmCallStarted(
            LLMCallStart(caller: caller, model: "gpt-4o-mini", isStreaming: false, startNanoseconds: 160 * ms)
        )
        tracer.llmCallEnded(
            second,
            LLMCallEnd(
                provider: "openai",
                responseModel: "gpt-4o-mini",
                usage: .init(input: 70, output: 12),
                finishReasons: ["stop"],
                toolCalls: [],
                costUSD: 0.00002,
                endNanoseconds: 260 * ms
            )
        )
        let spans = sink.spans
        #expect(
            spans.map(\.name) == [
                "chat gpt-4o-mini", "tools/call notes__add", "tools/call add", "chat gpt-4o-mini", "invoke_agent demo",
            ]
        )
        #expect(Set(spans.map(\.traceID)).count == 1)
        let root = try #require(spans.last)
        #expect(root.parentSpanID == nil && root.startNanoseconds == 0 && root.endNanoseconds == 260 * ms)
        #expect(
            spans.dropLast().allSatisfy { span in
                span.startNanoseconds >= root.startNanoseconds && span.endNanoseconds <= root.endNanoseconds
            }
        )
        #expect(
            spans[0].parentSpanID == root.spanID && spans[1].parentSpanID == root.spanID
                && spans[3].parentSpanID == root.spanID
        )
        let toolSpan = spans[1]
        #expect(toolSpan[attribute: GenAIKey.toolCallID] == .string("call_abc"))
        #expect(toolSpan.links == [SpanLink(traceID: root.traceID, spanID: spans[0].spanID)])
        #expect(spans[2].parentSpanID == toolSpan.spanID && spans[2].kind == .client)
        #expect(
            spans[2].startNanoseconds >= toolSpan.startNanoseconds && spans[2].endNanoseconds <= toolSpan.endNanoseconds
        )
        #expect(tool.traceParent == "00-\(root.traceID)-\(toolSpan.spanID)-01")
    }

    @Test func aClientsToolCallIDWinsAndACallersTraceIsJoined() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let parent = try #require(TraceParent(header: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        let caller = TraceCaller(agent: "demo", traceParent: parent)
        let tool = tracer.toolCallStarted(
            ToolCallStart(
                caller: caller,
                tool: "t__x",
                requestID: "1",
                arguments: "{}",
                toolCallID: "from-meta",
                startNanoseconds: 1
            )
        )
        tracer.toolCallEnded(tool, ToolCallEnd(outcome: .toolError("boom"), upstream: nil, endNanoseconds: 2))
        tracer.finishAll()
        let spans = sink.spans
        #expect(spans.allSatisfy { $0.traceID == parent.traceID })
        #expect(spans[0][attribute: GenAIKey.toolCallID] == .string("from-meta") && spans[0].links.isEmpty)
        #expect(spans[0][attribute: CommonKey.errorType] == .string("tool_error"))
        #expect(spans.last?.name == "invoke_agent demo" && spans.last?.parentSpanID == "b7ad6b7169203331")
    }

    @Test func idleRunsEndOnASweep() {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink], runs: AgentRuns(idleWindow: .seconds(1)))
        let call = tracer.toolCallStarted(
            ToolCallStart(
                caller: TraceCaller(agent: "a"),
                tool: "t__x",
                requestID: "1",
                arguments: "{}",
                startNanoseconds: 0
            )
        )
        tracer.toolCallEnded(call, ToolCallEnd(outcome: .result, upstream: nil, endNanoseconds: 10))
        tracer.sweep(now: 500 * ms)
        #expect(sink.spans.count == 1)
        tracer.sweep(now: 2_000 * ms)
        #expect(sink.spans.last?.name == "invoke_agent a" && sink.spans.last?.endNanoseconds == 10)
        #expect(NoTraceRecorder().isActive == false)
    }

    /// An answer read when its span is built: read by each sink as it builds the span (the
    /// pipeline only when it drains), and, asking for no tool calls, it ends the run at once.
    @Test func anAnswerReadLaterFillsTheSpanWhenItIsBuiltAndEndsTheRun() throws {
        let reads = Mutex(0)
        let end = LLMCallEnd(
            provider: "openai",
            responseModel: nil,
            usage: nil,
            finishReasons: [],
            toolCalls: [],
            costUSD: nil,
            endNanoseconds: 5,
            readAnswerLater: {
                reads.withLock { $0 += 1 }
                return (responseModel: "m-2024", finishReasons: ["stop"])
            }
        )
        let pipeline = SpanEncodingPipeline(sinks: [], addsLangfuseAttributes: false)
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [pipeline, sink])
        let handle = tracer.llmCallStarted(
            LLMCallStart(caller: TraceCaller(agent: "demo"), model: "m", isStreaming: false, startNanoseconds: 0)
        )
        tracer.llmCallEnded(handle, end.keptForSpan)
        // The collecting sink builds at once; the pipeline's buffer has not read the answer.
        #expect(reads.withLock { $0 } == 1)
        let chat = try #require(sink.spans.first { $0.name == "chat m" })
        #expect(chat[attribute: GenAIKey.responseModel] == .string("m-2024"))
        #expect(chat[attribute: GenAIKey.finishReasons] == .strings(["stop"]))
        // No tool calls: the answer ended the run, whose root followed.
        #expect(sink.spans.contains { $0[attribute: GenAIKey.operationName] == .string("invoke_agent") })
        pipeline.drain()
        #expect(reads.withLock { $0 } == 2)
    }

    /// A sink that keeps a call's end until its span is built holds the content already cut to
    /// its limit and no tool calls; the span gets the text cut once (cutting the cut text again
    /// could keep part of the marker when a wide character stopped the first cut).
    @Test func aCallsEndIsKeptCutAndTheSpanCutsItOnce() throws {
        let wide = "aaaaaaa\u{1F600}tail"
        let end = LLMCallEnd(
            provider: "openai",
            responseModel: nil,
            usage: nil,
            finishReasons: ["tool_calls"],
            toolCalls: [RequestedToolCall(id: "call_1", name: "notes__add", arguments: "{}")],
            costUSD: nil,
            endNanoseconds: 5,
            content: (input: wide, output: String(repeating: "é", count: 100), limit: 10)
        )
        let kept = end.keptForSpan
        #expect(kept.toolCalls.isEmpty)
        #expect(kept.content?.input == "aaaaaaa" + TraceContent.truncationMarker)
        #expect(kept.content?.output == String(repeating: "é", count: 5) + TraceContent.truncationMarker)
        let plain = LLMCallEnd(
            provider: "openai",
            responseModel: nil,
            usage: nil,
            finishReasons: [],
            toolCalls: [],
            costUSD: nil,
            endNanoseconds: 5
        )
        #expect(plain.keptForSpan.content == nil)

        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let handle = tracer.llmCallStarted(
            LLMCallStart(caller: TraceCaller(agent: "demo"), model: "m", isStreaming: false, startNanoseconds: 0)
        )
        tracer.llmCallEnded(handle, end)
        let chat = try #require(sink.spans.first { $0.name == "chat m" })
        #expect(chat[attribute: GenAIKey.inputMessages] == .string("aaaaaaa" + TraceContent.truncationMarker))

        let toolEnd = ToolCallEnd(
            outcome: .result,
            upstream: nil,
            endNanoseconds: 9,
            content: (arguments: wide, result: "short", limit: 10)
        ).keptForSpan
        #expect(toolEnd.content?.arguments == "aaaaaaa" + TraceContent.truncationMarker)
        #expect(toolEnd.content?.result == "short")
    }
}
