import Testing

@testable import GatehouseTracing

@Suite("Decisions, content and sessions on spans")
struct TraceCaptureAndDecisionTests {
    let ms: UInt64 = 1_000_000

    @Test func decisionsBecomeGuardrailEventsWithTheirRule() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let handle = tracer.llmCallStarted(
            LLMCallStart(caller: TraceCaller(agent: "a"), model: "m", isStreaming: false, startNanoseconds: 0)
        )
        tracer.llmCallEnded(
            handle,
            LLMCallEnd(
                provider: "p",
                responseModel: nil,
                usage: nil,
                finishReasons: [],
                toolCalls: [],
                costUSD: nil,
                error: "policy_denied",
                endNanoseconds: 5 * ms,
                decisions: [
                    TraceDecision(
                        stage: "admission",
                        decision: "deny",
                        rule: "a.yaml#models.deny[0]",
                        timeNanoseconds: 1 * ms
                    ),
                    TraceDecision(
                        stage: "prompt",
                        decision: "redact",
                        rule: "a.yaml#mask",
                        detectors: ["email"],
                        timeNanoseconds: 2 * ms
                    ),
                ],
                failedAttempts: [FailedAttempt(provider: "p", model: "m1", reason: "503", timeNanoseconds: 3 * ms)]
            )
        )
        let chat = try #require(sink.spans.first { $0.name == "chat m" })
        let guardrails = chat.events.filter { $0.name == "apply_guardrail" }
        #expect(guardrails.count == 2)
        #expect(guardrails[0].attributes.contains(SpanAttribute(GatehouseKey.policyRule, "a.yaml#models.deny[0]")))
        #expect(guardrails[0].attributes.contains(SpanAttribute(GatehouseKey.policyDecision, "deny")))
        #expect(guardrails[1].attributes.contains(SpanAttribute(GatehouseKey.guardDetectors, .strings(["email"]))))
        #expect(chat.events.contains { $0.name == "gatehouse.attempt.failed" })
        #expect(chat[attribute: CommonKey.errorType] == .string("policy_denied"))
        #expect(chat.status == .error("policy_denied"))
    }

    @Test func capturedContentIsCutAtThePolicysLimit() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let handle = tracer.toolCallStarted(
            ToolCallStart(
                caller: TraceCaller(agent: "a"),
                tool: "s__t",
                requestID: "1",
                arguments: "{}",
                startNanoseconds: 0
            )
        )
        tracer.toolCallEnded(
            handle,
            ToolCallEnd(
                outcome: .result,
                upstream: nil,
                endNanoseconds: 1 * ms,
                content: (arguments: "{\"q\":\"short\"}", result: String(repeating: "é", count: 100), limit: 21)
            )
        )
        let span = try #require(sink.spans.first { $0.name == "tools/call s__t" })
        #expect(span[attribute: GenAIKey.toolCallArguments] == .string("{\"q\":\"short\"}"))
        // 10 two-byte characters fit in 21 bytes; the cut never splits one.
        #expect(
            span[attribute: GenAIKey.toolCallResult]
                == .string(String(repeating: "é", count: 10) + TraceContent.truncationMarker)
        )
    }

    @Test func noContentUnlessCaptured() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let handle = tracer.toolCallStarted(
            ToolCallStart(
                caller: TraceCaller(agent: "a"),
                tool: "t",
                requestID: "1",
                arguments: "{}",
                startNanoseconds: 0
            )
        )
        tracer.toolCallEnded(handle, ToolCallEnd(outcome: .result, upstream: nil, endNanoseconds: 1))
        let span = try #require(sink.spans.first)
        #expect(span[attribute: GenAIKey.toolCallArguments] == nil)
        #expect(span[attribute: GenAIKey.toolCallResult] == nil)
    }

    @Test func everySpanCarriesItsRunsConversation() {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let named = TraceCaller(agent: "a", run: "ticket-42")
        let handle = tracer.llmCallStarted(
            LLMCallStart(caller: named, model: "m", isStreaming: false, startNanoseconds: 0)
        )
        tracer.llmCallEnded(
            handle,
            LLMCallEnd(
                provider: "p",
                responseModel: nil,
                usage: nil,
                finishReasons: ["stop"],
                toolCalls: [],
                costUSD: nil,
                endNanoseconds: 1
            )
        )
        #expect(sink.spans.count == 2)
        #expect(sink.spans.allSatisfy { $0[attribute: GenAIKey.conversationID] == .string("ticket-42") })
        let decorated = LangfuseAttributes.decorate(sink.spans, agent: "a")
        #expect(decorated.allSatisfy { $0[attribute: LangfuseKey.sessionID] == .string("ticket-42") })
        #expect(decorated.allSatisfy { $0[attribute: LangfuseKey.userID] == .string("a") })
        #expect(decorated.allSatisfy { $0[attribute: LangfuseKey.traceName] == .string("invoke_agent a") })
    }

    /// The tool's upstream hop is the parent the request toward the server names.
    @Test func theUpstreamHopIsTheSpanTheServerIsToldAbout() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let handle = tracer.toolCallStarted(
            ToolCallStart(
                caller: TraceCaller(agent: "a"),
                tool: "s__t",
                requestID: "1",
                arguments: "{}",
                startNanoseconds: 0
            )
        )
        let sent = try #require(TraceParent(header: handle.upstreamTraceParent[...]))
        tracer.toolCallEnded(
            handle,
            ToolCallEnd(outcome: .result, upstream: ("s", "t", 1 * ms, 2 * ms), endNanoseconds: 3 * ms)
        )
        let hop = try #require(sink.spans.first { $0.name == "tools/call t" })
        #expect(hop.spanID == sent.parentSpanID)
        #expect(hop.traceID == sent.traceID)
        #expect(hop.parentSpanID == handle.spanID)
    }
}

@Suite("Embeddings in a run")
struct EmbeddingsInARunTests {
    @Test func anEmbeddingsCallIsItsOwnKindOfSpanAndNeverEndsTheRun() throws {
        let sink = CollectingSink()
        let tracer = AgentTracer(sinks: [sink])
        let caller = TraceCaller(agent: "a")
        let embed = tracer.llmCallStarted(
            LLMCallStart(caller: caller, model: "e", isStreaming: false, startNanoseconds: 0, operation: "embeddings")
        )
        tracer.llmCallEnded(
            embed,
            LLMCallEnd(
                provider: "p",
                responseModel: nil,
                usage: .init(input: 5, output: 0),
                finishReasons: [],
                toolCalls: [],
                costUSD: nil,
                endNanoseconds: 10
            )
        )
        let span = try #require(sink.spans.first)
        #expect(span.name == "embeddings e")
        #expect(span[attribute: GenAIKey.operationName] == .string("embeddings"))
        #expect(tracer.runs.openRunCount == 1)
        #expect(!sink.spans.contains { $0.name == "invoke_agent a" })
    }
}

@Suite("Runs across an MCP session and unmarked LLM calls")
struct RunAliasTests {
    @Test func anMCPSessionJoinsTheAgentsUnmarkedRun() {
        let runs = AgentRuns()
        let (llm, _) = runs.begin(.agent("a"), agent: "a", callerParent: nil, at: 1)
        let (tool, _) = runs.begin(.mcpSession(agent: "a", id: "s1"), agent: "a", callerParent: nil, at: 2)
        #expect(tool.traceID == llm.traceID)
        #expect(!tool.opened)
        runs.end(.mcpSession(agent: "a", id: "s1"), at: 3)
        #expect(runs.answered(.agent("a"), toolCalls: [], chatSpanID: "x", at: 4)?.traceID == llm.traceID)
        #expect(runs.openRunCount == 0)
        // The alias went with the run: the session's next call opens a new one.
        let (next, _) = runs.begin(.mcpSession(agent: "a", id: "s1"), agent: "a", callerParent: nil, at: 5)
        #expect(next.opened)
        #expect(next.traceID != llm.traceID)
    }

    @Test func anUnmarkedLLMCallJoinsTheAgentsSessionRunButNotAnotherAgents() {
        let runs = AgentRuns()
        let (session, _) = runs.begin(.mcpSession(agent: "a", id: "s1"), agent: "a", callerParent: nil, at: 1)
        let (other, _) = runs.begin(.agent("b"), agent: "b", callerParent: nil, at: 2)
        let (llm, _) = runs.begin(.agent("a"), agent: "a", callerParent: nil, at: 3)
        #expect(llm.traceID == session.traceID)
        #expect(other.traceID != session.traceID)
        _ = runs.answered(
            .agent("a"),
            toolCalls: [RequestedToolCall(id: "c1", name: "s__t", arguments: "{}")],
            chatSpanID: "chat",
            at: 4
        )
        #expect(runs.match(.mcpSession(agent: "a", id: "s1"), tool: "s__t", arguments: "{}")?.id == "c1")
    }

    @Test func anUnmarkedCallJoinsTheAgentsMostRecentlyActiveSessionStillOpen() {
        let runs = AgentRuns()
        let (first, _) = runs.begin(.mcpSession(agent: "a", id: "s1"), agent: "a", callerParent: nil, at: 1)
        let (second, _) = runs.begin(.mcpSession(agent: "a", id: "s2"), agent: "a", callerParent: nil, at: 2)
        runs.end(.mcpSession(agent: "a", id: "s1"), at: 5)
        runs.end(.mcpSession(agent: "a", id: "s2"), at: 3)
        let (llm, _) = runs.begin(.agent("a"), agent: "a", callerParent: nil, at: 6)
        #expect(llm.traceID == first.traceID)
        // The run the call joined ends, and takes the alias with it: the next unmarked call
        // joins the session still open.
        #expect(runs.answered(.agent("a"), toolCalls: [], chatSpanID: "x", at: 7)?.traceID == first.traceID)
        let (next, _) = runs.begin(.agent("a"), agent: "a", callerParent: nil, at: 8)
        #expect(next.traceID == second.traceID)
        #expect(runs.openRunCount == 1)
    }

    @Test func namedRunsNeverJoinOthers() {
        let runs = AgentRuns()
        let (plain, _) = runs.begin(.agent("a"), agent: "a", callerParent: nil, at: 1)
        let (named, _) = runs.begin(.named(agent: "a", run: "r"), agent: "a", callerParent: nil, at: 2)
        #expect(named.traceID != plain.traceID)
    }
}

@Suite("Captured content")
struct TraceContentTests {
    @Test func shortTextIsKeptWhole() {
        #expect(TraceContent.cut("abc", limit: 3) == "abc")
        #expect(TraceContent.cut("abcd", limit: 3) == "abc" + TraceContent.truncationMarker)
        #expect(TraceContent.cut("", limit: 0) == "")
    }
}
