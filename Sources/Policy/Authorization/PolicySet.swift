public import GatehouseCore
internal import GatehouseJSON

/// Every loaded policy, compiled: the authorization half of the engine. Immutable; a reload
/// builds a new one. Decisions are pure functions of the set and the input: the same call gets
/// the same answer and the same rule every time.
public struct PolicySet: Sendable {
    /// What happens to an agent no policy file names.
    public enum UnlistedAgents: String, Sendable, CaseIterable {
        /// Everything, without limits (a gateway without policies behaves so).
        case allow
        case deny
    }

    let policies: [String: AgentPolicy]
    /// Policies written for groups, in file order: an agent without a file of its own gets the
    /// first whose group its credential names.
    let groupPolicies: [(group: String, policy: AgentPolicy)]
    let unlistedAgents: UnlistedAgents
    /// Where `unlisted_agents` was set, for the denial's rule.
    let unlistedRule: String
    /// Each agent's own policy's content capture (nil when it does not capture), looked up on
    /// every traced call without copying the whole policy out of `policies`.
    private let ownCaptures: [String: TraceContentCapture?]
    public let tags: PolicyTags
    /// The files the set was read from, in load order.
    public let files: [String]

    /// No policies: every agent may do everything.
    public static let empty = PolicySet(
        policies: [:],
        groupPolicies: [],
        unlistedAgents: .allow,
        unlistedRule: "no-policy",
        tags: PolicyTags(),
        files: []
    )

    init(
        policies: [String: AgentPolicy],
        groupPolicies: [(group: String, policy: AgentPolicy)] = [],
        unlistedAgents: UnlistedAgents,
        unlistedRule: String,
        tags: PolicyTags,
        files: [String]
    ) {
        self.policies = policies
        self.groupPolicies = groupPolicies
        self.unlistedAgents = unlistedAgents
        self.unlistedRule = unlistedRule
        self.ownCaptures = policies.mapValues { policy in policy.contentCapture.flatMap { $0.isEnabled ? $0 : nil } }
        self.tags = tags
        self.files = files
    }

    /// Whether any agent is governed at all: without, the planes skip the policy entirely.
    public var isEmpty: Bool { policies.isEmpty && groupPolicies.isEmpty && unlistedAgents == .allow }

    /// The agents a policy file names.
    public var governedAgents: [String] { policies.keys.sorted() }

    /// The groups a policy file names.
    public var governedGroups: [String] { groupPolicies.map(\.group) }

    /// The agent's own policy, else that of the first group its credential names.
    func policy(for identity: Identity) -> AgentPolicy? {
        if let own = policies[identity.agentName] { return own }
        guard !identity.groups.isEmpty else { return nil }
        return groupPolicies.first { identity.groups.contains($0.group) }?.policy
    }

    /// How an MCP denial reaches the agent.
    public func deniesWithToolResult(_ identity: Identity) -> Bool {
        policy(for: identity)?.denialStyle == .toolResult
    }

    /// How much of the agent's content its traces carry; nil when its policy does not capture.
    public func contentCapture(_ identity: Identity) -> TraceContentCapture? {
        if let own = ownCaptures[identity.agentName] { return own }
        guard !identity.groups.isEmpty, let capture = policy(for: identity)?.contentCapture, capture.isEnabled else {
            return nil
        }
        return capture
    }

    /// Authorization only; limits are the engine's (`PolicyEngine.admit`).
    public func decide(_ input: PolicyInput) -> PolicyDecision {
        let agent = input.identity.agentName
        guard let policy = policy(for: input.identity) else {
            switch unlistedAgents {
            case .allow:
                return .noPolicy
            case .deny:
                return PolicyDecision(
                    effect: .deny,
                    rule: unlistedRule,
                    reason: "agent '\(agent)' has no policy, and agents without one are denied"
                )
            }
        }
        switch input.action {
        case .listModel(let model), .callModel(let model):
            if let rule = AgentPolicy.first(policy.modelDeny, matching: model) {
                return deny(input, rule: rule.id, because: "a deny rule names it")
            }
            if let rule = AgentPolicy.first(policy.modelAllow, matching: model) {
                return allow(rule.id)
            }
            return defaultDeny(input, policy: policy)
        case .useServer(let server):
            if let rule = AgentPolicy.first(policy.serverDeny, matching: server) {
                return deny(input, rule: rule.id, because: "a deny rule names the server")
            }
            if let rule = AgentPolicy.first(policy.serverAllow, matching: server) {
                return allow(rule.id)
            }
            return defaultDeny(input, policy: policy)
        case .listTool(let tool):
            if let rule = AgentPolicy.first(policy.serverDeny, matching: tool.server) {
                return deny(input, rule: rule.id, because: "a deny rule names its server")
            }
            if let rule = policy.toolDeny.first(where: { !$0.isConditional && $0.names.anyMatches(tool.name) }) {
                return deny(input, rule: rule.id, because: "a deny rule names it")
            }
            if let rule = AgentPolicy.first(policy.toolListOnly, matching: tool.name) {
                return allow(rule.id)
            }
            if let rule = policy.toolAllow.first(where: { $0.names.anyMatches(tool.name) }) {
                return allow(rule.id)
            }
            if let rule = AgentPolicy.first(policy.serverAllow, matching: tool.server) {
                return allow(rule.id)
            }
            return defaultDeny(input, policy: policy)
        case .callTool(let tool, let arguments):
            return decideCall(input, tool: tool, arguments: arguments, policy: policy)
        }
    }

    private func decideCall(
        _ input: PolicyInput,
        tool: ToolTarget,
        arguments: JSONValue?,
        policy: AgentPolicy
    ) -> PolicyDecision {
        if let rule = AgentPolicy.first(policy.serverDeny, matching: tool.server) {
            return deny(input, rule: rule.id, because: "a deny rule names its server")
        }
        for rule in policy.toolDeny where rule.names.anyMatches(tool.name) {
            if !rule.isConditional {
                return deny(input, rule: rule.id, because: "a deny rule names it")
            }
            if rule.conditions.allSatisfy({ $0.failure(in: arguments) == nil }) {
                return deny(input, rule: rule.id, because: "a deny rule matches these arguments")
            }
        }
        if let rule = AgentPolicy.first(policy.toolListOnly, matching: tool.name) {
            return deny(input, rule: rule.id, because: "it may be listed but not called")
        }
        if let repeated = arguments?.firstRepeatedKey() {
            return deny(
                input,
                rule: "arguments.repeated-key",
                because: "the key '\(repeated)' appears twice, and servers disagree on which copy counts"
            )
        }
        var firstFailure: (rule: String, reason: String)?
        for rule in policy.toolAllow where rule.names.anyMatches(tool.name) {
            var failed: String?
            for condition in rule.conditions {
                if let reason = condition.failure(in: arguments) {
                    failed = reason
                    break
                }
            }
            guard let failed else { return allow(rule.id) }
            if firstFailure == nil { firstFailure = (rule.id, failed) }
        }
        if let rule = AgentPolicy.first(policy.serverAllow, matching: tool.server) {
            return allow(rule.id)
        }
        if let firstFailure {
            return deny(input, rule: firstFailure.rule, because: firstFailure.reason)
        }
        return defaultDeny(input, policy: policy)
    }

    private func allow(_ rule: String) -> PolicyDecision {
        PolicyDecision(effect: .allow, rule: rule, reason: "allowed")
    }

    private func deny(_ input: PolicyInput, rule: String, because reason: String) -> PolicyDecision {
        PolicyDecision(
            effect: .deny,
            rule: rule,
            reason:
                "agent '\(input.identity.agentName)' may not \(input.action.verb) '\(input.action.subject)': \(reason)"
        )
    }

    private func defaultDeny(_ input: PolicyInput, policy: AgentPolicy) -> PolicyDecision {
        deny(input, rule: "\(policy.file)#default-deny", because: "no rule of its policy allows it")
    }
}
