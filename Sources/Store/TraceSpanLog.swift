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
    /// Appends spans in one transaction: each root span in a row of its own (the runs' list reads
    /// them), each trace's other spans together in one row (`TraceSpanBatch`). With
    /// `maximumSpans`, the same transaction then removes the oldest spans past that many
    /// (`pruneTraceSpans`' count rule), so a busy store is kept at its size a batch at a time
    /// rather than by one large delete now and then. Returns how many went.
    @discardableResult
    public func recordSpans(_ spans: [StoredSpan], keepingAtMost maximumSpans: Int? = nil) async throws -> Int {
        guard !spans.isEmpty else { return 0 }
        return try await write { connection throws in
            let insertRoot = try connection.cachedStatement(
                """
                INSERT INTO trace_spans (id, trace_id, span_id, parent_span_id, is_run_root, agent, name, kind,
                    start_ns, end_ns, status, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            let insertBatch = try connection.cachedStatement(
                "INSERT INTO trace_span_batches (id, trace_id, span_count, end_ns, spans) VALUES (?, ?, ?, ?, ?)"
            )
            return try connection.transaction { () throws in
                var sequence = try Self.lastSpanSequence(connection)
                for group in TraceSpanBatch.groups(spans) {
                    switch group {
                    case .root(let span):
                        sequence += 1
                        try insertRoot.run([
                            .integer(sequence), .text(span.traceID), .text(span.spanID),
                            span.parentSpanID.map { .text($0) } ?? .null, .integer(1), .text(span.agent),
                            .text(span.name), .text(span.kind), .integer(span.startNanoseconds),
                            .integer(span.endNanoseconds), .text(span.status), span.detail.value,
                        ])
                    case .batch(let traceID, let members):
                        sequence += Int64(members.count)
                        try insertBatch.run([
                            .integer(sequence), .text(traceID), .integer(Int64(members.count)),
                            .integer(members.map(\.endNanoseconds).max() ?? 0),
                            .blob(TraceSpanBatch.encode(members)),
                        ])
                    }
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
            return rows.compactMap { Self.span($0)?.span }
        }
    }

    /// Every span of several traces (a page of listed runs), grouped by trace, each in start order.
    /// One statement per table and `maximumTraceIDsPerQuery` ids, all in one trip to the reader
    /// thread.
    public func traceSpans(traceIDs: [String]) async throws -> [StoredSpan] {
        let unique = Array(Set(traceIDs)).sorted()
        guard !unique.isEmpty else { return [] }
        return try await read { connection throws in
            var spans: [(span: StoredSpan, sequence: Int64)] = []
            var start = 0
            while start < unique.count {
                let batch = Array(unique[start..<min(start + Self.maximumTraceIDsPerQuery, unique.count)])
                start += batch.count
                let placeholders = Array(repeating: "?", count: batch.count).joined(separator: ", ")
                spans += try Self.spans(
                    where: "trace_id IN (\(placeholders))",
                    batch.map { .text($0) },
                    connection
                )
            }
            return Self.inTraceAndStartOrder(spans)
        }
    }

    /// The trace ids that start with `prefix`, at most `limit` of them (in id order), for readers
    /// that accept an abbreviated id. The range comparison keeps the lookup on the trace indexes.
    public func traceIDs(withPrefix prefix: String, limit: Int) async throws -> [String] {
        guard !prefix.isEmpty else { return [] }
        return try await read { connection throws in
            // Ids are hex digits, so every id that starts with the prefix sorts below prefix + U+10FFFF.
            let bounds: [PreparedStatement.Value] = [.text(prefix), .text(prefix + "\u{10FFFF}")]
            let rows = try connection.prepare(
                "SELECT trace_id FROM trace_spans WHERE trace_id >= ? AND trace_id < ? "
                    + "UNION SELECT trace_id FROM trace_span_batches WHERE trace_id >= ? AND trace_id < ? "
                    + "ORDER BY trace_id LIMIT ?"
            ).run(bounds + bounds + [.integer(Int64(max(1, min(limit, 1000))))])
            return rows.compactMap { row in
                guard case .text(let id)? = row.first else { return nil }
                return id
            }
        }
    }

    /// Every span of a trace, in start order.
    public func traceSpans(traceID: String) async throws -> [StoredSpan] {
        try await read { connection throws in
            Self.inTraceAndStartOrder(try Self.spans(where: "trace_id = ?", [.text(traceID)], connection))
        }
    }

    /// Retention: removes spans that ended before `olderThanNanoseconds` (a batch once all of its
    /// spans did), then the oldest spans past `maximumSpans`. Returns how many went.
    @discardableResult
    public func pruneTraceSpans(olderThanNanoseconds: Int64, maximumSpans: Int) async throws -> Int {
        try await write { connection throws in
            try connection.cachedStatement("DELETE FROM trace_spans WHERE end_ns < ?").run([
                .integer(olderThanNanoseconds)
            ])
            let expired = connection.changedRows
            let expiredInBatches = Self.spanCount(
                try connection.cachedStatement("DELETE FROM trace_span_batches WHERE end_ns < ? RETURNING span_count")
                    .run([.integer(olderThanNanoseconds)])
            )
            return expired + expiredInBatches + (try Self.removeOldestSpans(keeping: maximumSpans, connection))
        }
    }

    /// The sequence number of the newest span written (0 when none): roots' ids and batches' ids
    /// (their last span's) follow one sequence.
    private static func lastSpanSequence(_ connection: SQLiteConnection) throws -> Int64 {
        let rows = try connection.cachedStatement(
            "SELECT max(COALESCE((SELECT max(id) FROM trace_spans), 0), COALESCE((SELECT max(id) FROM trace_span_batches), 0))"
        ).run()
        guard case .integer(let last)? = rows.first?.first else { return 0 }
        return last
    }

    /// Removes the oldest written spans so that at most `maximumSpans` remain: spans whose
    /// sequence number is not among the newest `maximumSpans`, and batches whose first span's is
    /// not (a batch goes whole). Sequence numbers only grow and removals take the oldest, so these
    /// are range deletes on the primary keys, with no count of the tables. Where age removals left
    /// gaps below, fewer spans than the maximum stay.
    private static func removeOldestSpans(keeping maximumSpans: Int, _ connection: SQLiteConnection) throws -> Int {
        let oldestKept = try lastSpanSequence(connection) - Int64(max(0, maximumSpans))
        try connection.cachedStatement("DELETE FROM trace_spans WHERE id <= ?").run([.integer(oldestKept)])
        let removed = connection.changedRows
        // A batch's id is its last span's number; its first is `span_count - 1` below. The bound
        // on the id keeps the delete on the primary key's range.
        let removedInBatches = spanCount(
            try connection.cachedStatement(
                "DELETE FROM trace_span_batches WHERE id <= ? AND id - span_count < ? RETURNING span_count"
            ).run([.integer(oldestKept + Int64(TraceSpanBatch.maximumSpans)), .integer(oldestKept)])
        )
        return removed + removedInBatches
    }

    private static func spanCount(_ rows: [[PreparedStatement.Value]]) -> Int {
        rows.reduce(0) { total, row in
            guard case .integer(let count)? = row.first else { return total }
            return total + Int(count)
        }
    }

    /// The spans of both tables that match `condition` (on `trace_id`), each with its sequence
    /// number. A batch that does not read back whole is left out.
    private static func spans(
        where condition: String,
        _ parameters: [PreparedStatement.Value],
        _ connection: SQLiteConnection
    ) throws -> [(span: StoredSpan, sequence: Int64)] {
        var spans = try connection.prepare(
            "SELECT \(spanColumns) FROM trace_spans WHERE \(condition)"
        ).run(parameters).compactMap(span)
        let batches = try connection.prepare(
            "SELECT trace_id, id, span_count, spans FROM trace_span_batches WHERE \(condition)"
        ).run(parameters)
        for row in batches {
            guard row.count == 4, case .text(let traceID) = row[0], case .integer(let last) = row[1],
                case .integer(let count) = row[2], case .blob(let bytes) = row[3],
                let members = TraceSpanBatch.decode(bytes, traceID: traceID), members.count == count
            else { continue }
            for (offset, member) in members.enumerated() {
                spans.append((member, last - count + 1 + Int64(offset)))
            }
        }
        return spans
    }

    private static func inTraceAndStartOrder(_ spans: [(span: StoredSpan, sequence: Int64)]) -> [StoredSpan] {
        spans.sorted { left, right in
            if left.span.traceID != right.span.traceID { return left.span.traceID < right.span.traceID }
            if left.span.startNanoseconds != right.span.startNanoseconds {
                return left.span.startNanoseconds < right.span.startNanoseconds
            }
            return left.sequence < right.sequence
        }.map(\.span)
    }

    /// Well under SQLite's limit on bound parameters (32766 since 3.32).
    private static let maximumTraceIDsPerQuery = 500

    /// A span's columns and its id (its sequence number).
    private static let spanColumns =
        "trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, start_ns, end_ns, status, detail, id"

    /// A row of `spanColumns`.
    private static func span(_ row: [PreparedStatement.Value]) -> (span: StoredSpan, sequence: Int64)? {
        guard row.count == 12, case .text(let traceID) = row[0], case .text(let spanID) = row[1],
            case .integer(let isRunRoot) = row[3], case .text(let agent) = row[4], case .text(let name) = row[5],
            case .text(let kind) = row[6], case .integer(let start) = row[7], case .integer(let end) = row[8],
            case .text(let status) = row[9], case .integer(let sequence) = row[11]
        else { return nil }
        let detail: StoredSpan.Detail
        switch row[10] {
        case .text(let text): detail = .text(text)
        case .blob(let bytes): detail = .bytes(bytes)
        default: return nil
        }
        var parent: String?
        if case .text(let text) = row[2] { parent = text }
        let span = StoredSpan(
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
        return (span, sequence)
    }
}

/// A trace's spans from one write, other than its root, in one row's bytes: for each span a flags
/// byte (has a parent, detail is bytes rather than text), its start and end (8 bytes each, little
/// endian), then its span id, parent id (when it has one), agent, name, kind, status and detail,
/// each as a 4-byte little-endian length and its bytes. The trace id is the row's.
enum TraceSpanBatch {
    /// Larger groups are split: the size rule's delete bounds its range by this.
    static let maximumSpans = 1024

    enum Group {
        case root(StoredSpan)
        case batch(traceID: String, spans: [StoredSpan])
    }

    /// Roots alone, and each trace's other spans together (in the order they came, split at
    /// `maximumSpans`), in the order each first came.
    static func groups(_ spans: [StoredSpan]) -> [Group] {
        enum Slot {
            case root(StoredSpan)
            case batch(Int)
        }
        var slots: [Slot] = []
        var batches: [[StoredSpan]] = []
        var openBatch: [String: Int] = [:]
        for span in spans {
            if span.isRunRoot {
                slots.append(.root(span))
            } else if let index = openBatch[span.traceID], batches[index].count < maximumSpans {
                batches[index].append(span)
            } else {
                openBatch[span.traceID] = batches.count
                slots.append(.batch(batches.count))
                batches.append([span])
            }
        }
        return slots.map { slot in
            switch slot {
            case .root(let span): .root(span)
            case .batch(let index): .batch(traceID: batches[index][0].traceID, spans: batches[index])
            }
        }
    }

    private enum Flag {
        static let hasParent: UInt8 = 1
        static let bytesDetail: UInt8 = 2
    }

    static func encode(_ spans: [StoredSpan]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(spans.reduce(0) { $0 + 64 + $1.detail.byteCount + $1.name.utf8.count })
        func put(_ value: UInt64, width: Int) {
            for shift in stride(from: 0, to: width * 8, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            }
        }
        func put(_ text: String) {
            put(UInt64(text.utf8.count), width: 4)
            bytes.append(contentsOf: text.utf8)
        }
        for span in spans {
            var flags: UInt8 = span.parentSpanID == nil ? 0 : Flag.hasParent
            if case .bytes = span.detail { flags |= Flag.bytesDetail }
            bytes.append(flags)
            put(UInt64(bitPattern: span.startNanoseconds), width: 8)
            put(UInt64(bitPattern: span.endNanoseconds), width: 8)
            put(span.spanID)
            if let parent = span.parentSpanID { put(parent) }
            put(span.agent)
            put(span.name)
            put(span.kind)
            put(span.status)
            switch span.detail {
            case .text(let text): put(text)
            case .bytes(let detail):
                put(UInt64(detail.count), width: 4)
                bytes.append(contentsOf: detail)
            }
        }
        return bytes
    }

    /// The spans `encode` wrote; nil when the bytes are not whole.
    static func decode(_ bytes: [UInt8], traceID: String) -> [StoredSpan]? {
        var spans: [StoredSpan] = []
        var index = 0
        func take(_ width: Int) -> UInt64? {
            guard bytes.count - index >= width else { return nil }
            var value: UInt64 = 0
            for offset in 0..<width { value |= UInt64(bytes[index + offset]) << (8 * offset) }
            index += width
            return value
        }
        func chunk() -> ArraySlice<UInt8>? {
            guard let length = take(4), bytes.count - index >= Int(length) else { return nil }
            defer { index += Int(length) }
            return bytes[index..<(index + Int(length))]
        }
        func text() -> String? { chunk().map { String(decoding: $0, as: UTF8.self) } }
        while index < bytes.count {
            guard let flags = take(1), let start = take(8), let end = take(8), let spanID = text() else { return nil }
            var parent: String?
            if UInt8(flags) & Flag.hasParent != 0 {
                guard let read = text() else { return nil }
                parent = read
            }
            guard let agent = text(), let name = text(), let kind = text(), let status = text(),
                let detailBytes = chunk()
            else { return nil }
            spans.append(
                StoredSpan(
                    traceID: traceID,
                    spanID: spanID,
                    parentSpanID: parent,
                    isRunRoot: false,
                    agent: agent,
                    name: name,
                    kind: kind,
                    startNanoseconds: Int64(bitPattern: start),
                    endNanoseconds: Int64(bitPattern: end),
                    status: status,
                    detail: UInt8(flags) & Flag.bytesDetail != 0
                        ? .bytes(Array(detailBytes)) : .text(String(decoding: detailBytes, as: UTF8.self))
                )
            )
        }
        return spans
    }
}

extension StoredSpan.Detail {
    fileprivate var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .bytes(let bytes): bytes.count
        }
    }

    fileprivate var value: PreparedStatement.Value {
        switch self {
        case .text(let text): .text(text)
        case .bytes(let bytes): .blob(bytes)
        }
    }
}
