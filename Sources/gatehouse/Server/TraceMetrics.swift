internal import CoreMetrics
internal import GatehouseTracing
internal import Metrics
internal import Prometheus
internal import Synchronization

/// Metrics read off the finished spans, so both planes are measured in one place and one
/// vocabulary (the OTel GenAI and MCP metric conventions, in Prometheus spelling):
/// - `gen_ai_client_token_usage{gen_ai_token_type,gen_ai_request_model,gen_ai_provider_name,agent}`
///   (histogram of tokens per call, input and output),
/// - `gen_ai_client_operation_duration_seconds{gen_ai_operation_name,gen_ai_request_model,
///   gen_ai_provider_name,error_type}`,
/// - `mcp_server_operation_duration_seconds{mcp_method_name,gen_ai_tool_name,error_type}`,
/// - `gatehouse_agent_requests_total{agent,kind,target,status}` (kind `llm` with the model,
///   `tool` with the tool; status `ok`, `error` or `denied`),
/// - `gatehouse_policy_denials_total{agent,stage,decision,rule}`.
final class TraceMetricsSink: SpanSink, Sendable {
    let factory: any MetricsFactory
    /// Label sets are bounded by configuration (agents, models, tools) plus JWT subjects; past
    /// this many, new label sets are not cached (still recorded).
    static let maximumCachedHandles = 10_000

    /// The OTel recommendation for `gen_ai.client.token.usage`.
    static let tokenBuckets: [Double] = [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864,
    ]

    init(factory: any MetricsFactory) {
        if var prometheus = factory as? PrometheusMetricsFactory {
            prometheus.valueHistogramBuckets["gen_ai_client_token_usage"] = Self.tokenBuckets
            self.factory = prometheus
        } else {
            self.factory = factory
        }
    }

    func accept(_ spans: [SpanRecord], agent: String) {
        for span in spans {
            let operation = span[attribute: GenAIKey.operationName]
            let errorType = span.string(CommonKey.errorType)
            let denied = span.events.contains { event in
                guard event.name == "apply_guardrail" else { return false }
                let decision = event.attributes.first { $0.key == GatehouseKey.policyDecision }?.value
                return decision == .string("deny") || decision == .string("limit") || decision == .string("block")
            }
            let status = denied && errorType != nil ? "denied" : errorType == nil ? "ok" : "error"
            let nanoseconds = Int64(clamping: span.endNanoseconds - span.startNanoseconds)
            switch operation {
            case .string("chat")?, .string("embeddings")?:
                let model = span.string(GenAIKey.requestModel) ?? ""
                let provider = span.string(GenAIKey.providerName) ?? ""
                let handles = chatHandles(
                    operation: operation == .string("chat") ? "chat" : "embeddings",
                    agent: agent,
                    model: model,
                    provider: provider,
                    errorType: errorType ?? "",
                    status: status
                )
                if case .int(let tokens)? = span[attribute: GenAIKey.inputTokens] { handles.input.record(tokens) }
                if case .int(let tokens)? = span[attribute: GenAIKey.outputTokens] { handles.output.record(tokens) }
                handles.duration.recordNanoseconds(nanoseconds)
                handles.requests.increment()
            case .string("execute_tool")?:
                let handles = toolHandles(
                    agent: agent,
                    tool: span.string(GenAIKey.toolName) ?? "",
                    errorType: errorType ?? "",
                    status: status
                )
                handles.duration.recordNanoseconds(nanoseconds)
                handles.requests.increment()
            default:
                break
            }
            for event in span.events where event.name == "apply_guardrail" {
                func value(_ key: String) -> String {
                    if case .string(let text)? = event.attributes.first(where: { $0.key == key })?.value { return text }
                    return ""
                }
                let decision = value(GatehouseKey.policyDecision)
                guard decision == "deny" || decision == "limit" || decision == "block" else { continue }
                // Rare next to calls: the registry's own lookup is enough.
                CoreMetrics.Counter(
                    label: "gatehouse_policy_denials_total",
                    dimensions: [
                        ("agent", agent), ("stage", value(GatehouseKey.policyStage)), ("decision", decision),
                        ("rule", value(GatehouseKey.policyRule)),
                    ],
                    factory: factory
                ).increment()
            }
        }
    }

    /// The metrics one LLM call feeds, made once per label set.
    struct ChatHandles: Sendable {
        let input: CoreMetrics.Recorder
        let output: CoreMetrics.Recorder
        let duration: CoreMetrics.Timer
        let requests: CoreMetrics.Counter
    }

    /// The metrics one tool call feeds, made once per label set.
    struct ToolHandles: Sendable {
        let duration: CoreMetrics.Timer
        let requests: CoreMetrics.Counter
    }

    /// A label set, as the dictionary key of its handles.
    private struct ChatLabels: Hashable {
        let operation: String
        let agent: String
        let model: String
        let provider: String
        let errorType: String
        let status: String
    }

    private struct ToolLabels: Hashable {
        let agent: String
        let tool: String
        let errorType: String
        let status: String
    }

    /// Handles by label set, made once: a span's metrics are then one dictionary lookup.
    private let chats = Mutex<[ChatLabels: ChatHandles]>([:])
    private let tools = Mutex<[ToolLabels: ToolHandles]>([:])

    private func chatHandles(
        operation: String,
        agent: String,
        model: String,
        provider: String,
        errorType: String,
        status: String
    )
        -> ChatHandles
    {
        let key = ChatLabels(
            operation: operation,
            agent: agent,
            model: model,
            provider: provider,
            errorType: errorType,
            status: status
        )
        if let handles = chats.withLock({ $0[key] }) { return handles }
        func tokens(_ type: String) -> CoreMetrics.Recorder {
            CoreMetrics.Recorder(
                label: "gen_ai_client_token_usage",
                dimensions: [
                    ("gen_ai_token_type", type), ("gen_ai_request_model", model), ("gen_ai_provider_name", provider),
                    ("agent", agent),
                ],
                aggregate: true,
                factory: factory
            )
        }
        let handles = ChatHandles(
            input: tokens("input"),
            output: tokens("output"),
            duration: CoreMetrics.Timer(
                label: "gen_ai_client_operation_duration_seconds",
                dimensions: [
                    ("gen_ai_operation_name", operation), ("gen_ai_request_model", model),
                    ("gen_ai_provider_name", provider), ("error_type", errorType),
                ],
                factory: factory
            ),
            requests: CoreMetrics.Counter(
                label: "gatehouse_agent_requests_total",
                dimensions: [("agent", agent), ("kind", "llm"), ("target", model), ("status", status)],
                factory: factory
            )
        )
        chats.withLock { if $0.count < Self.maximumCachedHandles { $0[key] = handles } }
        return handles
    }

    private func toolHandles(agent: String, tool: String, errorType: String, status: String) -> ToolHandles {
        let key = ToolLabels(agent: agent, tool: tool, errorType: errorType, status: status)
        if let handles = tools.withLock({ $0[key] }) { return handles }
        let handles = ToolHandles(
            duration: CoreMetrics.Timer(
                label: "mcp_server_operation_duration_seconds",
                dimensions: [("mcp_method_name", "tools/call"), ("gen_ai_tool_name", tool), ("error_type", errorType)],
                factory: factory
            ),
            requests: CoreMetrics.Counter(
                label: "gatehouse_agent_requests_total",
                dimensions: [("agent", agent), ("kind", "tool"), ("target", tool), ("status", status)],
                factory: factory
            )
        )
        tools.withLock { if $0.count < Self.maximumCachedHandles { $0[key] = handles } }
        return handles
    }
}

extension SpanRecord {
    fileprivate func string(_ key: String) -> String? {
        if case .string(let text)? = self[attribute: key] { return text }
        return nil
    }
}
