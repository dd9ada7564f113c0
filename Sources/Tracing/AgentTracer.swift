internal import Foundation

/// What the planes tell tracing, and the tracer that turns it into one trace per agent run.
/// Injected into the planes as `UsageSink` and the policy are; a plane never builds a span itself.
public protocol TraceRecorder: Sendable {
    /// Whether anything records; when not, the planes skip the calls altogether.
    var isActive: Bool { get }
    func llmCallStarted(_ call: LLMCallStart) -> TraceHandle
    func llmCallEnded(_ handle: TraceHandle, _ end: LLMCallEnd)
    func toolCallStarted(_ call: ToolCallStart) -> TraceHandle
    func toolCallEnded(_ handle: TraceHandle, _ end: ToolCallEnd)
}

/// Receives finished spans: an exporter's queue, the local store. Must not wait.
public protocol SpanSink: Sendable {
    func accept(_ spans: [SpanRecord], agent: String)
    /// The spans of a finished call or run, as what it reported: a sink that keeps them for later
    /// (the encoding pipeline) builds them then, off the request path. By default they are built
    /// at once and handed to `accept(_:agent:)`.
    func accept(_ source: SpanSource, agent: String)
}

extension SpanSink {
    public func accept(_ source: SpanSource, agent: String) {
        accept(source.spans(), agent: agent)
    }
}

/// What a finished call or run reported, from which its spans are built. Building a span (its
/// attributes, events and links) is much of what tracing a call costs; a sink that buffers does
/// it on its own task, in a batch, instead of on the request's.
public struct SpanSource: Sendable {
    /// Boxed: a source is copied on its way into the pipeline's buffer, and a call's end is large.
    indirect enum Kind: Sendable {
        case records([SpanRecord])
        case llmCall(TraceHandle, LLMCallEnd)
        case toolCall(TraceHandle, ToolCallEnd)
        case run(FinishedRun)
    }

    let kind: Kind

    /// Spans already built.
    public init(_ spans: [SpanRecord]) {
        kind = .records(spans)
    }

    init(_ kind: Kind) {
        self.kind = kind
    }

    /// How many spans `spans()` makes.
    public var spanCount: Int {
        switch kind {
        case .records(let spans): spans.count
        case .llmCall: 1
        case .toolCall(_, let end): end.upstream == nil ? 1 : 2
        case .run: 1
        }
    }

    /// The spans, built now.
    public func spans() -> [SpanRecord] {
        switch kind {
        case .records(let spans): spans
        case .llmCall(let handle, let end): AgentTracer.llmSpans(handle, end)
        case .toolCall(let handle, let end): AgentTracer.toolSpans(handle, end)
        case .run(let run): [AgentTracer.rootSpan(run)]
        }
    }
}

/// Who called, and the run markers the request carried.
public struct TraceCaller: Sendable, Equatable {
    public let agent: String
    public let traceParent: TraceParent?
    /// `x-gatehouse-session`.
    public let run: String?
    public let mcpSession: String?

    public init(agent: String, traceParent: TraceParent? = nil, run: String? = nil, mcpSession: String? = nil) {
        self.agent = agent
        self.traceParent = traceParent
        self.run = run
        self.mcpSession = mcpSession
    }

    var runKey: RunKey { RunKey.of(agent: agent, traceParent: traceParent, run: run, mcpSession: mcpSession) }
}

public struct LLMCallStart: Sendable {
    public let caller: TraceCaller
    public let model: String
    public let isStreaming: Bool
    public let startNanoseconds: UInt64
    /// `chat` for an answer (chat completions, Messages, Responses), `embeddings` for vectors:
    /// only an answer can end a run.
    public let operation: String

    public init(
        caller: TraceCaller,
        model: String,
        isStreaming: Bool,
        startNanoseconds: UInt64,
        operation: String = "chat"
    ) {
        self.caller = caller
        self.model = model
        self.isStreaming = isStreaming
        self.startNanoseconds = startNanoseconds
        self.operation = operation
    }
}

public struct LLMCallEnd: Sendable {
    public let provider: String
    public let responseModel: String?
    public let usage: GatehouseSpans.Usage?
    public let finishReasons: [String]
    /// The tool calls the answer asked for (names and arguments as the model wrote them).
    public let toolCalls: [RequestedToolCall]
    public let costUSD: Double?
    public let attempts: Int
    public let firstChunkNanoseconds: UInt64?
    public let error: String?
    public let endNanoseconds: UInt64
    /// The policy's decisions on the call (admission, prompt and completion guards).
    public let decisions: [TraceDecision]
    /// Attempts that failed before the one that answered (failover), in order.
    public let failedAttempts: [FailedAttempt]
    /// Captured content, already redacted by the guards: the request's messages and the answer, as
    /// JSON text; nil unless the caller's policy captures content.
    public let content: (input: String?, output: String?, limit: Int)?
    /// Reads the answer's model and finish reasons when the span is built, off the request's
    /// path; set instead of `responseModel` and `finishReasons` for an answer without tool calls.
    public let readAnswerLater: (@Sendable () -> (responseModel: String?, finishReasons: [String]))?

    public init(
        provider: String,
        responseModel: String?,
        usage: GatehouseSpans.Usage?,
        finishReasons: [String],
        toolCalls: [RequestedToolCall],
        costUSD: Double?,
        attempts: Int = 1,
        firstChunkNanoseconds: UInt64? = nil,
        error: String? = nil,
        endNanoseconds: UInt64,
        decisions: [TraceDecision] = [],
        failedAttempts: [FailedAttempt] = [],
        content: (input: String?, output: String?, limit: Int)? = nil,
        readAnswerLater: (@Sendable () -> (responseModel: String?, finishReasons: [String]))? = nil
    ) {
        self.decisions = decisions
        self.failedAttempts = failedAttempts
        self.content = content
        self.readAnswerLater = readAnswerLater
        self.provider = provider
        self.responseModel = responseModel
        self.usage = usage
        self.finishReasons = finishReasons
        self.toolCalls = toolCalls
        self.costUSD = costUSD
        self.attempts = attempts
        self.firstChunkNanoseconds = firstChunkNanoseconds
        self.error = error
        self.endNanoseconds = endNanoseconds
    }
}

public struct ToolCallStart: Sendable {
    public let caller: TraceCaller
    /// The agent-visible, federated name.
    public let tool: String
    /// The JSON-RPC id as the agent sent it.
    public let requestID: String
    /// `ToolArguments.canonical` of the call's arguments, made only when matching needs it (when
    /// the run waits for more than one call of the tool).
    public let arguments: @Sendable () -> String
    /// A tool call id the client passed in `_meta`: used as it is instead of matching.
    public let toolCallID: String?
    public let startNanoseconds: UInt64

    public init(
        caller: TraceCaller,
        tool: String,
        requestID: String,
        arguments: @escaping @Sendable () -> String,
        toolCallID: String? = nil,
        startNanoseconds: UInt64
    ) {
        self.caller = caller
        self.tool = tool
        self.requestID = requestID
        self.arguments = arguments
        self.toolCallID = toolCallID
        self.startNanoseconds = startNanoseconds
    }

    /// Arguments already in canonical form.
    public init(
        caller: TraceCaller,
        tool: String,
        requestID: String,
        arguments: String,
        toolCallID: String? = nil,
        startNanoseconds: UInt64
    ) {
        self.init(
            caller: caller,
            tool: tool,
            requestID: requestID,
            arguments: { arguments },
            toolCallID: toolCallID,
            startNanoseconds: startNanoseconds
        )
    }
}

public struct ToolCallEnd: Sendable {
    public let outcome: GatehouseSpans.ToolOutcome
    /// The upstream hop: the server, and the tool's name there; nil when the call never left.
    public let upstream: (server: String, tool: String, startNanoseconds: UInt64, endNanoseconds: UInt64)?
    public let endNanoseconds: UInt64
    /// The policy's decisions on the call (admission, argument and result guards).
    public let decisions: [TraceDecision]
    /// Captured arguments and result, already redacted by the guards, as JSON text; nil unless
    /// the caller's policy captures content.
    public let content: (arguments: String?, result: String?, limit: Int)?

    public init(
        outcome: GatehouseSpans.ToolOutcome,
        upstream: (server: String, tool: String, startNanoseconds: UInt64, endNanoseconds: UInt64)?,
        endNanoseconds: UInt64,
        decisions: [TraceDecision] = [],
        content: (arguments: String?, result: String?, limit: Int)? = nil
    ) {
        self.outcome = outcome
        self.upstream = upstream
        self.endNanoseconds = endNanoseconds
        self.decisions = decisions
        self.content = content
    }
}

extension LLMCallEnd {
    /// What the span needs of this end, for a sink that keeps it until the span is built: captured
    /// content already cut to its limit and no tool calls (the run has them), so a full buffer
    /// holds no more than the spans it stands for.
    var keptForSpan: LLMCallEnd {
        guard content != nil || !toolCalls.isEmpty else { return self }
        return LLMCallEnd(
            provider: provider,
            responseModel: responseModel,
            usage: usage,
            finishReasons: finishReasons,
            toolCalls: [],
            costUSD: costUSD,
            attempts: attempts,
            firstChunkNanoseconds: firstChunkNanoseconds,
            error: error,
            endNanoseconds: endNanoseconds,
            decisions: decisions,
            failedAttempts: failedAttempts,
            content: content.map { content in
                (
                    input: content.input.map { TraceContent.cut($0, limit: content.limit) },
                    output: content.output.map { TraceContent.cut($0, limit: content.limit) },
                    limit: content.limit
                )
            },
            readAnswerLater: readAnswerLater
        )
    }
}

extension ToolCallEnd {
    /// What the spans need of this end, captured content already cut to its limit (see
    /// `LLMCallEnd.keptForSpan`).
    var keptForSpan: ToolCallEnd {
        guard let content else { return self }
        return ToolCallEnd(
            outcome: outcome,
            upstream: upstream,
            endNanoseconds: endNanoseconds,
            decisions: decisions,
            content: (
                arguments: content.arguments.map { TraceContent.cut($0, limit: content.limit) },
                result: content.result.map { TraceContent.cut($0, limit: content.limit) },
                limit: content.limit
            )
        )
    }
}

/// One decision of the policy on a call, for the call's span: where it was taken (`admission`,
/// or a guard flow such as `prompt` or `tool_result`), what it decided, and the rule that did.
public struct TraceDecision: Sendable, Equatable {
    public let stage: String
    /// `allow`, `deny`, `limit`, `block`, `redact` or `flag`.
    public let decision: String
    public let rule: String
    public let detectors: [String]
    public let timeNanoseconds: UInt64

    public init(stage: String, decision: String, rule: String, detectors: [String] = [], timeNanoseconds: UInt64) {
        self.stage = stage
        self.decision = decision
        self.rule = rule
        self.detectors = detectors
        self.timeNanoseconds = timeNanoseconds
    }

    /// Decisions that stopped or limited the call.
    public var isDenial: Bool { decision == "deny" || decision == "limit" || decision == "block" }
}

/// An attempt at a deployment that failed before another answered (or all failed).
public struct FailedAttempt: Sendable, Equatable {
    public let provider: String
    public let model: String
    public let reason: String
    public let timeNanoseconds: UInt64

    public init(provider: String, model: String, reason: String, timeNanoseconds: UInt64) {
        self.provider = provider
        self.model = model
        self.reason = reason
        self.timeNanoseconds = timeNanoseconds
    }
}

/// Wall-clock time in Unix nanoseconds, as spans carry it.
public enum TraceClock {
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(max(0, spec.tv_sec)) * 1_000_000_000 + UInt64(max(0, spec.tv_nsec))
    }
}

/// Captured content, cut to a policy's limit on a character boundary.
public enum TraceContent {
    public static let truncationMarker = "…[truncated]"

    public static func cut(_ text: String, limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var kept = 0
        var end = text.startIndex
        for index in text.indices {
            let width = text[index].utf8.count
            if kept + width > limit { break }
            kept += width
            end = text.index(after: index)
        }
        return String(text[..<end]) + truncationMarker
    }
}

/// A call being traced: where its span goes, for the end to fill in.
public struct TraceHandle: Sendable {
    let key: RunKey
    let caller: TraceCaller
    public let traceID: String
    public let spanID: String
    let parentSpanID: String
    let startNanoseconds: UInt64
    let detail: Detail
    /// A tool call's upstream hop (the CLIENT child), chosen up front so the request toward the
    /// server can carry it as its parent.
    public let upstreamSpanID: String

    enum Detail: Sendable {
        case llm(model: String, isStreaming: Bool, operation: String)
        case tool(tool: String, requestID: String, matched: MatchedToolCall?)
        case none
    }

    /// The `traceparent` to send upstream, so the provider's or server's spans join this trace.
    public var traceParent: String { Self.traceParent(traceID, spanID) }

    /// The `traceparent` toward an MCP server: its parent is the upstream hop.
    public var upstreamTraceParent: String { Self.traceParent(traceID, upstreamSpanID) }

    /// Written byte by byte into storage of its final size (appending grows and re-checks it).
    private static func traceParent(_ traceID: String, _ spanID: String) -> String {
        let traceBytes = traceID.utf8
        let spanBytes = spanID.utf8
        return String(unsafeUninitializedCapacity: 3 + traceBytes.count + 1 + spanBytes.count + 3) { buffer in
            var index = 0
            func put<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
                for byte in bytes {
                    buffer[index] = byte
                    index += 1
                }
            }
            put("00-".utf8)
            put(traceBytes)
            put("-".utf8)
            put(spanBytes)
            put("-01".utf8)
            return index
        }
    }

    public var isActive: Bool { !traceID.isEmpty }

    /// The handle of a recorder that records nothing.
    public static let inactive = TraceHandle(
        key: .agent(""),
        caller: TraceCaller(agent: ""),
        traceID: "",
        spanID: "",
        parentSpanID: "",
        startNanoseconds: 0,
        detail: .none,
        upstreamSpanID: ""
    )
}

/// Records nothing: for planes built without tracing.
public struct NoTraceRecorder: TraceRecorder {
    public init() {}
    public var isActive: Bool { false }
    public func llmCallStarted(_ call: LLMCallStart) -> TraceHandle { .inactive }
    public func llmCallEnded(_ handle: TraceHandle, _ end: LLMCallEnd) {}
    public func toolCallStarted(_ call: ToolCallStart) -> TraceHandle { .inactive }
    public func toolCallEnded(_ handle: TraceHandle, _ end: ToolCallEnd) {}
}

/// One trace per agent run: each call's span goes under its run's root; a tool call carries the
/// id of the model's request it answers and links to the chat span that asked; the root is
/// emitted when the run ends (an answer without tool calls, idleness, shutdown).
public final class AgentTracer: TraceRecorder {
    public let runs: AgentRuns
    private let sinks: [any SpanSink]

    public init(sinks: [any SpanSink], runs: AgentRuns = AgentRuns()) {
        self.sinks = sinks
        self.runs = runs
    }

    public var isActive: Bool { !sinks.isEmpty }

    public func llmCallStarted(_ call: LLMCallStart) -> TraceHandle {
        let (key, context) = begin(call.caller, at: call.startNanoseconds)
        return TraceHandle(
            key: key,
            caller: call.caller,
            traceID: context.traceID,
            spanID: TraceIdentifiers.spanID(),
            parentSpanID: context.rootSpanID,
            startNanoseconds: call.startNanoseconds,
            detail: .llm(model: call.model, isStreaming: call.isStreaming, operation: call.operation),
            upstreamSpanID: ""
        )
    }

    public func llmCallEnded(_ handle: TraceHandle, _ end: LLMCallEnd) {
        guard case .llm(_, _, let operation) = handle.detail else { return }
        emit(SpanSource(.llmCall(handle, end.keptForSpan)), agent: handle.caller.agent)
        // Vectors are not an answer: an embeddings call never ends its run.
        guard operation == "chat" else {
            runs.end(handle.key, at: end.endNanoseconds)
            return
        }
        if let finished = runs.answered(
            handle.key,
            toolCalls: end.toolCalls,
            chatSpanID: handle.spanID,
            at: end.endNanoseconds
        ) {
            emitRoot(finished)
        }
    }

    /// An LLM call's span, from what its start and end reported (its content already cut, as
    /// `LLMCallEnd.keptForSpan` makes it: cutting twice could cut the marker).
    static func llmSpans(_ handle: TraceHandle, _ end: LLMCallEnd) -> [SpanRecord] {
        guard case .llm(let model, let isStreaming, let operation) = handle.detail else { return [] }
        let answer = end.readAnswerLater?() ?? (responseModel: end.responseModel, finishReasons: end.finishReasons)
        var span = GatehouseSpans.chat(
            operation: operation,
            traceID: handle.traceID,
            spanID: handle.spanID,
            parentSpanID: handle.parentSpanID,
            model: model,
            provider: end.provider,
            responseModel: answer.responseModel,
            isStreaming: isStreaming,
            startNanoseconds: handle.startNanoseconds,
            endNanoseconds: end.endNanoseconds,
            firstChunkNanoseconds: end.firstChunkNanoseconds,
            usage: end.usage,
            finishReasons: answer.finishReasons,
            costUSD: end.costUSD,
            attempts: end.attempts,
            error: end.error
        )
        span.events += end.failedAttempts.map {
            SpanEvent(
                name: "gatehouse.attempt.failed",
                timeNanoseconds: $0.timeNanoseconds,
                attributes: [
                    SpanAttribute(GenAIKey.providerName, $0.provider),
                    SpanAttribute(GenAIKey.requestModel, $0.model),
                    SpanAttribute(CommonKey.errorType, $0.reason),
                ]
            )
        }
        span.events += end.decisions.map(Self.event)
        if let content = end.content {
            if let input = content.input {
                span.attributes.append(
                    SpanAttribute(GenAIKey.inputMessages, input)
                )
            }
            if let output = content.output {
                span.attributes.append(
                    SpanAttribute(GenAIKey.outputMessages, output)
                )
            }
        }
        span.attributes.append(conversation(handle))
        return [span]
    }

    public func toolCallStarted(_ call: ToolCallStart) -> TraceHandle {
        let (key, context) = begin(call.caller, at: call.startNanoseconds)
        let matched = runs.match(key, tool: call.tool, arguments: call.arguments)
        return TraceHandle(
            key: key,
            caller: call.caller,
            traceID: context.traceID,
            spanID: TraceIdentifiers.spanID(),
            parentSpanID: context.rootSpanID,
            startNanoseconds: call.startNanoseconds,
            detail: .tool(
                tool: call.tool,
                requestID: call.requestID,
                matched: call.toolCallID.map { MatchedToolCall(id: $0, chatSpanID: matched?.chatSpanID ?? "") }
                    ?? matched
            ),
            upstreamSpanID: TraceIdentifiers.spanID()
        )
    }

    public func toolCallEnded(_ handle: TraceHandle, _ end: ToolCallEnd) {
        guard case .tool = handle.detail else { return }
        emit(SpanSource(.toolCall(handle, end.keptForSpan)), agent: handle.caller.agent)
        runs.end(handle.key, at: end.endNanoseconds)
    }

    /// A tool call's span and, when it reached a server, its upstream hop's (content already cut,
    /// as `ToolCallEnd.keptForSpan` makes it).
    static func toolSpans(_ handle: TraceHandle, _ end: ToolCallEnd) -> [SpanRecord] {
        guard case .tool(let tool, let requestID, let matched) = handle.detail else { return [] }
        var spans = [
            GatehouseSpans.toolCall(
                traceID: handle.traceID,
                spanID: handle.spanID,
                parentSpanID: handle.parentSpanID,
                tool: tool,
                requestID: requestID,
                sessionID: handle.caller.mcpSession,
                toolCallID: matched?.id,
                askedBy: matched.flatMap { $0.chatSpanID.isEmpty ? nil : (handle.traceID, $0.chatSpanID) },
                startNanoseconds: handle.startNanoseconds,
                endNanoseconds: end.endNanoseconds,
                outcome: end.outcome
            )
        ]
        spans[0].events += end.decisions.map(Self.event)
        if let content = end.content {
            if let arguments = content.arguments {
                spans[0].attributes.append(
                    SpanAttribute(GenAIKey.toolCallArguments, arguments)
                )
            }
            if let result = content.result {
                spans[0].attributes.append(
                    SpanAttribute(GenAIKey.toolCallResult, result)
                )
            }
        }
        spans[0].attributes.append(conversation(handle))
        if let upstream = end.upstream {
            // The upstream hop sits inside the agent's call in time, as a child must.
            let start = min(max(upstream.startNanoseconds, handle.startNanoseconds), end.endNanoseconds)
            spans.append(
                SpanRecord(
                    traceID: handle.traceID,
                    spanID: handle.upstreamSpanID,
                    parentSpanID: handle.spanID,
                    name: "tools/call \(upstream.tool)",
                    kind: .client,
                    startNanoseconds: start,
                    endNanoseconds: min(max(upstream.endNanoseconds, start), end.endNanoseconds),
                    attributes: [
                        SpanAttribute(MCPKey.methodName, "tools/call"),
                        SpanAttribute(GenAIKey.toolName, upstream.tool),
                        SpanAttribute(CommonKey.serverAddress, upstream.server),
                        conversation(handle),
                    ]
                )
            )
        }
        return spans
    }

    /// Opens or continues the caller's run; runs ended to make room get their roots now.
    private func begin(_ caller: TraceCaller, at now: UInt64) -> (RunKey, RunContext) {
        let key = caller.runKey
        let (context, evicted) = runs.begin(key, agent: caller.agent, callerParent: caller.traceParent, at: now)
        for run in evicted { emitRoot(run) }
        return (key, context)
    }

    /// Ends the runs idle past the window; the executable calls it every few seconds.
    public func sweep(now: UInt64) {
        for run in runs.expire(now: now) { emitRoot(run) }
    }

    /// Ends every run (shutdown), so no root is lost.
    public func finishAll() {
        for run in runs.endAll() { emitRoot(run) }
    }

    /// A decision as the span event of the GenAI guardrail convention, with its rule.
    static func event(_ decision: TraceDecision) -> SpanEvent {
        var attributes = [
            SpanAttribute(GenAIKey.operationName, "apply_guardrail"),
            SpanAttribute(GatehouseKey.policyStage, decision.stage),
            SpanAttribute(GatehouseKey.policyDecision, decision.decision),
            SpanAttribute(GatehouseKey.policyRule, decision.rule),
        ]
        if !decision.detectors.isEmpty {
            attributes.append(SpanAttribute(GatehouseKey.guardDetectors, .strings(decision.detectors)))
        }
        return SpanEvent(name: "apply_guardrail", timeNanoseconds: decision.timeNanoseconds, attributes: attributes)
    }

    private func emitRoot(_ run: FinishedRun) {
        emit(SpanSource(.run(run)), agent: run.agent)
    }

    /// A run's root span.
    static func rootSpan(_ run: FinishedRun) -> SpanRecord {
        var root = GatehouseSpans.run(run)
        root.attributes.append(SpanAttribute(GenAIKey.conversationID, conversationID(run.key, run.traceID)))
        return root
    }

    /// Every span carries its run's conversation (`gen_ai.conversation.id`: the run the caller
    /// named, its MCP session, else the run's trace), which Langfuse reads as the session. Added
    /// where each span is built, while its attributes are its own: added on the way out, it
    /// copied every span and its attributes once more.
    private static func conversation(_ handle: TraceHandle) -> SpanAttribute {
        SpanAttribute(GenAIKey.conversationID, Self.conversationID(handle.key, handle.traceID))
    }

    private func emit(_ source: SpanSource, agent: String) {
        for sink in sinks { sink.accept(source, agent: agent) }
    }

    static func conversationID(_ key: RunKey, _ traceID: String) -> String {
        switch key {
        case .named(_, let run): run
        case .mcpSession(_, let id): id
        case .trace, .agent: traceID
        }
    }
}
