public import GatehouseCore

/// The four flows content guards watch: what agents send models, what models answer, what agents
/// send tools and what tools (and servers' resources and prompts) return.
public enum GuardFlow: String, Sendable, CaseIterable {
    case prompt
    case completion
    case toolArguments = "tool_arguments"
    case toolResult = "tool_result"

    /// The audit log's action for a guard decision on this flow.
    var auditAction: String { "guard_\(rawValue)" }

    var plane: String {
        switch self {
        case .prompt, .completion: "llm"
        case .toolArguments, .toolResult: "mcp"
        }
    }

    var noun: String {
        switch self {
        case .prompt: "the prompt"
        case .completion: "the completion"
        case .toolArguments: "the tool arguments"
        case .toolResult: "the tool result"
        }
    }
}

/// What a guard does when its detectors find something.
public enum GuardAction: String, Sendable, CaseIterable {
    /// Nothing: lets an agent's file switch off a shared guard of the same id.
    case allow
    /// Audit only; the content passes unchanged.
    case flag
    /// Mask each finding with its typed placeholder (`[EMAIL]`) and pass the rest.
    case redact
    /// Refuse the content: the request is denied, the result withheld, the stream ended.
    case block
}

/// Which conversation a request belongs to, for session rules: the MCP session (session-era
/// `Mcp-Session-Id`) and the agent run the caller names in `x-gatehouse-session` (on LLM and MCP
/// requests alike, so a rule can span both planes).
public struct SessionKeys: Sendable, Hashable {
    public var mcpSession: String?
    public var run: String?

    public init(mcpSession: String? = nil, run: String? = nil) {
        self.mcpSession = mcpSession
        self.run = run
    }

    public static let none = SessionKeys()
}

/// Who is being guarded, and on what: the subject is the model, the federated tool, the
/// resource URI or the prompt name the content belongs to.
public struct GuardContext: Sendable {
    public let identity: Identity
    public let requestID: RequestID?
    public let subject: String
    public let session: SessionKeys

    public init(identity: Identity, requestID: RequestID?, subject: String, session: SessionKeys = .none) {
        self.identity = identity
        self.requestID = requestID
        self.subject = subject
        self.session = session
    }
}

/// What the guards made of some content.
public enum GuardVerdict: Sendable, Equatable {
    /// Unchanged (nothing found, or only flagged).
    case pass
    /// The same texts, in the same order, with findings masked.
    case redacted([String])
    /// Refused: the decision names the guard and the detector, never the matched text.
    case blocked(PolicyDecision)
}

/// A verdict and every detector that found something, whatever its guard's action (session rules
/// may remember that a detector fired on a tool result).
public struct GuardOutcome: Sendable, Equatable {
    public var verdict: GuardVerdict
    public var detectors: [String]
    /// Every decision the guards took on the way (flags, redactions, the block), in order, for traces.
    public var decisions: [PolicyDecision]

    public init(verdict: GuardVerdict, detectors: [String] = [], decisions: [PolicyDecision] = []) {
        self.verdict = verdict
        self.detectors = detectors
        self.decisions = decisions
    }

    public static let pass = GuardOutcome(verdict: .pass)
}

/// An external guard: the content goes to an HTTP endpoint that answers allow, redact (spans) or
/// block. `failClosed`: whether an endpoint that fails or times out blocks the content.
public struct WebhookGuardSettings: Sendable, Equatable {
    public let url: String
    public let timeout: Duration
    public let failClosed: Bool
}

/// One guard as a policy file writes it, compiled.
struct GuardRule: Sendable {
    let id: String
    let flows: Set<GuardFlow>
    /// Globs on the subject (models for LLM flows, tools for tool flows); empty: every subject.
    let subjects: [Glob]
    let detectorNames: [String]
    /// What `detectors` was compiled from, to merge the detectors of several guards.
    let specs: [DetectorSpec]
    let detectors: DetectorSet
    let action: GuardAction
    let webhook: WebhookGuardSettings?

    func applies(to flow: GuardFlow, subject: String) -> Bool {
        flows.contains(flow) && (subjects.isEmpty || subjects.anyMatches(subject))
    }
}
