/// Attribute keys of the OpenTelemetry GenAI and MCP semantic conventions (the current names:
/// `gen_ai.provider.name`, not the deprecated `gen_ai.system`; `gen_ai.usage.cache_read.input_tokens`)
/// and of Langfuse's OpenTelemetry mapping. One place, so every span and exporter spells them alike.
public enum GenAIKey {
    public static let operationName = "gen_ai.operation.name"
    public static let providerName = "gen_ai.provider.name"
    public static let requestModel = "gen_ai.request.model"
    public static let requestStream = "gen_ai.request.stream"
    public static let responseModel = "gen_ai.response.model"
    public static let responseID = "gen_ai.response.id"
    public static let finishReasons = "gen_ai.response.finish_reasons"
    public static let timeToFirstChunk = "gen_ai.response.time_to_first_chunk"
    public static let inputTokens = "gen_ai.usage.input_tokens"
    public static let outputTokens = "gen_ai.usage.output_tokens"
    public static let cacheReadInputTokens = "gen_ai.usage.cache_read.input_tokens"
    /// Langfuse recognises this spelling (not `cache_write`).
    public static let cacheCreationInputTokens = "gen_ai.usage.cache_creation.input_tokens"
    public static let reasoningOutputTokens = "gen_ai.usage.reasoning.output_tokens"
    public static let conversationID = "gen_ai.conversation.id"
    public static let agentName = "gen_ai.agent.name"
    public static let toolName = "gen_ai.tool.name"
    public static let toolCallID = "gen_ai.tool.call.id"
    public static let toolType = "gen_ai.tool.type"
    public static let inputMessages = "gen_ai.input.messages"
    public static let outputMessages = "gen_ai.output.messages"
    public static let toolCallArguments = "gen_ai.tool.call.arguments"
    public static let toolCallResult = "gen_ai.tool.call.result"
}

public enum MCPKey {
    public static let methodName = "mcp.method.name"
    public static let sessionID = "mcp.session.id"
    public static let protocolVersion = "mcp.protocol.version"
    public static let resourceURI = "mcp.resource.uri"
    public static let jsonRPCRequestID = "jsonrpc.request.id"
    public static let rpcResponseStatusCode = "rpc.response.status_code"
}

public enum CommonKey {
    public static let errorType = "error.type"
    public static let serverAddress = "server.address"
    public static let serverPort = "server.port"
    public static let networkTransport = "network.transport"
}

/// Gatehouse's own attributes (`gatehouse.*`): cost, attempts, the deciding policy rule.
public enum GatehouseKey {
    public static let costUSD = "gatehouse.cost.usd"
    public static let attempt = "gatehouse.attempt"
    public static let policyRule = "gatehouse.policy.rule"
    public static let policyDecision = "gatehouse.policy.decision"
    /// Where the decision was taken: `admission`, or the guard flow (`prompt`, `tool_result`, …).
    public static let policyStage = "gatehouse.policy.stage"
    public static let guardDetectors = "gatehouse.guard.detectors"
}

/// Langfuse's OpenTelemetry attributes: the trace-level ones go on every span, as Langfuse reads them
/// from whichever span it sees first.
public enum LangfuseKey {
    public static let traceName = "langfuse.trace.name"
    public static let sessionID = "session.id"
    public static let userID = "user.id"
    public static let observationType = "langfuse.observation.type"
    /// Makes a span with a parent the trace's root in Langfuse.
    public static let asRoot = "langfuse.internal.as_root"
    /// JSON: `{"total": usd}`.
    public static let costDetails = "langfuse.observation.cost_details"
}
