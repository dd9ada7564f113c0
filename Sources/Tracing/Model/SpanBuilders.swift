/// Spans of the GenAI and MCP conventions, built from what the planes know: one function per
/// kind of span, so every span of a kind carries the same attributes under the current names.
public enum GatehouseSpans {
    /// Token counts as the conventions define them: `input` includes cached tokens, `output`
    /// includes reasoning tokens.
    public struct Usage: Sendable, Equatable {
        public var input: Int
        public var output: Int
        public var cacheRead: Int?
        public var cacheCreation: Int?
        public var reasoning: Int?

        public init(input: Int, output: Int, cacheRead: Int? = nil, cacheCreation: Int? = nil, reasoning: Int? = nil) {
            self.input = input
            self.output = output
            self.cacheRead = cacheRead
            self.cacheCreation = cacheCreation
            self.reasoning = reasoning
        }
    }

    /// One LLM call: `chat {model}` (or `embeddings {model}`), CLIENT, under the run's root.
    public static func chat(
        operation: String = "chat",
        traceID: String,
        spanID: String,
        parentSpanID: String,
        model: String,
        provider: String,
        responseModel: String?,
        isStreaming: Bool,
        startNanoseconds: UInt64,
        endNanoseconds: UInt64,
        firstChunkNanoseconds: UInt64? = nil,
        usage: Usage?,
        finishReasons: [String],
        costUSD: Double?,
        attempts: Int = 1,
        error: String? = nil
    ) -> SpanRecord {
        // Room for every attribute a chat span can get here and after (conversation, content):
        // one allocation instead of several as it grows.
        var attributes: [SpanAttribute] = []
        attributes.reserveCapacity(20)
        attributes += [
            SpanAttribute(GenAIKey.operationName, operation),
            SpanAttribute(GenAIKey.providerName, provider),
            SpanAttribute(GenAIKey.requestModel, model),
            SpanAttribute(GenAIKey.requestStream, isStreaming),
        ]
        if let responseModel { attributes.append(SpanAttribute(GenAIKey.responseModel, responseModel)) }
        if !finishReasons.isEmpty { attributes.append(SpanAttribute(GenAIKey.finishReasons, .strings(finishReasons))) }
        if let firstChunkNanoseconds, firstChunkNanoseconds >= startNanoseconds {
            let seconds = Double(firstChunkNanoseconds - startNanoseconds) / 1e9
            attributes.append(SpanAttribute(GenAIKey.timeToFirstChunk, .double(seconds)))
        }
        if let usage {
            attributes.append(SpanAttribute(GenAIKey.inputTokens, usage.input))
            attributes.append(SpanAttribute(GenAIKey.outputTokens, usage.output))
            if let value = usage.cacheRead { attributes.append(SpanAttribute(GenAIKey.cacheReadInputTokens, value)) }
            if let value = usage.cacheCreation {
                attributes.append(SpanAttribute(GenAIKey.cacheCreationInputTokens, value))
            }
            if let value = usage.reasoning { attributes.append(SpanAttribute(GenAIKey.reasoningOutputTokens, value)) }
        }
        if let costUSD { attributes.append(SpanAttribute(GatehouseKey.costUSD, .double(costUSD))) }
        if attempts > 1 { attributes.append(SpanAttribute(GatehouseKey.attempt, attempts)) }
        if let error { attributes.append(SpanAttribute(CommonKey.errorType, error)) }
        return SpanRecord(
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parentSpanID,
            name: "\(operation) \(model)",
            kind: .client,
            startNanoseconds: startNanoseconds,
            endNanoseconds: endNanoseconds,
            attributes: attributes,
            status: error.map { .error($0) } ?? .unset
        )
    }

    /// The agent's `tools/call`: `tools/call {tool}`, SERVER, with the agent-visible tool name, the
    /// request id as the agent sent it and the tool call id the model gave it (when matched).
    /// `isError` results are `error.type` = `tool_error`; a JSON-RPC error is its code.
    public static func toolCall(
        traceID: String,
        spanID: String,
        parentSpanID: String,
        tool: String,
        requestID: String,
        sessionID: String?,
        toolCallID: String?,
        askedBy chatSpan: (traceID: String, spanID: String)?,
        startNanoseconds: UInt64,
        endNanoseconds: UInt64,
        outcome: ToolOutcome
    ) -> SpanRecord {
        var attributes: [SpanAttribute] = []
        attributes.reserveCapacity(12)
        attributes += [
            SpanAttribute(MCPKey.methodName, "tools/call"),
            SpanAttribute(GenAIKey.operationName, "execute_tool"),
            SpanAttribute(GenAIKey.toolName, tool),
            SpanAttribute(MCPKey.jsonRPCRequestID, requestID),
        ]
        if let sessionID { attributes.append(SpanAttribute(MCPKey.sessionID, sessionID)) }
        if let toolCallID { attributes.append(SpanAttribute(GenAIKey.toolCallID, toolCallID)) }
        var status = SpanRecord.Status.unset
        switch outcome {
        case .result: break
        case .toolError(let message):
            attributes.append(SpanAttribute(CommonKey.errorType, "tool_error"))
            status = .error(message)
        case .jsonRPCError(let code, let message):
            attributes.append(SpanAttribute(CommonKey.errorType, String(code)))
            attributes.append(SpanAttribute(MCPKey.rpcResponseStatusCode, String(code)))
            status = .error(message)
        }
        return SpanRecord(
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parentSpanID,
            name: "tools/call \(tool)",
            kind: .server,
            startNanoseconds: startNanoseconds,
            endNanoseconds: endNanoseconds,
            attributes: attributes,
            links: chatSpan.map { [SpanLink(traceID: $0.traceID, spanID: $0.spanID)] } ?? [],
            status: status
        )
    }

    public enum ToolOutcome: Sendable, Equatable {
        case result
        case toolError(String)
        case jsonRPCError(code: Int, message: String)
    }

    /// The run's root: `invoke_agent {agent}`, covering every call of the run. The agent is
    /// `gen_ai.agent.name` and the run's id is its trace id, so neither is repeated in attributes
    /// of its own (every attribute is encoded for every exporter and stored).
    public static func run(_ run: FinishedRun) -> SpanRecord {
        var attributes: [SpanAttribute] = []
        // Room for the conversation id every emitted span gets.
        attributes.reserveCapacity(3)
        attributes += [
            SpanAttribute(GenAIKey.operationName, "invoke_agent"),
            SpanAttribute(GenAIKey.agentName, run.agent),
        ]
        return SpanRecord(
            traceID: run.traceID,
            spanID: run.rootSpanID,
            parentSpanID: run.parentSpanID,
            name: "invoke_agent \(run.agent)",
            kind: .internal,
            startNanoseconds: run.startNanoseconds,
            endNanoseconds: run.endNanoseconds,
            attributes: attributes
        )
    }
}

/// Langfuse reads a trace's name, session and user from any span that carries them, and the
/// observation type from each span: the trace-level attributes go on every span, as it requires.
public enum LangfuseAttributes {
    public static func decorate(
        _ spans: [SpanRecord],
        traceName: String,
        sessionID: String,
        userID: String
    )
        -> [SpanRecord]
    {
        spans.map { decorate($0, traceName: traceName, sessionID: sessionID, userID: userID) }
    }

    /// A run's spans as Langfuse reads them: the trace named after the run's root, the session
    /// from `gen_ai.conversation.id`, the user the agent.
    public static func decorate(_ spans: [SpanRecord], agent: String) -> [SpanRecord] {
        spans.map { span in
            var span = span
            span.attributes += attributes(for: span, agent: agent)
            return span
        }
    }

    /// What a Langfuse exporter adds to one of a run's spans, in three groups in this order: the
    /// trace's (name and user, the same on every span of an agent), the observation's (type, and
    /// whether it is the trace's root), and the span's own (session, cost). The first two repeat,
    /// so `LangfuseAttributeEncoder` keeps them encoded.
    public static func attributes(for span: SpanRecord, agent: String) -> [SpanAttribute] {
        attributes(for: span, traceName: traceName(agent: agent), sessionID: session(of: span), userID: agent)
    }

    /// The trace's name for an agent's runs (the root span's name).
    static func traceName(agent: String) -> String { "invoke_agent \(agent)" }

    /// The session: the run's conversation (`gen_ai.conversation.id`), else its trace.
    static func session(of span: SpanRecord) -> String {
        if case .string(let conversation)? = span[attribute: GenAIKey.conversationID] { return conversation }
        return span.traceID
    }

    /// What the `observation` group says: the type, and whether the span stands for the trace.
    struct Observation: Hashable, Sendable {
        let type: String
        let isRoot: Bool

        init(of span: SpanRecord) {
            type = observationType(span)
            // A run that continues the caller's trace still makes the Langfuse trace.
            isRoot = span.parentSpanID != nil && span[attribute: GenAIKey.operationName] == .string("invoke_agent")
        }

        var attributes: [SpanAttribute] {
            isRoot
                ? [SpanAttribute(LangfuseKey.observationType, type), SpanAttribute(LangfuseKey.asRoot, true)]
                : [SpanAttribute(LangfuseKey.observationType, type)]
        }
    }

    /// The trace group: the same on every span of an agent.
    static func traceAttributes(traceName: String, userID: String) -> [SpanAttribute] {
        [SpanAttribute(LangfuseKey.traceName, traceName), SpanAttribute(LangfuseKey.userID, userID)]
    }

    /// The span's own group: its session, and its cost when it has one.
    static func ownAttributes(of span: SpanRecord, sessionID: String) -> [SpanAttribute] {
        if case .double(let cost)? = span[attribute: GatehouseKey.costUSD] {
            return [
                SpanAttribute(LangfuseKey.sessionID, sessionID),
                SpanAttribute(LangfuseKey.costDetails, "{\"total\":\(cost)}"),
            ]
        }
        return [SpanAttribute(LangfuseKey.sessionID, sessionID)]
    }

    private static func decorate(
        _ span: SpanRecord,
        traceName: String,
        sessionID: String,
        userID: String
    )
        -> SpanRecord
    {
        var span = span
        span.attributes += attributes(for: span, traceName: traceName, sessionID: sessionID, userID: userID)
        return span
    }

    private static func attributes(
        for span: SpanRecord,
        traceName: String,
        sessionID: String,
        userID: String
    )
        -> [SpanAttribute]
    {
        traceAttributes(traceName: traceName, userID: userID) + Observation(of: span).attributes
            + ownAttributes(of: span, sessionID: sessionID)
    }

    /// `agent` for the run, `generation` for LLM calls, `tool` for tool calls, else `span`.
    static func observationType(_ span: SpanRecord) -> String {
        switch span[attribute: GenAIKey.operationName] {
        case .string("invoke_agent")?: "agent"
        case .string("chat")?, .string("text_completion")?, .string("generate_content")?: "generation"
        case .string("embeddings")?: "embedding"
        case .string("execute_tool")?: "tool"
        default: span[attribute: GatehouseKey.policyRule] != nil ? "guardrail" : "span"
        }
    }
}
