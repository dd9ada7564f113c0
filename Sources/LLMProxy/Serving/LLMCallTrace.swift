internal import GatehouseCore
internal import GatehouseJSON
internal import GatehouseTracing
internal import Policy
internal import Synchronization

/// One LLM call as the plane reports it to tracing: opened once the route is known, fed the
/// policy's decisions, failed attempts and the answer along the way, ended once with the usage.
/// Only built when a recorder is active, so an untraced call pays nothing.
final class LLMCallTrace: Sendable {
    private let recorder: any TraceRecorder
    let handle: TraceHandle
    /// How much content the caller's policy captures; nil when none.
    let capture: TraceContentCapture?
    /// The guards whose masks captured content passes through once more (a stream's text, tool
    /// call arguments in an answer: what the flow itself did not rewrite).
    private let promptGuard: ContentGuard?
    private let completionGuard: ContentGuard?
    private let state = Mutex(State())

    private struct State {
        var decisions: [TraceDecision] = []
        var failedAttempts: [FailedAttempt] = []
        var attempts = 0
        var firstChunkNanoseconds: UInt64?
        var input: String?
        var answer: AnswerSummary?
        /// Set instead of `answer` for an answer read when its span is built.
        var readAnswerLater: (@Sendable () -> (responseModel: String?, finishReasons: [String]))?
        var isEnded = false
    }

    init(
        recorder: any TraceRecorder,
        caller: AgentRequest,
        model: String,
        isStreaming: Bool,
        isEmbeddings: Bool = false,
        capture: TraceContentCapture?,
        promptGuard: ContentGuard?,
        completionGuard: ContentGuard?,
        startNanoseconds: UInt64
    ) {
        self.recorder = recorder
        self.capture = capture
        self.promptGuard = promptGuard
        self.completionGuard = completionGuard
        self.handle = recorder.llmCallStarted(
            LLMCallStart(
                caller: TraceCaller(
                    agent: caller.identity.agentName,
                    traceParent: caller.traceParent.flatMap { TraceParent(header: $0[...]) },
                    run: caller.run
                ),
                model: model,
                isStreaming: isStreaming,
                startNanoseconds: startNanoseconds,
                operation: isEmbeddings ? "embeddings" : "chat"
            )
        )
    }

    /// Bytes of the answer's text kept for the trace (0 when content is not captured).
    var textLimit: Int { capture?.maximumBytes ?? 0 }

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

    func attempted() {
        state.withLock { $0.attempts += 1 }
    }

    func attemptFailed(provider: String, model: String, reason: String) {
        let attempt = FailedAttempt(provider: provider, model: model, reason: reason, timeNanoseconds: TraceClock.now())
        state.withLock { $0.failedAttempts.append(attempt) }
    }

    func firstChunk() {
        let now = TraceClock.now()
        state.withLock { state in
            if state.firstChunkNanoseconds == nil { state.firstChunkNanoseconds = now }
        }
    }

    /// The prompt as the provider gets it (after the prompt guards), when content is captured.
    func captureInput(_ prompt: JSONValue) {
        guard capture != nil else { return }
        let text = String(decoding: prompt.serialized(), as: UTF8.self)
        state.withLock { $0.input = text }
    }

    func answered(_ answer: AnswerSummary) {
        state.withLock { $0.answer = answer }
    }

    /// An answer without tool calls whose model and finish reasons the span reads later
    /// (`AnswerSummary.readLater`).
    func answeredLater(_ read: @escaping @Sendable () -> (responseModel: String?, finishReasons: [String])) {
        state.withLock { $0.readAnswerLater = read }
    }

    /// Ends the call's span (once): the provider that answered last, the usage and cost, or the
    /// error that ended it.
    func end(provider: String, usage: TokenUsage?, costPicoUSD: Int64, error: String?) {
        let now = TraceClock.now()
        let ended = state.withLock { state -> State? in
            guard !state.isEnded else { return nil }
            state.isEnded = true
            return state
        }
        guard let ended else { return }
        let answer = error == nil ? ended.answer : nil
        let readAnswerLater = error == nil ? ended.readAnswerLater : nil
        recorder.llmCallEnded(
            handle,
            LLMCallEnd(
                provider: provider,
                responseModel: answer?.responseModel,
                usage: usage.map {
                    GatehouseSpans.Usage(
                        input: $0.inputTokens,
                        output: $0.outputTokens,
                        cacheRead: $0.cachedInputTokens > 0 ? $0.cachedInputTokens : nil,
                        cacheCreation: $0.cacheWriteInputTokens > 0 ? $0.cacheWriteInputTokens : nil,
                        reasoning: $0.reasoningOutputTokens > 0 ? $0.reasoningOutputTokens : nil
                    )
                },
                finishReasons: answer?.finishReasons ?? [],
                toolCalls: answer?.toolCalls ?? [],
                costUSD: usage == nil ? nil : Double(costPicoUSD) / 1e12,
                attempts: max(1, ended.attempts),
                firstChunkNanoseconds: ended.firstChunkNanoseconds,
                error: error,
                endNanoseconds: now,
                decisions: ended.decisions,
                failedAttempts: ended.failedAttempts,
                content: capture.map { capture in
                    (
                        input: ended.input.map { Self.masked($0, by: promptGuard) },
                        output: answer.map { Self.masked($0.outputMessages, by: completionGuard) },
                        limit: capture.maximumBytes
                    )
                },
                readAnswerLater: readAnswerLater
            )
        )
    }

    static let withheld = "[withheld: a guard blocks this content]"

    private static func masked(_ text: String, by contentGuard: ContentGuard?) -> String {
        guard let contentGuard else { return text }
        return contentGuard.maskedForCapture(text) ?? withheld
    }
}
