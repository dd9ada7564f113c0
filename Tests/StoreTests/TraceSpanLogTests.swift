import Foundation
import Logging
import Store
import Testing

private let logger = Logger(label: "gatehouse.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite("Trace store")
struct TraceSpanLogTests {
    func span(
        _ trace: String,
        _ id: String,
        parent: String?,
        root: Bool = false,
        agent: String = "demo",
        start: Int64
    )
        -> StoredSpan
    {
        StoredSpan(
            traceID: trace,
            spanID: id,
            parentSpanID: parent,
            isRunRoot: root,
            agent: agent,
            name: root ? "invoke_agent \(agent)" : "chat gpt-4o-mini",
            kind: root ? "internal" : "client",
            startNanoseconds: start,
            endNanoseconds: start + 10,
            status: "unset",
            // Both kinds of detail read back as written: text (older rows) and bytes (with a zero byte).
            detail: root ? .text(#"{"attributes":{}}"#) : .bytes([0x0a, 0x02, 0x00, 0xff])
        )
    }

    /// Runs `body` with a store in a fresh temporary folder, closed and removed afterwards.
    func withStore(_ body: (Store) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-traces-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await Store.open(path: folder.appendingPathComponent("g.db").path, logger: logger)
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test func runsAreListedByTheirRootAndATraceReadsBackInStartOrder() async throws {
        try await withStore { (store: Store) async throws in
            try await store.recordSpans([
                span("t1", "c2", parent: "r1", start: 300),
                span("t1", "c1", parent: "r1", start: 200),
                span("t1", "r1", parent: nil, root: true, start: 100),
                span("t2", "r2", parent: "outside", root: true, agent: "other", start: 500),
            ])
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["r2", "r1"])
            #expect(try await store.traceRuns(TraceRunQuery(agent: "demo")).map(\.spanID) == ["r1"])
            #expect(try await store.traceRuns(TraceRunQuery(sinceNanoseconds: 400)).map(\.spanID) == ["r2"])
            // Lists of runs read the index of root spans (other spans have no entry in it).
            let plan = try await store.read { connection in
                try connection.prepare(
                    "EXPLAIN QUERY PLAN SELECT span_id FROM trace_spans WHERE is_run_root = 1 AND agent = ? "
                        + "ORDER BY start_ns DESC, id DESC LIMIT 10"
                ).run([.text("demo")])
            }
            #expect(plan.contains { $0.contains(.text("SCAN trace_spans USING INDEX trace_spans_roots")) })
            let spans = try await store.traceSpans(traceID: "t1")
            #expect(spans.map(\.spanID) == ["r1", "c1", "c2"])
            #expect(spans[0].isRunRoot && spans[0].parentSpanID == nil && spans[1].parentSpanID == "r1")
            #expect(spans[1] == span("t1", "c1", parent: "r1", start: 200))
            #expect(spans[0] == span("t1", "r1", parent: nil, root: true, start: 100))
            #expect(spans[1].detail == .bytes([0x0a, 0x02, 0x00, 0xff]))

            // Retention by age, then by count (oldest first).
            #expect(try await store.pruneTraceSpans(olderThanNanoseconds: 150, maximumSpans: 100) == 1)
            #expect(try await store.traceSpans(traceID: "t1").map(\.spanID) == ["c1", "c2"])
            #expect(try await store.pruneTraceSpans(olderThanNanoseconds: 0, maximumSpans: 1) == 2)
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["r2"])
        }
    }

    @Test func severalTracesReadInOneCallAndIdsByPrefix() async throws {
        try await withStore { (store: Store) async throws in
            try await store.recordSpans([
                span("aa01", "c1", parent: "r1", start: 20),
                span("aa01", "r1", parent: nil, root: true, start: 10),
                span("aa02", "r2", parent: nil, root: true, start: 30),
                span("ab03", "r3", parent: nil, root: true, start: 40),
            ])
            let spans = try await store.traceSpans(traceIDs: ["ab03", "aa01", "aa01", "missing"])
            #expect(spans.map(\.spanID) == ["r1", "c1", "r3"])
            #expect(try await store.traceSpans(traceIDs: []).isEmpty)
            // More ids than one statement binds.
            let many = (0..<1200).map { "x\($0)" } + ["ab03"]
            #expect(try await store.traceSpans(traceIDs: many).map(\.spanID) == ["r3"])

            #expect(try await store.traceIDs(withPrefix: "aa", limit: 5) == ["aa01", "aa02"])
            #expect(try await store.traceIDs(withPrefix: "aa", limit: 1) == ["aa01"])
            #expect(try await store.traceIDs(withPrefix: "ab03", limit: 5) == ["ab03"])
            #expect(try await store.traceIDs(withPrefix: "b", limit: 5).isEmpty)
            #expect(try await store.traceIDs(withPrefix: "", limit: 5).isEmpty)

            // Pages of runs: newest first, `offset` skips the newest.
            #expect(try await store.traceRuns(TraceRunQuery(limit: 2)).map(\.spanID) == ["r3", "r2"])
            #expect(try await store.traceRuns(TraceRunQuery(limit: 2, offset: 2)).map(\.spanID) == ["r1"])
            #expect(try await store.traceRuns(TraceRunQuery(limit: 2, offset: 3)).isEmpty)
        }
    }

    @Test func aFullStoreKeepsItsSizeWithEveryBatchOldestFirst() async throws {
        try await withStore { (store: Store) async throws in
            func batch(_ range: Range<Int>) -> [StoredSpan] {
                range.map { span("t\($0)", "s\($0)", parent: nil, root: true, start: Int64($0)) }
            }
            // Under the limit: nothing goes.
            #expect(try await store.recordSpans(batch(0..<3), keepingAtMost: 5) == 0)
            // Each batch past it removes as many of the oldest as it brings.
            #expect(try await store.recordSpans(batch(3..<7), keepingAtMost: 5) == 2)
            #expect(try await store.recordSpans(batch(7..<9), keepingAtMost: 5) == 2)
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["s8", "s7", "s6", "s5", "s4"])
            // A span that ended early, written among newer ones, goes by age and leaves a gap in the
            // ids: the size rule then keeps fewer spans than its limit, never more.
            let early = span("early", "e", parent: nil, root: true, start: 0)
            let around = [span("t9", "s9", parent: nil, root: true, start: 9), early] + batch(10..<11)
            #expect(try await store.recordSpans(around, keepingAtMost: 5) == 3)
            #expect(try await store.pruneTraceSpans(olderThanNanoseconds: 11, maximumSpans: 5) == 1)
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["s10", "s9", "s8", "s7"])
            #expect(try await store.recordSpans(batch(11..<12), keepingAtMost: 4) == 2)
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["s11", "s10", "s9"])
            // A batch larger than the limit keeps its newest.
            #expect(try await store.recordSpans(batch(12..<20), keepingAtMost: 3) == 8)
            #expect(try await store.traceRuns(TraceRunQuery()).map(\.spanID) == ["s19", "s18", "s17"])
        }
    }

    @Test func aTracesOtherSpansFromOneWriteShareARowAndReadBackAsWritten() async throws {
        try await withStore { (store: Store) async throws in
            var text = span("t1", "c3", parent: nil, start: 250)
            text.detail = .text(#"{"attributes":{"é":"ü"}}"#)
            text.status = "error: tool_error"
            let written = [
                span("t1", "c1", parent: "r1", start: 200), span("t2", "d1", parent: "r2", agent: "other", start: 210),
                text, span("t1", "r1", parent: nil, root: true, start: 100), span("t1", "c2", parent: "r1", start: 200),
            ]
            try await store.recordSpans(written)
            // One row per trace for the spans other than roots, one per root.
            let rows = try await store.read { connection in
                try connection.prepare("SELECT trace_id, span_count FROM trace_span_batches ORDER BY id").run()
            }
            #expect(rows == [[.text("t1"), .integer(3)], [.text("t2"), .integer(1)]])
            let spans = try await store.traceSpans(traceID: "t1")
            // Start order; spans starting together keep the order they were written in.
            #expect(spans.map(\.spanID) == ["r1", "c1", "c2", "c3"])
            #expect(spans[1] == written[0] && spans[3] == text && spans[2] == written[4])
            #expect(
                try await store.traceSpans(traceIDs: ["t2", "t1"]).map(\.spanID) == ["r1", "c1", "c2", "c3", "d1"]
            )
            #expect(try await store.traceIDs(withPrefix: "t", limit: 5) == ["t1", "t2"])

            // Rows written before batches (a span other than a root in a row of its own) still read.
            _ = try await store.write { connection in
                try connection.prepare(
                    "INSERT INTO trace_spans (trace_id, span_id, parent_span_id, is_run_root, agent, name, kind, "
                        + "start_ns, end_ns, status, detail) VALUES ('t3', 'old', NULL, 0, 'demo', 'n', 'client', 5, 6, "
                        + "'ok', '{}')"
                ).run()
            }
            #expect(try await store.traceSpans(traceID: "t3").map(\.spanID) == ["old"])
            #expect(try await store.traceIDs(withPrefix: "t3", limit: 5) == ["t3"])

            // A batch that does not read back whole is left out, not read in part.
            _ = try await store.write { connection in
                try connection.prepare("UPDATE trace_span_batches SET spans = x'01020304' WHERE trace_id = 't2'").run()
            }
            #expect(try await store.traceSpans(traceID: "t2").isEmpty)
        }
    }

    @Test func batchesGoWholeByAgeAndBySizeAndAreCountedInSpans() async throws {
        try await withStore { (store: Store) async throws in
            // Sequence: a1 a2 (batch 1-2), root 3, b1 b2 b3 (batch 4-6).
            try await store.recordSpans([
                span("a", "a1", parent: "ra", start: 10), span("a", "a2", parent: "ra", start: 50),
                span("a", "ra", parent: nil, root: true, start: 5),
            ])
            try await store.recordSpans((1...3).map { span("b", "b\($0)", parent: "rb", start: Int64(100 + $0)) })
            // By age: a batch goes once all its spans ended (a1 ends at 20, a2 at 60); the root alone.
            #expect(try await store.pruneTraceSpans(olderThanNanoseconds: 30, maximumSpans: 100) == 1)
            #expect(try await store.traceSpans(traceID: "a").map(\.spanID) == ["a1", "a2"])
            #expect(try await store.pruneTraceSpans(olderThanNanoseconds: 61, maximumSpans: 100) == 2)
            #expect(try await store.traceSpans(traceID: "a").isEmpty)
            // By size: never more than the limit kept; a batch goes whole once its first span is
            // among the oldest past it.
            #expect(try await store.recordSpans([span("c", "c1", parent: "rc", start: 200)], keepingAtMost: 3) == 3)
            #expect(try await store.traceSpans(traceID: "b").isEmpty)
            #expect(try await store.traceSpans(traceID: "c").map(\.spanID) == ["c1"])
            // A trace's spans past the most one row holds go in several rows, and all read back.
            let many = (0..<2500).map { span("d", "d\($0)", parent: "rd", start: Int64(1000 + $0)) }
            try await store.recordSpans(many)
            let rows = try await store.read { connection in
                try connection.prepare("SELECT span_count FROM trace_span_batches WHERE trace_id = 'd' ORDER BY id")
                    .run()
            }
            #expect(rows == [[.integer(1024)], [.integer(1024)], [.integer(452)]])
            #expect(try await store.traceSpans(traceID: "d").map(\.spanID) == many.map(\.spanID))
            #expect(
                try await store.recordSpans([span("e", "e1", parent: "re", start: 9000)], keepingAtMost: 1500) == 1025
            )
            #expect(try await store.traceSpans(traceID: "d").count == 1476)
        }
    }
}
