/// One decision as the audit log keeps it: who asked for what, the answer and the rule. Never an
/// argument's value or a credential: reasons name arguments and checks, not what was sent.
public struct DecisionRecord: Sendable, Equatable {
    /// `llm` or `mcp`.
    public let plane: String
    /// `call_tool`, `call_model`, `use_server`.
    public let action: String
    /// The tool (`files__read`), model or server.
    public let target: String
    public let agent: String
    public let requestID: String?
    public let decision: PolicyDecision.Effect
    public let rule: String
    public let reason: String

    public init(
        plane: String,
        action: String,
        target: String,
        agent: String,
        requestID: String?,
        decision: PolicyDecision.Effect,
        rule: String,
        reason: String
    ) {
        self.plane = plane
        self.action = action
        self.target = target
        self.agent = agent
        self.requestID = requestID
        self.decision = decision
        self.rule = rule
        self.reason = reason
    }
}

/// Receives every decision on a call, for the audit log. `record` may suspend: a sink whose
/// storage falls behind slows the calls down rather than losing rows.
public protocol DecisionAuditSink: Sendable {
    func record(_ decision: DecisionRecord) async
}
