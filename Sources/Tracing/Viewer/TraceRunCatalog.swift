internal import Foundation
public import Store

/// A run as its page shows it: the summary of the whole trace and every span of it.
public struct TraceRunDetail: Sendable, Equatable {
    public var summary: TraceRunSummary
    public var spans: [SpanRecord]

    /// The trace's summary and spans from its stored rows; nil when none of them reads back.
    /// The root is the trace's (earliest) run root, or, while the run is still open and its root
    /// not yet stored, its earliest span.
    public init?(rows: [StoredSpan]) {
        var spans: [SpanRecord] = []
        var agents: [String: String] = [:]
        var rootIDs: Set<String> = []
        for row in rows {
            guard let span = StoredSpanCoding.span(row) else { continue }
            spans.append(span)
            agents[span.spanID] = row.agent
            if row.isRunRoot { rootIDs.insert(span.spanID) }
        }
        let ordered = spans.sorted { ($0.startNanoseconds, $0.spanID) < ($1.startNanoseconds, $1.spanID) }
        guard let root = ordered.first(where: { rootIDs.contains($0.spanID) }) ?? ordered.first else { return nil }
        self.summary = TraceRunSummary(root: root, agent: agents[root.spanID] ?? "", spans: spans)
        self.spans = spans
    }
}

/// What a run reference (a full trace id or an abbreviation of one) names.
public enum TraceReference: Sendable, Equatable {
    case found(traceID: String)
    case notFound
    /// The abbreviation fits several traces; the first few of them.
    case ambiguous([String])
    /// Not hex, or shorter than `TraceRunCatalog.minimumPrefixLength`.
    case invalid
}

/// The runs in the local trace store, read for the viewer and `gatehouse traces`.
public struct TraceRunCatalog: Sendable {
    /// Runs read per page while a status filter (which the store cannot apply) looks for matches.
    static let pageSize = 100
    /// How many of the newest runs a status filter looks through before it stops.
    public static let maximumScan = 5000
    public static let minimumPrefixLength = 8

    /// One page of the runs list. When a status filter looked through `maximumScan` runs without
    /// filling the page, older runs may match too: `isScanCapped` says so.
    public struct Listing: Sendable, Equatable {
        public var runs: [TraceRunSummary]
        public var scannedRuns: Int
        public var isScanCapped: Bool

        public init(runs: [TraceRunSummary] = [], scannedRuns: Int = 0, isScanCapped: Bool = false) {
            self.runs = runs
            self.scannedRuns = scannedRuns
            self.isScanCapped = isScanCapped
        }
    }

    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// The newest runs that pass `filter`, each summed over its root's subtree.
    public func runs(
        _ filter: TraceRunFilter,
        nowNanoseconds: UInt64 = TraceClock.now()
    ) async throws -> Listing {
        var listing = Listing()
        var seen: Set<String> = []
        var isExhausted = false
        // Without a status filter the store's page is the answer; with one, read on until enough match.
        let pageLimit = filter.status == nil ? filter.limit : Self.pageSize
        let since = filter.since.map { Int64(clamping: $0.start(before: nowNanoseconds)) }
        while !isExhausted, listing.runs.count < filter.limit, listing.scannedRuns < Self.maximumScan {
            let roots = try await store.traceRuns(
                TraceRunQuery(
                    agent: filter.agent,
                    sinceNanoseconds: since,
                    limit: pageLimit,
                    offset: listing.scannedRuns
                )
            )
            listing.scannedRuns += roots.count
            isExhausted = roots.count < pageLimit
            let rows = try await store.traceSpans(traceIDs: roots.map(\.traceID))
            let trees = Dictionary(grouping: rows.compactMap(StoredSpanCoding.span), by: \.traceID)
                .mapValues(TraceSpanTree.init)
            for root in roots where listing.runs.count < filter.limit {
                // A run that ended while we paged shifts the pages by one: skip what we saw.
                guard seen.insert(root.traceID + "/" + root.spanID).inserted else { continue }
                let spans = trees[root.traceID]?.subtree(of: root.spanID) ?? []
                guard let rootSpan = spans.first else { continue }
                let summary = TraceRunSummary(root: rootSpan, agent: root.agent, spans: spans)
                if filter.admits(summary) { listing.runs.append(summary) }
            }
        }
        listing.isScanCapped = !isExhausted && filter.status != nil && listing.runs.count < filter.limit
        return listing
    }

    /// A trace by its full id or a unique abbreviation (at least `minimumPrefixLength` hex digits).
    public func resolve(_ reference: String) async throws -> TraceReference {
        let prefix = reference.lowercased()
        let isHex = prefix.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        guard isHex, (Self.minimumPrefixLength...32).contains(prefix.count) else { return .invalid }
        let matches = try await store.traceIDs(withPrefix: prefix, limit: 5)
        switch matches.count {
        case 0: return .notFound
        case 1: return .found(traceID: matches[0])
        default: return matches.contains(prefix) ? .found(traceID: prefix) : .ambiguous(matches)
        }
    }

    /// A trace's summary and spans; nil when the store has no span of it.
    public func run(traceID: String) async throws -> TraceRunDetail? {
        TraceRunDetail(rows: try await store.traceSpans(traceID: traceID))
    }
}
