/// One span as the local trace store keeps it. `detail` is the whole span in an encoding the
/// tracing module writes and reads (OTLP protobuf bytes; JSON text in stores written before);
/// the store only files it.
public struct StoredSpan: Sendable, Equatable {
    public enum Detail: Sendable, Equatable {
        case text(String)
        case bytes([UInt8])
    }

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
    public var detail: Detail

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
        detail: Detail
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

/// Which runs to list: newest first, optionally one agent's, from a time on; `offset` skips that
/// many of the newest, for a reader that pages through them.
public struct TraceRunQuery: Sendable, Equatable {
    public var agent: String?
    public var sinceNanoseconds: Int64?
    public var limit: Int
    public var offset: Int

    public init(agent: String? = nil, sinceNanoseconds: Int64? = nil, limit: Int = 100, offset: Int = 0) {
        self.agent = agent
        self.sinceNanoseconds = sinceNanoseconds
        self.limit = limit
        self.offset = offset
    }
}

extension Store {
    /// Appends spans in one transaction. With `maximumSpans`, the same transaction then removes
    /// the oldest spans past that many (`pruneTraceSpans`' count rule), so a busy store is kept at
    /// its size a batch at a time rather than by one large delete now and then. Returns how many
    /// went.
    @discardableResult
    public func recordSpans(_ spans: [StoredSpan], keepingAtMost maximumSpans: Int? = nil) async throws -> Int {
        guard !spans.isEmpty else { return 0 }
        return try await write { connection throws in
            let insert = try connection.cachedStatement(
                """
                INSERT INTO trace_spans (trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, start_ns,
                    end_ns, status, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            return try connection.transaction { () throws in
                for span in spans {
                    try insert.run([
                        .text(span.traceID), .text(span.spanID), span.parentSpanID.map { .text($0) } ?? .null,
                        .integer(span.isRunRoot ? 1 : 0), .text(span.agent), .text(span.name), .text(span.kind),
                        .integer(span.startNanoseconds), .integer(span.endNanoseconds), .text(span.status),
                        span.detail.value,
                    ])
                }
                guard let maximumSpans else { return 0 }
                return try Self.removeOldestSpans(keeping: maximumSpans, connection)
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
            parameters.append(.integer(Int64(max(0, query.offset))))
            let rows = try connection.prepare(
                "SELECT \(Self.spanColumns) FROM trace_spans WHERE \(conditions.joined(separator: " AND ")) "
                    + "ORDER BY start_ns DESC, id DESC LIMIT ? OFFSET ?"
            ).run(parameters)
            return rows.compactMap(Self.span)
        }
    }

    /// Every span of several traces (a page of listed runs), grouped by trace, each in start order.
    /// One statement per `maximumTraceIDsPerQuery` ids, all in one trip to the reader thread.
    public func traceSpans(traceIDs: [String]) async throws -> [StoredSpan] {
        let unique = Array(Set(traceIDs)).sorted()
        guard !unique.isEmpty else { return [] }
        return try await read { connection throws in
            var spans: [StoredSpan] = []
            var start = 0
            while start < unique.count {
                let batch = Array(unique[start..<min(start + Self.maximumTraceIDsPerQuery, unique.count)])
                start += batch.count
                let placeholders = Array(repeating: "?", count: batch.count).joined(separator: ", ")
                let rows = try connection.prepare(
                    "SELECT \(Self.spanColumns) FROM trace_spans WHERE trace_id IN (\(placeholders)) "
                        + "ORDER BY trace_id, start_ns, id"
                ).run(batch.map { .text($0) })
                spans += rows.compactMap(Self.span)
            }
            return spans
        }
    }

    /// The trace ids that start with `prefix`, at most `limit` of them (in id order), for readers
    /// that accept an abbreviated id. The range comparison keeps the lookup on the trace index.
    public func traceIDs(withPrefix prefix: String, limit: Int) async throws -> [String] {
        guard !prefix.isEmpty else { return [] }
        return try await read { connection throws in
            // Ids are hex digits, so every id that starts with the prefix sorts below prefix + U+10FFFF.
            let rows = try connection.prepare(
                "SELECT DISTINCT trace_id FROM trace_spans WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id LIMIT ?"
            ).run([.text(prefix), .text(prefix + "\u{10FFFF}"), .integer(Int64(max(1, min(limit, 1000))))])
            return rows.compactMap { row in
                guard case .text(let id)? = row.first else { return nil }
                return id
            }
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
            try connection.cachedStatement("DELETE FROM trace_spans WHERE end_ns < ?").run([
                .integer(olderThanNanoseconds)
            ])
            let expired = connection.changedRows
            return expired + (try Self.removeOldestSpans(keeping: maximumSpans, connection))
        }
    }

    /// Removes the spans with the lowest ids (the oldest written) so that at most `maximumSpans`
    /// remain. Ids only grow and removals take the oldest, so every span kept has an id among the
    /// newest `maximumSpans`: one range delete on the primary key, with no count of the table (a
    /// scan of an index). Where age removals left gaps below, fewer spans than the maximum stay.
    private static func removeOldestSpans(keeping maximumSpans: Int, _ connection: SQLiteConnection) throws -> Int {
        try connection.cachedStatement(
            "DELETE FROM trace_spans WHERE id <= (SELECT max(id) FROM trace_spans) - ?"
        ).run([.integer(Int64(max(0, maximumSpans)))])
        return connection.changedRows
    }

    /// Well under SQLite's limit on bound parameters (32766 since 3.32).
    private static let maximumTraceIDsPerQuery = 500

    private static let spanColumns =
        "trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, start_ns, end_ns, status, detail"

    private static func span(_ row: [PreparedStatement.Value]) -> StoredSpan? {
        guard row.count == 11, case .text(let traceID) = row[0], case .text(let spanID) = row[1],
            case .integer(let isRunRoot) = row[3], case .text(let agent) = row[4], case .text(let name) = row[5],
            case .text(let kind) = row[6], case .integer(let start) = row[7], case .integer(let end) = row[8],
            case .text(let status) = row[9]
        else { return nil }
        let detail: StoredSpan.Detail
        switch row[10] {
        case .text(let text): detail = .text(text)
        case .blob(let bytes): detail = .bytes(bytes)
        default: return nil
        }
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

extension StoredSpan.Detail {
    fileprivate var value: PreparedStatement.Value {
        switch self {
        case .text(let text): .text(text)
        case .bytes(let bytes): .blob(bytes)
        }
    }
}
