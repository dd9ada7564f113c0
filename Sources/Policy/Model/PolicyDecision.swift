/// The policy's answer, with the rule that decided it and a reason a person can read. The
/// reason names only what the caller asked for, never another agent's tools or an argument's value.
public struct PolicyDecision: Sendable, Equatable, CustomStringConvertible {
    public enum Effect: String, Sendable, CaseIterable {
        case allow
        case deny
        /// A limit refused the call for now; `retryAfter` says when it may pass.
        case limit
        /// A guard found something and let the content pass (audit only).
        case flag
        /// A guard masked what it found and let the rest pass.
        case redact
        /// A guard refused the content.
        case block
    }

    public let effect: Effect
    /// The deciding rule: `researcher.yaml#tools.allow[0]`, a rule's own `id`, or one of the
    /// built-in names (`no-policy`, `default-deny`).
    public let rule: String
    public let reason: String
    public let retryAfter: Duration?
    /// For `limit`: which limit refused, for the OpenAI-style `x-ratelimit-*` headers.
    public let limit: RefusingLimit?

    /// A limit that refused a call: what it counts and how many it allows.
    public struct RefusingLimit: Sendable, Equatable {
        public enum Unit: String, Sendable {
            case requests
            case tokens
            case concurrent
            /// A USD budget; `allowed` is in picodollars.
            case budget
        }

        public let unit: Unit
        public let allowed: Int
    }

    public init(
        effect: Effect,
        rule: String,
        reason: String,
        retryAfter: Duration? = nil,
        limit: RefusingLimit? = nil
    ) {
        self.effect = effect
        self.rule = rule
        self.reason = reason
        self.retryAfter = retryAfter
        self.limit = limit
    }

    public var isAllowed: Bool { effect == .allow }

    /// Whole seconds to wait, at least 1: what `Retry-After` says.
    public var retryAfterSeconds: Int? {
        retryAfter.map(Self.wholeSeconds)
    }

    /// A wait rounded up to whole seconds, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    public var description: String { "\(effect.rawValue) by \(rule): \(reason)" }

    /// Agents without a policy file, when the defaults let them through.
    static let noPolicy = PolicyDecision(effect: .allow, rule: "no-policy", reason: "no policy applies to this agent")
}
