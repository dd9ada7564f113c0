import GatehouseJSON
import Synchronization
import Testing

@testable import GatehouseTracing

@Suite("Agent runs")
struct AgentRunsTests {
    let second: UInt64 = 1_000_000_000

    @Test func theKeyPrefersTheCallersTraceThenTheNamedRunThenTheMCPSession() throws {
        let parent = try #require(TraceParent(header: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        #expect(
            RunKey.of(agent: "a", traceParent: parent, run: "r", mcpSession: "s")
                == .trace("0af7651916cd43dd8448eb211c80319c")
        )
        #expect(RunKey.of(agent: "a", traceParent: nil, run: "r", mcpSession: "s") == .named(agent: "a", run: "r"))
        #expect(RunKey.of(agent: "a", traceParent: nil, run: nil, mcpSession: "s") == .mcpSession(agent: "a", id: "s"))
        #expect(RunKey.of(agent: "a", traceParent: nil, run: nil, mcpSession: nil) == .agent("a"))
        // Two agents naming the same run never share it.
        #expect(
            RunKey.of(agent: "a", traceParent: nil, run: "r", mcpSession: nil)
                != RunKey.of(agent: "b", traceParent: nil, run: "r", mcpSession: nil)
        )
    }

    /// chat → tool → chat: one run, the tool call matched to the first chat's request, the run
    /// ended by the answer without tool calls, its root covering every call.
    @Test func anAgentLoopIsOneRunAndTheToolCallIsMatched() throws {
        let runs = AgentRuns()
        let key = RunKey.agent("demo")
        let first = runs.begin(key, agent: "demo", callerParent: nil, at: 10 * second)
        #expect(first.context.opened && first.evicted.isEmpty)
        let asked = RequestedToolCall(
            id: "call_1",
            name: "notes__add",
            arguments: ToolArguments.canonical(json: #"{"title": "x", "body": "y"}"#)
        )
        #expect(runs.answered(key, toolCalls: [asked], chatSpanID: "c1", at: 11 * second) == nil)

        let tool = runs.begin(key, agent: "demo", callerParent: nil, at: 12 * second)
        #expect(
            tool.context
                == RunContext(traceID: first.context.traceID, rootSpanID: first.context.rootSpanID, opened: false)
        )
        // The MCP call's arguments, in another key order, are the same call.
        let arguments = try JSONValue.parse(#"{"body":"y","title":"x"}"#)
        #expect(
            runs.match(key, tool: "notes__add", arguments: ToolArguments.canonical(arguments))
                == MatchedToolCall(id: "call_1", chatSpanID: "c1")
        )
        // Matched once.
        #expect(runs.match(key, tool: "notes__add", arguments: ToolArguments.canonical(arguments)) == nil)
        runs.end(key, at: 13 * second)

        _ = runs.begin(key, agent: "demo", callerParent: nil, at: 14 * second)
        let finished = try #require(runs.answered(key, toolCalls: [], chatSpanID: "c2", at: 15 * second))
        #expect(finished.traceID == first.context.traceID && finished.rootSpanID == first.context.rootSpanID)
        #expect(finished.startNanoseconds == 10 * second && finished.endNanoseconds == 15 * second)
        #expect(finished.callCount == 3 && finished.parentSpanID == nil)
        #expect(runs.openRunCount == 0)
        // The next call opens a new run, with a new trace.
        let next = runs.begin(key, agent: "demo", callerParent: nil, at: 16 * second)
        #expect(next.context.opened && next.context.traceID != first.context.traceID)
    }

    @Test func aRunWithACallInFlightDoesNotEndOnAnAnswer() {
        let runs = AgentRuns()
        let key = RunKey.named(agent: "a", run: "r")
        _ = runs.begin(key, agent: "a", callerParent: nil, at: 1)
        _ = runs.begin(key, agent: "a", callerParent: nil, at: 2)
        #expect(runs.answered(key, toolCalls: [], chatSpanID: "c", at: 3) == nil)
        runs.end(key, at: 4)
        #expect(runs.openRunCount == 1)
        #expect(runs.expire(now: 4 + 31 * second).map(\.endNanoseconds) == [4])
    }

    @Test func matchingFallsBackToTheToolNameAndToUnprefixedNames() {
        let runs = AgentRuns()
        let key = RunKey.agent("a")
        _ = runs.begin(key, agent: "a", callerParent: nil, at: 1)
        let calls = [
            RequestedToolCall(id: "1", name: "add", arguments: #"{"n":1}"#),
            RequestedToolCall(id: "2", name: "notes__add", arguments: #"{"n":2}"#),
            RequestedToolCall(id: "3", name: "add", arguments: #"{"n":3}"#),
        ]
        _ = runs.answered(key, toolCalls: calls, chatSpanID: "c", at: 2)
        // Exact arguments win over order; a model that saw the unprefixed name still matches.
        #expect(runs.match(key, tool: "notes__add", arguments: #"{"n":2}"#)?.id == "2")
        #expect(runs.match(key, tool: "notes__add", arguments: #"{"n":9}"#)?.id == "1")
        #expect(runs.match(key, tool: "other__tool", arguments: "{}") == nil)
        // With one call of the tool left, the arguments are not even looked at.
        let asked = Mutex(false)
        let last = runs.match(key, tool: "notes__add") {
            asked.withLock { $0 = true }
            return "{}"
        }
        #expect(last?.id == "3" && !asked.withLock { $0 })
    }

    @Test func aCallersTraceIsContinued() throws {
        let parent = try #require(TraceParent(header: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        let runs = AgentRuns()
        let key = RunKey.of(agent: "a", traceParent: parent, run: nil, mcpSession: nil)
        let opened = runs.begin(key, agent: "a", callerParent: parent, at: 1)
        #expect(opened.context.traceID == parent.traceID)
        let finished = try #require(runs.answered(key, toolCalls: [], chatSpanID: "c", at: 2))
        #expect(finished.parentSpanID == "b7ad6b7169203331")
    }

    @Test func aFullTableEndsItsLeastRecentlyActiveRunsInABatch() {
        let runs = AgentRuns(maximumRuns: 128)
        for index in 0..<128 {
            _ = runs.begin(.agent("a\(index)"), agent: "a\(index)", callerParent: nil, at: UInt64(128 - index) * second)
        }
        let next = runs.begin(.agent("new"), agent: "new", callerParent: nil, at: 200 * second)
        #expect(next.context.opened)
        // A 64th of the table: the two least recently active (the last two opened, at 1 s and 2 s).
        #expect(next.evicted.map(\.agent) == ["a127", "a126"])
        #expect(runs.openRunCount == 127)
        #expect(runs.begin(.agent("newer"), agent: "newer", callerParent: nil, at: 201 * second).evicted.isEmpty)
    }

    @Test func runsAreBoundedAndIdleRunsExpire() {
        let runs = AgentRuns(idleWindow: .seconds(5), maximumRuns: 3, maximumPendingToolCalls: 2)
        for index in 0..<3 {
            let key = RunKey.agent("a\(index)")
            _ = runs.begin(key, agent: "a\(index)", callerParent: nil, at: UInt64(index) * second)
            runs.end(key, at: UInt64(index) * second)
        }
        // A fourth run ends the least recently active one.
        let fourth = runs.begin(.agent("a3"), agent: "a3", callerParent: nil, at: 3 * second)
        #expect(fourth.evicted.map(\.agent) == ["a0"])
        #expect(runs.openRunCount == 3)
        // Pending tool calls are bounded too: the oldest go first.
        let calls = (0..<3).map { RequestedToolCall(id: "\($0)", name: "t", arguments: "{}") }
        _ = runs.answered(.agent("a3"), toolCalls: calls, chatSpanID: "c", at: 3 * second)
        #expect(runs.match(.agent("a3"), tool: "t", arguments: "{}")?.id == "1")
        // Idle past the window: a1 and a2 expire; a3 (active at 3 s) not yet at 7.5 s.
        let expired = runs.expire(now: 7 * second + second / 2)
        #expect(expired.map(\.agent) == ["a1", "a2"])
        #expect(runs.endAll().map(\.agent) == ["a3"])
    }

    @Test func identifiersAreLowercaseHexAndNeverZero() {
        struct Zeros: RandomNumberGenerator {
            var values: [UInt64] = [0, 0, 0xabc, 0x1]
            mutating func next() -> UInt64 { values.isEmpty ? 7 : values.removeFirst() }
        }
        var random = Zeros()
        // Zero time and zero randomness still make a valid id.
        #expect(TraceIdentifiers.traceID(using: &random, nanoseconds: 0) == "00000000000000010000000000000000")
        // Seconds, then the fraction of the second in 1/65536ths (half a second: 8000), then
        // random bits.
        var more = Zeros(values: [0xabc, 0x1])
        let halfPast: UInt64 = 0x6a00_0001 * 1_000_000_000 + 500_000_000
        #expect(TraceIdentifiers.traceID(using: &more, nanoseconds: halfPast) == "6a00000180000abc0000000000000001")
        // Later ids sort after earlier ones, whatever their random part, also within a second.
        let pairs: [(earlier: UInt64, later: UInt64)] = [
            (1_800_000_000_000_000_000, 1_800_000_001_000_000_000), (halfPast, halfPast + 20_000),
        ]
        for pair in pairs {
            var high = Zeros(values: [.max, .max])
            var low = Zeros(values: [0, 0])
            #expect(
                TraceIdentifiers.traceID(using: &high, nanoseconds: pair.earlier)
                    < TraceIdentifiers.traceID(using: &low, nanoseconds: pair.later)
            )
        }
        #expect(TraceIdentifiers.traceID().count == 32)
        let span = TraceIdentifiers.spanID()
        #expect(span.count == 16 && span != String(repeating: "0", count: 16))
        #expect(span.allSatisfy { "0123456789abcdef".contains($0) })
    }
}
