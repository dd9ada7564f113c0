internal import GatehouseCore
internal import GatehouseJSON
internal import GatehouseTracing
internal import Policy
internal import Synchronization

/// One agent `tools/call` as the plane reports it to tracing: opened once the tool is resolved,
/// fed the policy's decisions and the upstream hop, ended once with the reply the agent got.
/// Only built when a recorder is active.
final class ToolCallTrace: Sendable {
    private let recorder: any TraceRecorder
    let handle: TraceHandle
    private let capture: TraceContentCapture?
    private let state = Mutex(State())

    private struct State {
        var decisions: [TraceDecision] = []
        var upstream: (server: String, tool: String, startNanoseconds: UInt64, endNanoseconds: UInt64)?
        var arguments: String?
        var result: String?
        var isEnded = false
    }

    /// `_meta` keys a client may pass the model's tool call id under (used as is, no matching).
    static let toolCallIDKeys = ["gen_ai.tool.call.id", "toolCallId"]

    init(
        recorder: any TraceRecorder,
        request: JSONRPCMessage,
        tool: String,
        context: MCPCallContext,
        capture: TraceContentCapture?
    ) {
        self.recorder = recorder
        self.capture = capture
        let meta = request.paramsMeta
        // The caller's trace: `_meta.traceparent` first (the MCP way), else the HTTP header.
        let traceParent =
            meta?["traceparent"]?.stringValue.flatMap { TraceParent(header: $0[...]) }
            ?? context.caller.traceParent.flatMap { TraceParent(header: $0[...]) }
        let toolCallID = Self.toolCallIDKeys.lazy.compactMap { meta?[$0]?.stringValue }.first { !$0.isEmpty }
        let requestID: String
        switch request.id {
        case .string(let text)?: requestID = text
        case .integer(let text)?: requestID = text
        case nil: requestID = ""
        }
        self.handle = recorder.toolCallStarted(
            ToolCallStart(
                caller: TraceCaller(
                    agent: context.agent,
                    traceParent: traceParent,
                    run: context.caller.run,
                    mcpSession: context.sessionID
                ),
                tool: tool,
                requestID: requestID,
                arguments: { [arguments = request.params?["arguments"]] in ToolArguments.canonical(arguments) },
                toolCallID: toolCallID,
                startNanoseconds: TraceClock.now()
            )
        )
    }

    func decided(_ stage: String, _ decision: PolicyDecision) {
        guard !decision.rule.isEmpty else { return }
        let event = TraceDecision(
            stage: stage,
            decision: decision.effect.rawValue,
            rule: decision.rule,
            timeNanoseconds: TraceClock.now()
        )
        state.withLock { $0.decisions.append(event) }
    }

    func guarded(_ flow: GuardFlow, _ outcome: GuardOutcome) {
        for decision in outcome.decisions { decided(flow.rawValue, decision) }
    }

    func upstream(server: String, tool: String, startNanoseconds: UInt64) {
        let end = TraceClock.now()
        state.withLock { $0.upstream = (server, tool, startNanoseconds, end) }
    }

    /// The arguments as the server gets them (after the argument guards), when content is captured.
    func captureArguments(_ arguments: JSONValue?) {
        guard capture != nil, let arguments else { return }
        let text = String(decoding: arguments.serialized(), as: UTF8.self)
        state.withLock { $0.arguments = text }
    }

    /// The result as the agent gets it (after the result guards), when content is captured.
    func captureResult(_ result: JSONValue) {
        guard capture != nil else { return }
        let text = String(decoding: result.serialized(), as: UTF8.self)
        state.withLock { $0.result = text }
    }

    /// Ends the call's spans (once) with the reply the agent got.
    func end(_ reply: JSONRPCMessage) {
        switch reply.kind {
        case .response(_, let result):
            if result["isError"] == .bool(true) {
                end(.toolError("the tool answered isError"))
            } else {
                end(.result)
            }
        case .errorResponse(_, let error):
            end(.jsonRPCError(code: error.code, message: "JSON-RPC error \(error.code)"))
        default:
            end(.result)
        }
    }

    /// Ends the call's spans (once) with the outcome the agent got. Messages never carry content:
    /// an upstream's error text may quote arguments a guard masked.
    func end(_ outcome: GatehouseSpans.ToolOutcome) {
        let now = TraceClock.now()
        let ended = state.withLock { state -> State? in
            guard !state.isEnded else { return nil }
            state.isEnded = true
            return state
        }
        guard let ended else { return }
        recorder.toolCallEnded(
            handle,
            ToolCallEnd(
                outcome: outcome,
                upstream: ended.upstream,
                endNanoseconds: now,
                decisions: ended.decisions,
                content: capture.map { (ended.arguments, ended.result, $0.maximumBytes) }
            )
        )
    }
}
