import Dispatch
import Foundation
import Logging
import Store
import Testing

private let logger = Logger(label: "gatehouse.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh folder under the system's temporary directory, removed when the test ends.
private func withTemporaryFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try await body(folder)
}

/// Runs `body`, expecting a `StoreError`, and returns it (nil, with a recorded issue, if none was thrown).
private func storeError<T>(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> StoreError? {
    do {
        let value = try await body()
        Issue.record("expected a StoreError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

private let startup = ConfigLoadRecord(
    loadedAt: "2026-01-02T03:04:05.000Z",
    source: "/etc/gatehouse/gatehouse.yaml",
    trigger: .startup,
    outcome: .applied,
    errorCount: 0
)
private let reload = ConfigLoadRecord(
    loadedAt: "2026-01-02T04:00:00.000Z",
    source: "/etc/gatehouse/gatehouse.yaml",
    trigger: .reload,
    outcome: .rejected,
    errorCount: 3
)

@Suite("Store")
struct StoreTests {
    @Test func openCreatesTheFileInWALMode() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("nested/gatehouse.db").path
            let store = try await Store.open(path: path, logger: logger)
            #expect(store.path == path)
            #expect(store.isOpen)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
            let mode = try await store.read { connection in try connection.prepare("PRAGMA journal_mode").run() }
            #expect(mode == [[.text("wal")]])
            await store.close()
        }
    }

    @Test func schemaVersionIsTheLatestMigration() async throws {
        try await withTemporaryFolder { folder in
            let store = try await Store.open(path: folder.appendingPathComponent("gatehouse.db").path, logger: logger)
            #expect(try await store.schemaVersion() == 9)
            let tables = try await store.read { connection in
                try connection.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                ).run()
            }
            #expect(
                tables == [
                    [.text("api_keys")], [.text("config_loads")], [.text("gateway_state")], [.text("llm_usage")],
                    [.text("mcp_tool_pins")],
                    [.text("policy_decisions")], [.text("schema_migrations")], [.text("trace_span_batches")],
                    [.text("trace_spans")],
                ]
            )
            await store.close()
        }
    }

    @Test func reopeningKeepsDataNewestFirst() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("gatehouse.db").path
            let store = try await Store.open(path: path, logger: logger)
            try await store.recordConfigLoad(startup)
            try await store.recordConfigLoad(reload)
            #expect(try await store.recentConfigLoads(limit: 10) == [reload, startup])
            await store.close()

            let reopened = try await Store.open(path: path, logger: logger)
            #expect(try await reopened.schemaVersion() == 9)
            #expect(try await reopened.recentConfigLoads(limit: 10) == [reload, startup])
            #expect(try await reopened.recentConfigLoads(limit: 1) == [reload])
            let migrations = try await reopened.read { connection in
                try connection.prepare("SELECT version, name FROM schema_migrations").run()
            }
            #expect(
                migrations == [
                    [.integer(1), .text("config_loads")], [.integer(2), .text("llm_usage")],
                    [.integer(3), .text("mcp_tool_pins")], [.integer(4), .text("policy_decisions")],
                    [.integer(5), .text("api_keys")], [.integer(6), .text("policy_decisions_lean")],
                    [.integer(7), .text("trace_spans")], [.integer(8), .text("trace_spans_root_index")],
                    [.integer(9), .text("trace_span_batches")],
                ]
            )
            await reopened.close()
        }
    }

    @Test func pathUnderARegularFileCannotOpen() async throws {
        try await withTemporaryFolder { folder in
            let blocker = folder.appendingPathComponent("blocker")
            try Data("not a folder".utf8).write(to: blocker)
            let path = blocker.appendingPathComponent("gatehouse.db").path
            let error = try #require(await storeError { try await Store.open(path: path, logger: logger) })
            #expect(error.kind == .cannotOpen)
            #expect(error.path == path)
            #expect(error.description.contains(path))
        }
    }

    @Test func garbageFileIsCorrupt() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("gatehouse.db").path
            let garbage = Data(String(repeating: "this is not a SQLite database\n", count: 200).utf8)
            try garbage.write(to: URL(fileURLWithPath: path))
            let error = try #require(await storeError { try await Store.open(path: path, logger: logger) })
            #expect(error.kind == .corrupt)
            #expect(error.path == path)
            #expect(error.description.contains(path))
            // The file is left as it was, for the operator to move aside.
            #expect(FileManager.default.contents(atPath: path) == garbage)
        }
    }

    @Test func newerSchemaIsRefused() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("gatehouse.db").path
            let store = try await Store.open(path: path, logger: logger)
            try await store.write { connection in
                try connection.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'from_the_future')")
            }
            await store.close()

            let error = try #require(await storeError { try await Store.open(path: path, logger: logger) })
            #expect(error.kind == .newerSchema)
            #expect(error.path == path)
            #expect(error.description.contains(path))
            #expect(error.description.contains("99"))
        }
    }

    @Test func closeTwiceThenWritesAndReadsThrowClosed() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("gatehouse.db").path
            let store = try await Store.open(path: path, logger: logger)
            try await store.recordConfigLoad(startup)
            await store.close()
            await store.close()
            #expect(!store.isOpen)

            let writeError = try #require(await storeError { try await store.recordConfigLoad(reload) })
            #expect(writeError.kind == .closed)
            #expect(writeError.path == path)
            let readError = try #require(await storeError { try await store.recentConfigLoads(limit: 1) })
            #expect(readError.kind == .closed)

            // What was written before closing is in the file.
            let reopened = try await Store.open(path: path, logger: logger)
            #expect(try await reopened.recentConfigLoads(limit: 10) == [startup])
            await reopened.close()
        }
    }

    @Test func failedStatementIsStatementFailed() async throws {
        try await withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("gatehouse.db").path
            let store = try await Store.open(path: path, logger: logger)
            let error = try #require(
                await storeError {
                    try await store.write { connection in try connection.execute("INSERT INTO nowhere VALUES (1)") }
                }
            )
            #expect(error.kind == .statementFailed)
            #expect(error.reason.contains("nowhere"))
            await store.close()
        }
    }

    @Test func readConnectionIsReadOnly() async throws {
        try await withTemporaryFolder { folder in
            let store = try await Store.open(path: folder.appendingPathComponent("gatehouse.db").path, logger: logger)
            let error = try #require(
                await storeError {
                    try await store.read { connection in try connection.execute("DELETE FROM config_loads") }
                }
            )
            #expect(error.kind == .cannotOpen)  // SQLITE_READONLY
            await store.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func writeQueueIsBounded() async throws {
        try await withTemporaryFolder { folder in
            let store = try await Store.open(
                path: folder.appendingPathComponent("gatehouse.db").path,
                writeQueueCapacity: 1,
                logger: logger
            )
            #expect(store.writeQueueCapacity == 1)

            // The first write signals that it holds the writer, then waits until the test releases it.
            let (started, startedContinuation) = AsyncStream<Void>.makeStream()
            let release = DispatchSemaphore(value: 0)
            let holder = Task {
                try await store.write { _ -> Int in
                    startedContinuation.yield()
                    release.wait()
                    return 7
                }
            }
            var startedIterator = started.makeAsyncIterator()
            await startedIterator.next()

            // The one slot is taken, so both further writes are refused at once, without waiting.
            async let second = storeError { try await store.write { _ in 2 } }
            async let third = storeError { try await store.write { _ in 3 } }
            let refused = await [second, third]
            #expect(refused.map { $0?.kind } == [.writeQueueFull, .writeQueueFull])

            release.signal()
            #expect(try await holder.value == 7)

            // With the writer free again, a write is accepted.
            try await store.recordConfigLoad(startup)
            #expect(try await store.recentConfigLoads(limit: 10) == [startup])
            await store.close()
        }
    }
}

@Suite("Store policy decisions")
struct PolicyDecisionLogTests {
    let logger = Logger(label: "test")

    private func row(_ agent: String, _ target: String, _ decision: String, at time: String) -> PolicyDecisionRow {
        PolicyDecisionRow(
            decidedAt: time,
            requestID: "r-\(agent)-\(time)",
            agent: agent,
            plane: "mcp",
            action: "call_tool",
            target: target,
            decision: decision,
            rule: "\(agent).yaml#default-deny",
            reason: "because"
        )
    }

    @Test func decisionsAreFilteredAndNewestFirst() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gh-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await Store.open(path: folder.appendingPathComponent("gatehouse.db").path, logger: logger)
        try await store.recordPolicyDecisions([
            row("a", "files__read", "allow", at: "2026-12-06T10:00:00.000Z"),
            row("a", "mail__send", "deny", at: "2026-12-06T11:00:00.000Z"),
            row("b", "files__read", "limit", at: "2026-12-07T09:00:00.000Z"),
        ])
        let all = try await store.policyDecisions(PolicyDecisionQuery())
        #expect(all.map(\.target) == ["files__read", "mail__send", "files__read"])
        #expect(all.first?.agent == "b" && all.first?.requestID == "r-b-2026-12-07T09:00:00.000Z")
        #expect(try await store.policyDecisions(PolicyDecisionQuery(agent: "a")).count == 2)
        #expect(
            try await store.policyDecisions(PolicyDecisionQuery(target: "files__read", decision: "limit")).count == 1
        )
        #expect(try await store.policyDecisions(PolicyDecisionQuery(since: "2026-12-07")).map(\.agent) == ["b"])
        #expect(
            try await store.policyDecisions(PolicyDecisionQuery(until: "2026-12-06T10:30")).map(\.decision) == ["allow"]
        )
        #expect(try await store.policyDecisions(PolicyDecisionQuery(limit: 1)).count == 1)
        await store.close()
    }
}
