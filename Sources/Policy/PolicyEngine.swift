public import Foundation
public import GatehouseCore
internal import Synchronization

/// What the planes ask of the policy. Injected into them (as `UsageSink` is), so a plane never
/// knows how decisions are made, and tests can give it a policy of their own.
public protocol PolicyDecisionPoint: Sendable {
    /// Whether any policy is in force; when not, the planes skip filtering altogether.
    var isActive: Bool { get }
    /// Authorization alone, counting nothing: for lists and filters.
    func decide(_ input: PolicyInput) -> PolicyDecision
    /// Authorization, then every limit that applies; the decision goes to the audit log. An
    /// admitted call holds its ticket until it ends and then finishes it (with the tokens it
    /// used, for an LLM call).
    func admit(_ input: PolicyInput, estimatedTokens: Int) async -> PolicyAdmission
    /// Whether MCP denials for this agent are `CallToolResult`s with `isError` instead of errors.
    func deniesWithToolResult(_ identity: Identity) -> Bool
    /// The guards of a flow that apply to this caller and subject; nil when none does.
    func contentGuard(_ flow: GuardFlow, context: GuardContext) -> ContentGuard?
    /// A tool returned content (and these detectors fired on it): session rules remember it.
    func recordToolResult(_ tool: ToolTarget, context: GuardContext, detectors: [String])
    /// An MCP session ended: what session rules remembered about it goes.
    func endMCPSession(_ id: String)
    /// Whether (and how much) the agent's traces carry its content; nil when not.
    func contentCapture(_ identity: Identity) -> TraceContentCapture?
}

extension PolicyDecisionPoint {
    public func contentGuard(_ flow: GuardFlow, context: GuardContext) -> ContentGuard? { nil }
    public func recordToolResult(_ tool: ToolTarget, context: GuardContext, detectors: [String]) {}
    public func endMCPSession(_ id: String) {}
    public func contentCapture(_ identity: Identity) -> TraceContentCapture? { nil }
}

public enum PolicyAdmission: Sendable {
    case admitted(PolicyTicket)
    case refused(PolicyDecision)
}

/// An admitted call's hold on its limits: a slot of each concurrency limit and a reservation of
/// each token limit. `finish` gives them back (settling token reservations with the real use);
/// a ticket dropped without `finish` gives them back too, as a call that used nothing.
public final class PolicyTicket: Sendable {
    public let decision: PolicyDecision
    private let holds: Mutex<Holds?>

    struct Holds {
        var concurrencyKeys: [CounterKey] = []
        var tokenReservations: [(key: CounterKey, estimate: Int)] = []
        let counters: LimitCounters?

        /// Leaves the concurrency slots and settles the reservations (at their estimate when
        /// `usedTokens` is nil).
        func release(usedTokens: Int?) {
            guard let counters else { return }
            for key in concurrencyKeys { counters.leave(key: key) }
            let now = ContinuousClock.now
            for (key, estimate) in tokenReservations {
                counters.settleTokens(key: key, reserved: estimate, used: usedTokens ?? estimate, now: now)
            }
        }
    }

    init(decision: PolicyDecision, holds: Holds?) {
        self.decision = decision
        self.holds = Mutex(holds)
    }

    /// A ticket that holds nothing (no policy, or no limit applied).
    public static func unlimited(_ decision: PolicyDecision) -> PolicyTicket {
        PolicyTicket(decision: decision, holds: nil)
    }

    /// Gives back what the call held. `usedTokens`: what an LLM call really used; nil when unknown,
    /// which settles each reservation at its estimate.
    public func finish(usedTokens: Int?) {
        let taken = holds.withLock { holds -> Holds? in
            defer { holds = nil }
            return holds
        }
        taken?.release(usedTokens: usedTokens)
    }

    deinit {
        holds.withLock { $0 }?.release(usedTokens: 0)
    }
}

/// The engine: the current `PolicySet` (swapped whole on reload) and the counters behind its
/// limits (kept across reloads).
public final class PolicyEngine: PolicyDecisionPoint {
    private let current: Mutex<PolicySet>
    let counters = LimitCounters()
    private let auditSink: (any DecisionAuditSink)?
    /// LLM spend per agent in the current day and month, which budgets are checked against.
    public let spend: BudgetSpend
    /// What session rules remember, kept across reloads.
    let sessions = SessionMemory()
    private let webhookClient: (any GuardWebhookClient)?

    /// `auditSink` receives every decision on a call while a policy is in force; `spend` is fed
    /// by the usage books.
    public init(
        _ policies: PolicySet = .empty,
        auditSink: (any DecisionAuditSink)? = nil,
        spend: BudgetSpend = BudgetSpend(),
        webhookClient: (any GuardWebhookClient)? = nil
    ) {
        self.current = Mutex(policies)
        self.auditSink = auditSink
        self.spend = spend
        self.webhookClient = webhookClient
    }

    /// The budgets of an agent's policy with what it spent against them (for `/admin/usage`).
    public func budgetStatus(agent: String, now: Date = Date()) -> [BudgetStatus] {
        let identity = Identity(agentName: agent, method: .policyTest)
        guard let policy = policies.policy(for: identity) else { return [] }
        return policy.budgets.map {
            BudgetStatus(
                rule: $0.id,
                period: $0.period,
                limitPicoUSD: $0.picoUSD,
                spentPicoUSD: spend.spent(agent: agent, period: $0.period, at: now),
                resetsAt: $0.period.reset(after: now)
            )
        }
    }

    public var policies: PolicySet { current.withLock { $0 } }

    /// Takes effect for the next decision; calls in flight keep what they were admitted with.
    public func replace(with policies: PolicySet) {
        current.withLock { $0 = policies }
    }

    public var isActive: Bool { !policies.isEmpty }

    public func decide(_ input: PolicyInput) -> PolicyDecision {
        policies.decide(input)
    }

    public func deniesWithToolResult(_ identity: Identity) -> Bool {
        policies.deniesWithToolResult(identity)
    }

    public func contentCapture(_ identity: Identity) -> TraceContentCapture? {
        policies.contentCapture(identity)
    }

    public func admit(_ input: PolicyInput, estimatedTokens: Int = 0) async -> PolicyAdmission {
        let policies = self.policies
        let admission = evaluate(input, estimatedTokens: estimatedTokens, policies: policies, now: .now)
        if let auditSink, !policies.isEmpty {
            let decision: PolicyDecision
            switch admission {
            case .admitted(let ticket): decision = ticket.decision
            case .refused(let refusal): decision = refusal
            }
            let (plane, action) = input.action.auditName
            await auditSink.record(
                DecisionRecord(
                    plane: plane,
                    action: action,
                    target: input.action.subject,
                    agent: input.identity.agentName,
                    requestID: input.requestID?.description,
                    decision: decision.effect,
                    rule: decision.rule,
                    reason: decision.reason
                )
            )
        }
        return admission
    }

    /// The decision and the limits, without the audit log (tests, `policy test`).
    func evaluate(
        _ input: PolicyInput,
        estimatedTokens: Int,
        policies: PolicySet? = nil,
        now: ContinuousClock.Instant = .now
    ) -> PolicyAdmission {
        let policies = policies ?? self.policies
        var decision = policies.decide(input)
        guard decision.isAllowed else { return .refused(decision) }
        let agent = input.identity.agentName
        guard let policy = policies.policy(for: input.identity) else { return .admitted(.unlimited(decision)) }
        if !policy.sessionRules.isEmpty,
            let sessionDecision = sessionDecision(policy, input: input, tags: policies.tags, now: now)
        {
            if sessionDecision.effect == .deny { return .refused(sessionDecision) }
            decision = sessionDecision
        }
        guard !policy.limits.isEmpty || !policy.budgets.isEmpty else { return .admitted(.unlimited(decision)) }
        if case .callModel = input.action, let refusal = budgetRefusal(policy.budgets, agent: agent) {
            return .refused(refusal)
        }
        var holds = PolicyTicket.Holds(counters: counters)
        var takenRequests: [(key: CounterKey, instant: ContinuousClock.Instant)] = []
        func undo() {
            for (key, instant) in takenRequests { counters.returnRequest(key: key, at: instant) }
            holds.release(usedTokens: 0)
        }
        for limit in policy.limits {
            guard let item = Self.item(limit.scope, counting: input.action, kind: limit.kind) else { continue }
            let key = CounterKey(agent: agent, limit: limit.counterKey, item: item)
            let refusal: (wait: Duration, unit: PolicyDecision.RefusingLimit.Unit, allowed: Int, per: String)?
            switch limit.kind {
            case .requests(let allowed, let window):
                if let wait = counters.takeRequest(key: key, limit: allowed, window: window, now: now) {
                    refusal = (wait, .requests, allowed, " per \(Self.format(window))")
                } else {
                    takenRequests.append((key, now))
                    refusal = nil
                }
            case .concurrent(let allowed):
                if counters.enter(key: key, limit: allowed) {
                    holds.concurrencyKeys.append(key)
                    refusal = nil
                } else {
                    refusal = (.seconds(1), .concurrent, allowed, " at once")
                }
            case .tokens(let allowed, let window):
                let estimate = max(estimatedTokens, 1)
                if let wait = counters.reserveTokens(
                    key: key,
                    estimate: estimate,
                    limit: allowed,
                    window: window,
                    now: now
                ) {
                    refusal = (wait, .tokens, allowed, " per \(Self.format(window))")
                } else {
                    holds.tokenReservations.append((key, estimate))
                    refusal = nil
                }
            }
            if let refusal {
                undo()
                let on = item.isEmpty ? "" : " on \(Self.noun(limit.scope)) '\(item)'"
                let ticket = PolicyDecision(
                    effect: .limit,
                    rule: limit.id,
                    reason:
                        "agent '\(agent)' reached its limit of \(refusal.allowed) \(refusal.unit == .tokens ? "tokens" : "calls")\(refusal.per)\(on); retry in \(PolicyDecision.wholeSeconds(refusal.wait)) s",
                    retryAfter: refusal.wait,
                    limit: .init(unit: refusal.unit, allowed: refusal.allowed)
                )
                return .refused(ticket)
            }
        }
        return .admitted(PolicyTicket(decision: decision, holds: holds))
    }

    // MARK: - Guards and session rules

    public func contentGuard(_ flow: GuardFlow, context: GuardContext) -> ContentGuard? {
        guard let policy = policies.policy(for: context.identity), !policy.guards.isEmpty else { return nil }
        let rules = policy.guards(for: flow, subject: context.subject)
        guard !rules.isEmpty else { return nil }
        return ContentGuard(
            flow: flow,
            context: context,
            rules: rules,
            precompiledStreamDetectors: flow == .completion ? policy.completionStreamDetectors : nil,
            auditSink: auditSink,
            webhookClient: webhookClient
        )
    }

    public func recordToolResult(_ tool: ToolTarget, context: GuardContext, detectors: [String]) {
        let policies = self.policies
        guard let policy = policies.policy(for: context.identity), !policy.sessionRules.isEmpty else { return }
        let tags = policies.tags.tags(forTool: tool)
        let agent = context.identity.agentName
        for rule in policy.sessionRules {
            let taggedTrigger = rule.afterToolTags.intersection(tags).sorted()
            let detectorTrigger = detectors.filter { rule.afterDetectors.contains($0) }
            guard !taggedTrigger.isEmpty || !detectorTrigger.isEmpty,
                let key = rule.scopeKey(agent: agent, session: context.session)
            else { continue }
            let description =
                taggedTrigger.isEmpty
                ? "\(detectorTrigger.joined(separator: ", ")) was found in a result of '\(tool.name)'"
                : "'\(tool.name)' (tagged \(taggedTrigger.joined(separator: ", "))) returned content"
            sessions.record(
                key: key,
                rule: rule.id,
                event: SessionMemory.Event(description: description, at: .now, wallTime: Date()),
                window: rule.window
            )
        }
    }

    public func endMCPSession(_ id: String) {
        sessions.endMCPSession(id)
    }

    /// The first session rule whose trigger happened in the request's scope and that names this
    /// call: a denial (or a flag, which admits the call) that says which event began it.
    private func sessionDecision(
        _ policy: AgentPolicy,
        input: PolicyInput,
        tags: PolicyTags,
        now: ContinuousClock.Instant
    ) -> PolicyDecision? {
        let agent = input.identity.agentName
        for rule in policy.sessionRules {
            let what: String
            switch input.action {
            case .callTool(let tool, _):
                let named = rule.denyToolTags.intersection(tags.tags(forTool: tool)).sorted()
                guard !named.isEmpty else { continue }
                what = "tool '\(tool.name)' (tagged \(named.joined(separator: ", ")))"
            case .callModel(let model):
                guard let required = rule.denyProvidersNotTagged else { continue }
                let outside = input.providers.filter {
                    tags.tags(forModel: model, provider: $0).isDisjoint(with: required)
                }
                guard !outside.isEmpty else { continue }
                what =
                    "model '\(model)' (provider \(outside.joined(separator: ", ")) is not tagged \(required.sorted().joined(separator: " or ")))"
            default:
                continue
            }
            guard let key = rule.scopeKey(agent: agent, session: input.session),
                let event = sessions.event(key: key, rule: rule.id, within: rule.window, now: now)
            else { continue }
            return PolicyDecision(
                effect: rule.consequence == .deny ? .deny : .flag,
                rule: rule.id,
                reason: "\(what) is not allowed in \(rule.scope.noun) since \(event.description)"
            )
        }
        return nil
    }

    /// The first budget the agent has used up, as a refusal that says when it resets.
    private func budgetRefusal(_ budgets: [BudgetRule], agent: String) -> PolicyDecision? {
        let now = Date()
        for budget in budgets {
            let spent = spend.spent(agent: agent, period: budget.period, at: now)
            guard spent >= budget.picoUSD else { continue }
            let resets = budget.period.reset(after: now)
            let wait = Duration.seconds(max(1, Int(resets.timeIntervalSince(now).rounded(.up))))
            let formatter = ISO8601DateFormatter()
            return PolicyDecision(
                effect: .limit,
                rule: budget.id,
                reason:
                    "agent '\(agent)' has used its \(budget.period == .day ? "daily" : "monthly") budget of \(Self.usd(budget.picoUSD)) (spent \(Self.usd(spent))); it resets at \(formatter.string(from: resets))",
                retryAfter: wait,
                limit: .init(unit: .budget, allowed: Int(clamping: budget.picoUSD))
            )
        }
        return nil
    }

    static func usd(_ picoUSD: Int64) -> String {
        String(format: "$%.2f", Double(picoUSD) / 1e12)
    }

    /// The item a limit counts this action under ("" for the agent as a whole), or nil when the
    /// limit does not count this action. Only calls count: lists, `initialize` and pings never ask.
    private static func item(_ scope: LimitScope, counting action: PolicyAction, kind: LimitKind) -> String? {
        switch (scope, action) {
        case (.agent, .callModel):
            return ""
        case (.agent, .callTool):
            if case .tokens = kind { return nil }
            return ""
        case (.model(let glob), .callModel(let model)):
            return glob.matches(model) ? model : nil
        case (.server(let glob), .callTool(let tool, _)):
            if case .tokens = kind { return nil }
            return glob.matches(tool.server) ? tool.server : nil
        case (.tool(let glob), .callTool(let tool, _)):
            if case .tokens = kind { return nil }
            return glob.matches(tool.name) ? tool.name : nil
        default:
            return nil
        }
    }

    private static func noun(_ scope: LimitScope) -> String {
        switch scope {
        case .agent: "agent"
        case .model: "model"
        case .server: "server"
        case .tool: "tool"
        }
    }

    static func format(_ window: Duration) -> String {
        let seconds = window.components.seconds
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

/// Allows everything: for planes built without a policy (tests, tools).
public struct AllowAllPolicy: PolicyDecisionPoint {
    public init() {}
    public var isActive: Bool { false }
    public func decide(_ input: PolicyInput) -> PolicyDecision { .noPolicy }
    public func admit(_ input: PolicyInput, estimatedTokens: Int) async -> PolicyAdmission {
        .admitted(.unlimited(.noPolicy))
    }
    public func deniesWithToolResult(_ identity: Identity) -> Bool { false }
}

/// One budget of an agent and what was spent against it.
public struct BudgetStatus: Sendable, Equatable {
    public let rule: String
    public let period: BudgetPeriod
    public let limitPicoUSD: Int64
    public let spentPicoUSD: Int64
    public let resetsAt: Date
}
