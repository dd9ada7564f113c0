/// How a run went, as the viewer and `gatehouse traces` show it. A denial outranks an error: when a
/// policy refused something, the errors that followed are usually its consequence.
public enum TraceRunStatus: String, Sendable, CaseIterable {
    case ok
    case error
    case denied
}

/// What the decision attributes of a span or an event (`gatehouse.policy.decision`, `.rule`) say.
/// `deny`, `block` and `limit` stopped or held back a call; `allow`, `redact` and `flag` let it go on.
public enum DecisionAttributes {
    public static let denials: Set<String> = ["deny", "block", "limit"]

    /// Whether an attribute list records a decision that stopped something.
    static func isDenial(_ attributes: [SpanAttribute]) -> Bool {
        attributes.contains { attribute in
            guard attribute.key == GatehouseKey.policyDecision, case .string(let decision) = attribute.value else {
                return false
            }
            return denials.contains(decision)
        }
    }

    /// A decision other than `allow`, as a reader wants it in a line: `deny by rule files-public`.
    static func describe(_ attributes: [SpanAttribute]) -> String? {
        guard case .string(let decision)? = attributes.first(where: { $0.key == GatehouseKey.policyDecision })?.value,
            decision != "allow"
        else { return nil }
        guard case .string(let rule)? = attributes.first(where: { $0.key == GatehouseKey.policyRule })?.value else {
            return decision
        }
        return "\(decision) by rule \(rule)"
    }

    /// The decisions a span records: its own (a guardrail span) and its events'.
    static func denialCount(_ span: SpanRecord) -> Int {
        (isDenial(span.attributes) ? 1 : 0) + span.events.filter { isDenial($0.attributes) }.count
    }
}

/// One run at a glance: the row of the runs list and the header of its page. Totals are over the
/// spans given, which are the run's root and everything under it.
public struct TraceRunSummary: Sendable, Equatable {
    public var traceID: String
    public var rootSpanID: String
    public var agent: String
    /// The root's name: `invoke_agent {agent}`.
    public var name: String
    public var startNanoseconds: UInt64
    public var durationNanoseconds: UInt64
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var costUSD: Double
    /// Spans whose status is an error.
    public var errorCount: Int
    /// Decisions (span attributes or events) that denied, blocked or limited a call.
    public var denialCount: Int
    public var spanCount: Int

    public var status: TraceRunStatus {
        if denialCount > 0 { return .denied }
        return errorCount > 0 ? .error : .ok
    }

    /// The run's extent covers every span given, so a child that outlived its root still fits.
    public init(root: SpanRecord, agent: String, spans: [SpanRecord]) {
        let all = spans.contains { $0.spanID == root.spanID } ? spans : [root] + spans
        let start = all.map(\.startNanoseconds).min() ?? root.startNanoseconds
        let end = all.map(\.endNanoseconds).max() ?? root.endNanoseconds
        self.traceID = root.traceID
        self.rootSpanID = root.spanID
        self.agent = agent
        self.name = root.name
        self.startNanoseconds = start
        self.durationNanoseconds = end - start
        self.inputTokens = 0
        self.outputTokens = 0
        self.costUSD = 0
        self.errorCount = 0
        self.denialCount = 0
        self.spanCount = all.count
        for span in all {
            if case .int(let tokens)? = span[attribute: GenAIKey.inputTokens] { inputTokens += tokens }
            if case .int(let tokens)? = span[attribute: GenAIKey.outputTokens] { outputTokens += tokens }
            if case .double(let cost)? = span[attribute: GatehouseKey.costUSD], cost.isFinite { costUSD += cost }
            if case .error = span.status { errorCount += 1 }
            denialCount += DecisionAttributes.denialCount(span)
        }
    }
}

/// Which runs to list. `since` is a look-back window ending now.
public struct TraceRunFilter: Sendable, Equatable {
    public var agent: String?
    public var status: TraceRunStatus?
    public var since: TraceLookback?
    public var limit: Int

    public static let defaultLimit = 100
    public static let maximumLimit = 1000

    public init(agent: String? = nil, status: TraceRunStatus? = nil, since: TraceLookback? = nil, limit: Int = 100) {
        self.agent = agent
        self.status = status
        self.since = since
        self.limit = max(1, min(limit, Self.maximumLimit))
    }

    /// Whether a run passes the parts of the filter the store cannot apply (the status is derived).
    public func admits(_ summary: TraceRunSummary) -> Bool {
        status.map { summary.status == $0 } ?? true
    }

    /// The filter a query string asks for (`agent`, `status`, `since`; empty values mean "any").
    /// Unknown values are errors the page shows, not silently ignored filters.
    public static func parse(agent: String?, status: String?, since: String?) -> Result<Self, TraceRunFilterError> {
        func present(_ value: String?) -> String? {
            guard let value, !value.isEmpty else { return nil }
            return value
        }
        var filter = TraceRunFilter(agent: present(agent))
        if let text = present(status) {
            guard let parsed = TraceRunStatus(rawValue: text) else { return .failure(.unknownStatus(text)) }
            filter.status = parsed
        }
        if let text = present(since) {
            guard let parsed = TraceLookback(text) else { return .failure(.unknownLookback(text)) }
            filter.since = parsed
        }
        return .success(filter)
    }
}

public enum TraceRunFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownStatus(String)
    case unknownLookback(String)

    public var description: String {
        switch self {
        case .unknownStatus(let text):
            "Unknown status '\(text)': use one of \(TraceRunStatus.allCases.map(\.rawValue).joined(separator: ", "))."
        case .unknownLookback(let text):
            "Unknown time window '\(text)': use a number and a unit, such as 15m, 1h, 24h or 7d."
        }
    }
}

/// A look-back window written as a count and a unit: `30s`, `15m`, `1h`, `24h`, `7d` (at most a year).
public struct TraceLookback: Sendable, Equatable, CustomStringConvertible {
    public let nanoseconds: UInt64
    public let description: String

    /// The windows the runs page offers.
    public static let presets = ["15m", "1h", "24h", "7d"]

    public init?(_ text: String) {
        guard let unit = text.last, let count = UInt64(text.dropLast()), count > 0 else { return nil }
        let seconds: UInt64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        default: return nil
        }
        guard count <= 366 * 86_400 / seconds else { return nil }
        self.nanoseconds = count * seconds * 1_000_000_000
        self.description = text
    }

    /// The earliest start a run may have to fall in the window.
    public func start(before nowNanoseconds: UInt64) -> UInt64 {
        nowNanoseconds > nanoseconds ? nowNanoseconds - nanoseconds : 0
    }
}
