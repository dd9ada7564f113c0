/// One span as the local trace store keeps it. `detail` is the span's attributes, events and links
/// as JSON, written and read by the tracing module; the store only files it.
public struct StoredSpan: Sendable, Equatable {
    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    /// The span that stands for a whole agent run (`invoke_agent`).
    public var isRunRoot: Bool
    public var agent: String
    public var name: String
    /// `internal`, `server` or `client`.
    public var kind: String
    public var startNanoseconds: Int64
    public var endNanoseconds: Int64
    /// `unset`, `ok`, or `error: message`.
    public var status: String
    public var detail: String

    public init(
        traceID: String,
        spanID: String,
        parentSpanID: String?,
        isRunRoot: Bool,
        agent: String,
        name: String,
        kind: String,
        startNanoseconds: Int64,
        endNanoseconds: Int64,
        status: String,
        detail: String
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.isRunRoot = isRunRoot
        self.agent = agent
        self.name = name
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.status = status
        self.detail = detail
    }
}

/// Which runs to list: newest first, optionally one agent's, from a time on.
public struct TraceRunQuery: Sendable, Equatable {
    public var agent: String?
    public var sinceNanoseconds: Int64?
    public var limit: Int

    public init(agent: String? = nil, sinceNanoseconds: Int64? = nil, limit: Int = 100) {
        self.agent = agent
        self.sinceNanoseconds = sinceNanoseconds
        self.limit = limit
    }
}

extension Store {
    /// Appends spans in one transaction.
    public func recordSpans(_ spans: [StoredSpan]) async throws {
        guard !spans.isEmpty else { return }
        _ = try await write { connection throws in
            let insert = try connection.cachedStatement(
                """
                INSERT INTO trace_spans (trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, start_ns,
                    end_ns, status, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            try connection.transaction { () throws in
                for span in spans {
                    try insert.run([
                        .text(span.traceID), .text(span.spanID), span.parentSpanID.map { .text($0) } ?? .null,
                        .integer(span.isRunRoot ? 1 : 0), .text(span.agent), .text(span.name), .text(span.kind),
                        .integer(span.startNanoseconds), .integer(span.endNanoseconds), .text(span.status),
                        .text(span.detail),
                    ])
                }
            }
        }
    }

    /// The root spans of recent runs, newest first.
    public func traceRuns(_ query: TraceRunQuery) async throws -> [StoredSpan] {
        try await read { connection throws in
            var conditions = ["is_run_root = 1"]
            var parameters: [PreparedStatement.Value] = []
            if let agent = query.agent {
                conditions.append("agent = ?")
                parameters.append(.text(agent))
            }
            if let since = query.sinceNanoseconds {
                conditions.append("start_ns >= ?")
                parameters.append(.integer(since))
            }
            parameters.append(.integer(Int64(max(1, min(query.limit, 10_000)))))
            let rows = try connection.prepare(
                "SELECT \(Self.spanColumns) FROM trace_spans WHERE \(conditions.joined(separator: " AND ")) "
                    + "ORDER BY start_ns DESC, id DESC LIMIT ?"
            ).run(parameters)
            return rows.compactMap(Self.span)
        }
    }

    /// Every span of a trace, in start order.
    public func traceSpans(traceID: String) async throws -> [StoredSpan] {
        try await read { connection throws in
            let rows = try connection.prepare(
                "SELECT \(Self.spanColumns) FROM trace_spans WHERE trace_id = ? ORDER BY start_ns, id"
            ).run([.text(traceID)])
            return rows.compactMap(Self.span)
        }
    }

    /// Retention: removes spans that ended before `olderThanNanoseconds`, then the oldest spans
    /// past `maximumSpans`. Returns how many went.
    @discardableResult
    public func pruneTraceSpans(olderThanNanoseconds: Int64, maximumSpans: Int) async throws -> Int {
        try await write { connection throws in
            let before = try Self.spanCount(connection)
            try connection.prepare("DELETE FROM trace_spans WHERE end_ns < ?").run([.integer(olderThanNanoseconds)])
            let excess = try Self.spanCount(connection) - max(0, maximumSpans)
            if excess > 0 {
                try connection.prepare(
                    "DELETE FROM trace_spans WHERE id IN (SELECT id FROM trace_spans ORDER BY id LIMIT ?)"
                ).run([.integer(Int64(excess))])
            }
            return before - (try Self.spanCount(connection))
        }
    }

    private static let spanColumns =
        "trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, start_ns, end_ns, status, detail"

    private static func spanCount(_ connection: SQLiteConnection) throws -> Int {
        guard case .integer(let count)? = try connection.prepare("SELECT COUNT(*) FROM trace_spans").run().first?.first
        else { return 0 }
        return Int(count)
    }

    private static func span(_ row: [PreparedStatement.Value]) -> StoredSpan? {
        guard row.count == 11, case .text(let traceID) = row[0], case .text(let spanID) = row[1],
            case .integer(let isRunRoot) = row[3], case .text(let agent) = row[4], case .text(let name) = row[5],
            case .text(let kind) = row[6], case .integer(let start) = row[7], case .integer(let end) = row[8],
            case .text(let status) = row[9], case .text(let detail) = row[10]
        else { return nil }
        var parent: String?
        if case .text(let text) = row[2] { parent = text }
        return StoredSpan(
            traceID: traceID,
            spanID: spanID,
            parentSpanID: parent,
            isRunRoot: isRunRoot != 0,
            agent: agent,
            name: name,
            kind: kind,
            startNanoseconds: start,
            endNanoseconds: end,
            status: status,
            detail: detail
        )
    }
}
