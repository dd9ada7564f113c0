/// One rule about tools: which (globs on `{server}__{tool}`), and on what arguments.
struct ToolRule: Sendable {
    let id: String
    let names: [Glob]
    let conditions: [ArgumentCondition]

    var isConditional: Bool { !conditions.isEmpty }
}

/// One rule about names (models or servers): a list of globs under one id.
struct NameRule: Sendable {
    let id: String
    let names: [Glob]
}

/// What a limit counts, and per what.
enum LimitScope: Sendable, Equatable {
    /// Every counted call of the agent, on both planes.
    case agent
    case model(Glob)
    case server(Glob)
    case tool(Glob)

    var key: String {
        switch self {
        case .agent: "agent"
        case .model(let glob): "model:\(glob)"
        case .server(let glob): "server:\(glob)"
        case .tool(let glob): "tool:\(glob)"
        }
    }
}

enum LimitKind: Sendable, Equatable {
    case requests(Int, per: Duration)
    case concurrent(Int)
    case tokens(Int, per: Duration)

    var key: String {
        switch self {
        case .requests(_, let window): "requests/\(window.components.seconds)s"
        case .concurrent: "concurrent"
        case .tokens(_, let window): "tokens/\(window.components.seconds)s"
        }
    }
}

/// A limit as a policy writes it. Each matching item (each model, server or tool) has its own
/// counter for each agent: `tool: "*"` with 10 requests a minute gives every tool 10.
struct LimitRule: Sendable {
    let id: String
    let scope: LimitScope
    let kind: LimitKind
    /// The counter's identity across reloads: changing the number keeps the count. Built once:
    /// it is part of every counted call's key.
    let counterKey: String

    init(id: String, scope: LimitScope, kind: LimitKind) {
        self.id = id
        self.scope = scope
        self.kind = kind
        self.counterKey = "\(scope.key)|\(kind.key)"
    }
}

/// A spending cap on the agent's LLM calls for a period.
public struct BudgetRule: Sendable, Equatable {
    public let id: String
    public let period: BudgetPeriod
    public let picoUSD: Int64
}

/// How an MCP denial reaches the agent.
enum DenialStyle: String, Sendable, CaseIterable {
    /// A JSON-RPC error.
    case error
    /// A `CallToolResult` with `isError: true`, which agents show the model (tools/call only).
    case toolResult = "tool_result"
}

/// Everything the policy files say about one agent, merged with the shared defaults and compiled.
struct AgentPolicy: Sendable {
    /// The file that names the agent.
    let file: String
    var modelAllow: [NameRule] = []
    var modelDeny: [NameRule] = []
    var serverAllow: [NameRule] = []
    var serverDeny: [NameRule] = []
    var toolAllow: [ToolRule] = []
    var toolDeny: [ToolRule] = []
    /// Tools shown in `tools/list` that may not be called.
    var toolListOnly: [NameRule] = []
    var limits: [LimitRule] = []
    /// USD budgets per UTC day and month, in picodollars, with the rule that set each.
    var budgets: [BudgetRule] = []
    var denialStyle: DenialStyle = .error
    /// Content guards, the agent's own first (a shared guard with the same id is replaced).
    var guards: [GuardRule] = []
    var sessionRules: [SessionRule] = []
    /// `tracing:` of the agent's file, else of the defaults; nil when neither says.
    var contentCapture: TraceContentCapture?
    /// The merged detectors of the completion flow's block guards that apply to every model,
    /// compiled at load for streamed completions.
    var completionStreamDetectors: DetectorSet?

    func guards(for flow: GuardFlow, subject: String) -> [GuardRule] {
        guards.filter { $0.action != .allow && $0.applies(to: flow, subject: subject) }
    }

    /// The first rule of a list whose globs match `name`.
    static func first(_ rules: [NameRule], matching name: String) -> NameRule? {
        rules.first { $0.names.anyMatches(name) }
    }
}

/// Tags on servers, tools, models and providers, read by session rules. Annotations a server
/// puts on its tools are hints and never tags.
public struct PolicyTags: Sendable, Equatable {
    var tools: [(Glob, [String])] = []
    var servers: [(Glob, [String])] = []
    var models: [(Glob, [String])] = []
    var providers: [(Glob, [String])] = []

    public static func == (left: PolicyTags, right: PolicyTags) -> Bool {
        func flat(_ list: [(Glob, [String])]) -> [String] { list.map { "\($0.0)=\($0.1)" } }
        return flat(left.tools) == flat(right.tools) && flat(left.servers) == flat(right.servers)
            && flat(left.models) == flat(right.models) && flat(left.providers) == flat(right.providers)
    }

    /// A tool's tags and its server's.
    public func tags(forTool tool: ToolTarget) -> Set<String> {
        var tags: Set<String> = []
        for (glob, values) in tools where glob.matches(tool.name) { tags.formUnion(values) }
        for (glob, values) in servers where glob.matches(tool.server) { tags.formUnion(values) }
        return tags
    }

    public func tags(forModel model: String, provider: String?) -> Set<String> {
        var tags: Set<String> = []
        for (glob, values) in models where glob.matches(model) { tags.formUnion(values) }
        if let provider { for (glob, values) in providers where glob.matches(provider) { tags.formUnion(values) } }
        return tags
    }
}

/// Whether an agent's traces carry content (prompts, completions, tool arguments and results), and
/// how many bytes of each. Content is captured after the guards' redaction, never before.
public struct TraceContentCapture: Sendable, Equatable {
    public var isEnabled: Bool
    public var maximumBytes: Int

    public static let defaultLimit = 4096
    public static let largestLimit = 1 << 20

    public init(isEnabled: Bool, maximumBytes: Int = TraceContentCapture.defaultLimit) {
        self.isEnabled = isEnabled
        self.maximumBytes = maximumBytes
    }
}
