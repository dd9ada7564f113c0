internal import Foundation
internal import Synchronization

/// A rule that remembers what happened: once its trigger has happened in a scope (a tool tagged
/// `untrusted` returned content; a detector fired on a tool result), the calls it names are denied
/// (or flagged) in that scope until the scope ends.
struct SessionRule: Sendable {
    enum Scope: Sendable, Equatable {
        /// The MCP session (`Mcp-Session-Id`); for clients of the stateless era, which have none,
        /// the agent run they name in `x-gatehouse-session`.
        case mcpSession
        /// The agent run named by `x-gatehouse-session`, on LLM and MCP requests alike.
        case run
        /// Everything the agent does, for a window after the trigger.
        case agent(window: Duration)

        var noun: String {
            switch self {
            case .mcpSession: "this MCP session"
            case .run: "this agent run"
            case .agent(let window): "the \(PolicyEngine.format(window)) after it for this agent"
            }
        }
    }

    enum Consequence: String, Sendable, CaseIterable {
        case deny
        case flag
    }

    let id: String
    let scope: Scope
    /// A tool carrying one of these tags returned content.
    let afterToolTags: Set<String>
    /// One of these detectors found something in a tool result.
    let afterDetectors: Set<String>
    /// Then: tools carrying one of these tags...
    let denyToolTags: Set<String>
    /// ...and LLM calls routed to a provider that carries none of these tags.
    let denyProvidersNotTagged: Set<String>?
    let consequence: Consequence

    /// The key of the scope a request belongs to; nil when it names none (no session, no run).
    func scopeKey(agent: String, session: SessionKeys) -> String? {
        switch scope {
        case .mcpSession:
            if let id = session.mcpSession { return "mcp\u{1F}\(agent)\u{1F}\(id)" }
            return session.run.map { "run\u{1F}\(agent)\u{1F}\($0)" }
        case .run:
            return session.run.map { "run\u{1F}\(agent)\u{1F}\($0)" }
        case .agent:
            return "agent\u{1F}\(agent)"
        }
    }

    var window: Duration? {
        if case .agent(let window) = scope { return window }
        return nil
    }
}

/// What session rules remember: for each scope, the triggers that happened in it. Bounded (a
/// scope keeps its first event per rule; at most `maximumScopes` scopes, the least recently
/// touched forgotten first) and ended with the scope (an MCP session's DELETE or expiry).
final class SessionMemory: Sendable {
    struct Event: Sendable, Equatable {
        let description: String
        let at: ContinuousClock.Instant
        let wallTime: Date
    }

    private struct Scope {
        var events: [String: Event] = [:]
        var touched: UInt64 = 0
    }

    private struct State {
        var scopes: [String: Scope] = [:]
        var clock: UInt64 = 0
    }

    let maximumScopes: Int
    private let state: Mutex<State>

    init(maximumScopes: Int = 100_000) {
        self.maximumScopes = max(1, maximumScopes)
        self.state = Mutex(State())
    }

    /// Remembers that `rule`'s trigger happened in `key`'s scope (the first time counts: the
    /// denial names the earliest event).
    func record(key: String, rule: String, event: Event, window: Duration?) {
        state.withLock { state in
            state.clock &+= 1
            let now = state.clock
            if state.scopes[key] == nil && state.scopes.count >= maximumScopes {
                // Forget the tenth least recently touched at once, so eviction stays rare.
                let victims = state.scopes.sorted { $0.value.touched < $1.value.touched }.prefix(
                    max(1, maximumScopes / 10)
                )
                for victim in victims { state.scopes[victim.key] = nil }
            }
            state.scopes[key, default: Scope()].touched = now
            // The earliest event that still counts is kept: the denial names what began it.
            if let earlier = state.scopes[key]?.events[rule], window.map({ event.at - earlier.at <= $0 }) ?? true {
                return
            }
            state.scopes[key, default: Scope()].events[rule] = event
        }
    }

    /// The event that triggered `rule` in `key`'s scope, if any (within `window` when given).
    func event(key: String, rule: String, within window: Duration?, now: ContinuousClock.Instant) -> Event? {
        state.withLock { state in
            guard let event = state.scopes[key]?.events[rule] else { return nil }
            if let window, now - event.at > window { return nil }
            return event
        }
    }

    /// Forgets a scope (its session ended).
    func end(key: String) {
        _ = state.withLock { $0.scopes.removeValue(forKey: key) }
    }

    /// Forgets every scope of an MCP session, whichever agent owned it.
    func endMCPSession(_ id: String) {
        state.withLock { state in
            let suffix = "\u{1F}\(id)"
            for key in state.scopes.keys where key.hasPrefix("mcp\u{1F}") && key.hasSuffix(suffix) {
                state.scopes[key] = nil
            }
        }
    }

    var scopeCount: Int { state.withLock { $0.scopes.count } }
}
