import Testing

@testable import GatehouseTracing

@Suite("Span builders")
struct SpanBuilderTests {
    let trace = "0af7651916cd43dd8448eb211c80319c"

    @Test func aChatSpanCarriesTheCurrentAttributeNames() {
        let span = GatehouseSpans.chat(
            traceID: trace,
            spanID: "1111111111111111",
            parentSpanID: "2222222222222222",
            model: "gpt-4o-mini",
            provider: "openai",
            responseModel: "gpt-4o-mini-2024-07-18",
            isStreaming: true,
            startNanoseconds: 1_000_000_000,
            endNanoseconds: 3_000_000_000,
            firstChunkNanoseconds: 1_250_000_000,
            usage: .init(input: 100, output: 20, cacheRead: 64, reasoning: 8),
            finishReasons: ["tool_calls"],
            costUSD: 0.000_027,
            attempts: 2
        )
        #expect(span.name == "chat gpt-4o-mini" && span.kind == .client && span.parentSpanID == "2222222222222222")
        #expect(span[attribute: "gen_ai.provider.name"] == .string("openai"))
        #expect(span[attribute: "gen_ai.system"] == nil)
        #expect(span[attribute: "gen_ai.usage.input_tokens"] == .int(100))
        #expect(span[attribute: "gen_ai.usage.cache_read.input_tokens"] == .int(64))
        #expect(span[attribute: "gen_ai.usage.reasoning.output_tokens"] == .int(8))
        #expect(span[attribute: "gen_ai.usage.cache_creation.input_tokens"] == nil)
        #expect(span[attribute: "gen_ai.response.finish_reasons"] == .strings(["tool_calls"]))
        #expect(span[attribute: "gen_ai.response.time_to_first_chunk"] == .double(0.25))
        #expect(span[attribute: "gatehouse.attempt"] == .int(2))
        #expect(span.status == .unset)
    }

    @Test func toolSpansSayHowTheCallEnded() {
        func call(_ outcome: GatehouseSpans.ToolOutcome) -> SpanRecord {
            GatehouseSpans.toolCall(
                traceID: trace,
                spanID: "3333333333333333",
                parentSpanID: "2222222222222222",
                tool: "notes__add",
                requestID: "7",
                sessionID: nil,
                toolCallID: "call_1",
                askedBy: (trace, "1111111111111111"),
                startNanoseconds: 5,
                endNanoseconds: 9,
                outcome: outcome
            )
        }
        let ok = call(.result)
        #expect(ok.name == "tools/call notes__add" && ok.kind == .server)
        #expect(ok[attribute: "gen_ai.tool.call.id"] == .string("call_1"))
        #expect(ok[attribute: "jsonrpc.request.id"] == .string("7") && ok[attribute: "mcp.session.id"] == nil)
        #expect(ok.links == [SpanLink(traceID: trace, spanID: "1111111111111111")])
        #expect(call(.toolError("no such note"))[attribute: "error.type"] == .string("tool_error"))
        let refused = call(.jsonRPCError(code: -32003, message: "Denied by policy"))
        #expect(refused[attribute: "error.type"] == .string("-32003"))
        #expect(refused.status == .error("Denied by policy"))
    }

    @Test func langfuseSeesTheTraceOnEverySpanAndAnObservationTypeEach() {
        let root = GatehouseSpans.run(
            FinishedRun(
                key: .agent("demo"),
                agent: "demo",
                traceID: trace,
                rootSpanID: "2222222222222222",
                parentSpanID: nil,
                startNanoseconds: 1,
                endNanoseconds: 10,
                callCount: 3
            )
        )
        #expect(root.name == "invoke_agent demo" && root.parentSpanID == nil)
        let chat = GatehouseSpans.chat(
            traceID: trace,
            spanID: "1111111111111111",
            parentSpanID: "2222222222222222",
            model: "m",
            provider: "openai",
            responseModel: nil,
            isStreaming: false,
            startNanoseconds: 2,
            endNanoseconds: 3,
            usage: nil,
            finishReasons: [],
            costUSD: nil
        )
        let decorated = LangfuseAttributes.decorate(
            [root, chat],
            traceName: "demo run",
            sessionID: "s-1",
            userID: "demo"
        )
        #expect(
            decorated.map { $0[attribute: "langfuse.observation.type"] } == [.string("agent"), .string("generation")]
        )
        #expect(
            decorated.allSatisfy {
                $0[attribute: "session.id"] == .string("s-1") && $0[attribute: "user.id"] == .string("demo")
            }
        )
        #expect(decorated.allSatisfy { $0[attribute: "langfuse.trace.name"] == .string("demo run") })
    }
}
