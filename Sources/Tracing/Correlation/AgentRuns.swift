public import GatehouseJSON
internal import Synchronization

/// What ties a request to its agent run, in order of preference: the caller's own trace
/// (`traceparent`), the run it names (`x-gatehouse-session`), its MCP session, or else just the
/// agent (a run then ends after an idle window). Keys other than a trace carry the agent, so two
/// agents naming the same run never share one.
public enum RunKey: Hashable, Sendable {
    case trace(String)
    case named(agent: String, run: String)
    case mcpSession(agent: String, id: String)
    case agent(String)

    public static func of(agent: String, traceParent: TraceParent?, run: String?, mcpSession: String?) -> RunKey {
        if let traceParent { return .trace(traceParent.traceID) }
        if let run { return .named(agent: agent, run: run) }
        if let mcpSession { return .mcpSession(agent: agent, id: mcpSession) }
        return .agent(agent)
    }
}

/// Where a request's spans go: its run's trace, under the run's root span.
public struct RunContext: Sendable, Equatable {
    public let traceID: String
    /// The run's root span (`invoke_agent`), which the request's spans hang under.
    public let rootSpanID: String
    /// Whether this request opened the run.
    public let opened: Bool
}

/// A tool call a model asked for, as the LLM plane saw it in a response.
public struct RequestedToolCall: Sendable, Equatable {
    public let id: String
    public let name: String
    /// `ToolArguments.canonical` of what the model sent.
    public let arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A tool call matched to the model's request: its id, and the chat span that asked for it.
public struct MatchedToolCall: Sendable, Equatable {
    public let id: String
    public let chatSpanID: String
}

/// A run that ended, for its root span: the trace, the span, the parent (the caller's span when
/// the run continues the caller's trace), and the time it covered.
public struct FinishedRun: Sendable, Equatable {
    public let key: RunKey
    public let agent: String
    public let traceID: String
    public let rootSpanID: String
    public let parentSpanID: String?
    public let startNanoseconds: UInt64
    public let endNanoseconds: UInt64
    public let callCount: Int
}

/// The open agent runs. A run opens at an agent's first call with no open run for its key and
/// ends at an LLM answer without tool calls, or after `idleWindow` without activity (its root then
/// ends at its last activity). Tool calls a model asked for wait in the run until the agent calls
/// the matching tool, matched by name and canonical arguments. Bounded: at `maximumRuns` the least
/// recently active runs end early (a 64th of them at once, so a flood of new runs scans the table
/// once per batch, not once per run), and a run keeps at most `maximumPendingToolCalls`.
public final class AgentRuns: Sendable {
    private struct Run {
        let agent: String
        let traceID: String
        let rootSpanID: String
        let parentSpanID: String?
        let startNanoseconds: UInt64
        var lastActivityNanoseconds: UInt64
        var inFlight = 0
        var callCount = 0
        var pending: [(call: RequestedToolCall, chatSpanID: String)] = []
    }

    public let idleWindow: Duration
    public let maximumRuns: Int
    public let maximumPendingToolCalls: Int
    /// The open runs, and the keys that stand for another key's run: an agent's MCP session and
    /// its unmarked LLM calls are one run when neither carries a stronger marker (a client whose
    /// MCP connection has a session while its LLM SDK sends nothing).
    private struct State {
        private(set) var runs: [RunKey: Run] = [:]
        private var aliases: [RunKey: RunKey] = [:]
        /// The keys standing for each run (the inverse of `aliases`), so a run's end drops its
        /// aliases without a scan.
        private var aliasesOf: [RunKey: [RunKey]] = [:]
        /// Each agent's MCP sessions with an open run of their own, so an unmarked call finds
        /// its partner among its agent's sessions instead of among every open run.
        private var sessionRunsOf: [String: Set<String>] = [:]

        subscript(run key: RunKey) -> Run? {
            get { runs[key] }
            set {
                if case .mcpSession(let agent, let id) = key {
                    if newValue == nil {
                        sessionRunsOf[agent]?.remove(id)
                        if sessionRunsOf[agent]?.isEmpty == true { sessionRunsOf[agent] = nil }
                    } else if runs[key] == nil {
                        sessionRunsOf[agent, default: []].insert(id)
                    }
                }
                runs[key] = newValue
            }
        }

        /// Changes the open run filed under `key` where it is (one lookup, and its pending tool
        /// calls are not copied out and back); nil when none is open.
        mutating func update<Result>(_ key: RunKey, _ change: (inout Run) -> Result) -> Result? {
            guard let index = runs.index(forKey: key) else { return nil }
            return change(&runs.values[index])
        }

        /// The key a run is filed under for `key`: its own, or the one it joined.
        func resolve(_ key: RunKey) -> RunKey {
            runs[key] != nil ? key : aliases[key] ?? key
        }

        /// An open run `key` may join instead of opening its own: the agent's unmarked run for
        /// its MCP session, the agent's most recently active MCP-session run for an unmarked call.
        func partner(of key: RunKey) -> RunKey? {
            switch key {
            case .mcpSession(let agent, _):
                return runs[.agent(agent)] != nil ? .agent(agent) : nil
            case .agent(let agent):
                var latest: (key: RunKey, activity: UInt64)?
                for id in sessionRunsOf[agent] ?? [] {
                    let session = RunKey.mcpSession(agent: agent, id: id)
                    guard let run = runs[session] else { continue }
                    if latest.map({ run.lastActivityNanoseconds > $0.activity }) ?? true {
                        latest = (session, run.lastActivityNanoseconds)
                    }
                }
                return latest?.key
            case .trace, .named:
                return nil
            }
        }

        mutating func alias(_ key: RunKey, to target: RunKey) {
            dropAlias(key)
            aliases[key] = target
            aliasesOf[target, default: []].append(key)
        }

        mutating func dropAlias(_ key: RunKey) {
            guard let target = aliases.removeValue(forKey: key) else { return }
            aliasesOf[target]?.removeAll { $0 == key }
            if aliasesOf[target]?.isEmpty == true { aliasesOf[target] = nil }
        }

        /// Ends a run: it, the keys that joined it, and its own alias if it had one.
        mutating func remove(_ key: RunKey) {
            self[run: key] = nil
            for alias in aliasesOf.removeValue(forKey: key) ?? [] { aliases[alias] = nil }
            dropAlias(key)
        }
    }

    private let state = Mutex(State())

    public init(idleWindow: Duration = .seconds(30), maximumRuns: Int = 10_000, maximumPendingToolCalls: Int = 64) {
        self.idleWindow = idleWindow
        self.maximumRuns = max(1, maximumRuns)
        self.maximumPendingToolCalls = max(1, maximumPendingToolCalls)
    }

    /// A call of the run begins; opens the run if none is open. Returns where the call's spans go,
    /// and the runs that had to end to make room.
    public func begin(
        _ key: RunKey,
        agent: String,
        callerParent: TraceParent?,
        at now: UInt64
    ) -> (context: RunContext, evicted: [FinishedRun]) {
        state.withLock { state in
            var filed = state.resolve(key)
            if state.runs[filed] == nil, let partner = state.partner(of: key) {
                state.alias(key, to: partner)
                filed = partner
            }
            let continued = state.update(filed) { run in
                run.inFlight += 1
                run.callCount += 1
                run.lastActivityNanoseconds = max(run.lastActivityNanoseconds, now)
                return RunContext(traceID: run.traceID, rootSpanID: run.rootSpanID, opened: false)
            }
            if let continued { return (continued, []) }
            state.dropAlias(key)
            var evicted: [FinishedRun] = []
            if state.runs.count >= maximumRuns {
                let oldest = state.runs.sorted {
                    $0.value.lastActivityNanoseconds < $1.value.lastActivityNanoseconds
                }.prefix(max(1, maximumRuns / 64))
                for (oldKey, oldRun) in oldest {
                    state.remove(oldKey)
                    evicted.append(Self.finished(oldKey, oldRun))
                }
            }
            let run = Run(
                agent: agent,
                traceID: callerParent?.traceID ?? TraceIdentifiers.traceID(nanoseconds: now),
                rootSpanID: TraceIdentifiers.spanID(),
                parentSpanID: callerParent?.parentSpanID,
                startNanoseconds: now,
                lastActivityNanoseconds: now,
                inFlight: 1,
                callCount: 1
            )
            state[run: key] = run
            return (RunContext(traceID: run.traceID, rootSpanID: run.rootSpanID, opened: true), evicted)
        }
    }

    /// A call of the run ended (its spans end at `now`, which the root must cover).
    public func end(_ key: RunKey, at now: UInt64) {
        state.withLock { state in
            state.update(state.resolve(key)) { run in
                run.inFlight = max(0, run.inFlight - 1)
                run.lastActivityNanoseconds = max(run.lastActivityNanoseconds, now)
            }
        }
    }

    /// An LLM call of the run ended with its answer (in place of `end`): with tool calls, they
    /// wait for the agent to make them; without, the run is over (once no other call of it is in
    /// flight) and is returned.
    public func answered(
        _ key: RunKey,
        toolCalls: [RequestedToolCall],
        chatSpanID: String,
        at now: UInt64
    ) -> FinishedRun? {
        state.withLock { state in
            let key = state.resolve(key)
            guard var run = state.runs[key] else { return nil }
            run.inFlight = max(0, run.inFlight - 1)
            run.lastActivityNanoseconds = max(run.lastActivityNanoseconds, now)
            if toolCalls.isEmpty {
                guard run.inFlight == 0 else {
                    state[run: key] = run
                    return nil
                }
                state.remove(key)
                return Self.finished(key, run)
            }
            run.pending += toolCalls.map { ($0, chatSpanID) }
            if run.pending.count > maximumPendingToolCalls {
                run.pending.removeFirst(run.pending.count - maximumPendingToolCalls)
            }
            state[run: key] = run
            return nil
        }
    }

    /// The model's request a tool call answers: the oldest pending call of the same tool (its
    /// federated name, or the name without the `server__` prefix) with the same canonical
    /// arguments, else the oldest of the same tool. Each request is matched once.
    public func match(_ key: RunKey, tool: String, arguments: String) -> MatchedToolCall? {
        match(key, tool: tool, arguments: { arguments })
    }

    /// `arguments` is asked for only when the run waits for more than one call of the tool.
    public func match(_ key: RunKey, tool: String, arguments: () -> String) -> MatchedToolCall? {
        state.withLock { state in
            func sameTool(_ name: String) -> Bool {
                name == tool || tool.hasSuffix("__" + name) || name.hasSuffix("__" + tool)
            }
            let matched = state.update(state.resolve(key)) { run -> MatchedToolCall? in
                let candidates = run.pending.indices.filter { sameTool(run.pending[$0].call.name) }
                guard let oldest = candidates.first else { return nil }
                var index = oldest
                if candidates.count > 1 {
                    let wanted = arguments()
                    index = candidates.first { run.pending[$0].call.arguments == wanted } ?? oldest
                }
                let found = run.pending.remove(at: index)
                return MatchedToolCall(id: found.call.id, chatSpanID: found.chatSpanID)
            }
            return matched ?? nil
        }
    }

    /// Ends the runs idle for longer than the window (none with a call in flight).
    public func expire(now: UInt64) -> [FinishedRun] {
        let window =
            UInt64(max(0, idleWindow.components.seconds)) * 1_000_000_000
            + UInt64(max(0, idleWindow.components.attoseconds / 1_000_000_000))
        return state.withLock { state in
            let idle = state.runs.filter {
                $0.value.inFlight == 0 && now >= $0.value.lastActivityNanoseconds + window
            }
            for key in idle.keys { state.remove(key) }
            return idle.map { Self.finished($0.key, $0.value) }.sorted { $0.startNanoseconds < $1.startNanoseconds }
        }
    }

    /// Ends every run (shutdown), so each root span is still exported.
    public func endAll() -> [FinishedRun] {
        state.withLock { state in
            defer { state = State() }
            return state.runs.map { Self.finished($0.key, $0.value) }.sorted {
                $0.startNanoseconds < $1.startNanoseconds
            }
        }
    }

    public var openRunCount: Int { state.withLock { $0.runs.count } }

    private static func finished(_ key: RunKey, _ run: Run) -> FinishedRun {
        FinishedRun(
            key: key,
            agent: run.agent,
            traceID: run.traceID,
            rootSpanID: run.rootSpanID,
            parentSpanID: run.parentSpanID,
            startNanoseconds: run.startNanoseconds,
            endNanoseconds: run.lastActivityNanoseconds,
            callCount: run.callCount
        )
    }
}

/// Tool arguments in one spelling whatever the dialect sent (an OpenAI JSON string, an Anthropic
/// object, MCP `arguments`): object keys sorted, no insignificant whitespace, so the same call
/// compares equal on both planes.
public enum ToolArguments {
    public static func canonical(_ value: JSONValue?) -> String {
        guard let value else { return "{}" }
        return String(decoding: sorted(value).serialized(), as: UTF8.self)
    }

    /// An OpenAI-style arguments string; text that is not JSON is kept as it is.
    public static func canonical(json text: String) -> String {
        guard let value = try? JSONValue.parse(text) else { return text }
        return canonical(value)
    }

    private static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(
                JSONObject(
                    members: object.members.sorted { $0.key < $1.key }.map {
                        JSONObject.Member(key: $0.key, value: sorted($0.value))
                    }
                )
            )
        case .array(let items): return .array(items.map(sorted))
        default: return value
        }
    }
}
