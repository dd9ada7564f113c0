import Foundation
import Logging
import Testing

@testable import Store

private let logger = Logger(label: "gatehouse.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite("Store migrations")
struct StoreMigrationTests {
    /// A database written by a build whose schema ended at migration 5 keeps its audit rows, their
    /// ids and their order when migration 6 rebuilds the decisions table without AUTOINCREMENT.
    @Test func leanDecisionsTableKeepsEveryRow() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-migration-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("gatehouse.db").path

        let old = try SQLiteConnection(path: path, readOnly: false)
        try old.execute(
            """
            CREATE TABLE schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            );
            """
        )
        for migration in StoreSchema.migrations where migration.version <= 5 {
            try old.execute(migration.sql)
            try old.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), '\(migration.name)')"
            )
        }
        try old.execute(
            """
            INSERT INTO policy_decisions (decided_at, request_id, agent, plane, action, target, decision, rule, reason)
            VALUES ('2026-12-01T00:00:00.000Z', 'r1', 'alpha', 'mcp', 'call_tool', 'files__read', 'allow', 'a.yaml#1', 'ok'),
                   ('2026-12-01T00:00:01.000Z', NULL, 'beta', 'llm', 'call_model', 'gpt-4o', 'deny', 'b.yaml#2', 'no');
            """
        )
        old.close()

        let store = try await Store.open(path: path, logger: logger)
        #expect(try await store.schemaVersion() == 9)
        let rows = try await store.policyDecisions(PolicyDecisionQuery())
        #expect(rows.map(\.id) == [2, 1])
        #expect(rows.map(\.agent) == ["beta", "alpha"])
        #expect(rows.last?.requestID == "r1")
        try await store.recordPolicyDecisions([
            PolicyDecisionRow(
                decidedAt: "2026-12-01T00:00:02.000Z",
                requestID: nil,
                agent: "alpha",
                plane: "mcp",
                action: "call_tool",
                target: "files__read",
                decision: "allow",
                rule: "a.yaml#1",
                reason: "ok"
            )
        ])
        let after = try await store.policyDecisions(PolicyDecisionQuery(agent: "alpha"))
        #expect(after.map(\.id) == [3, 1])
        let autoincrement = try await store.read { connection in
            try connection.prepare("SELECT sql FROM sqlite_master WHERE name = 'policy_decisions'").run()
        }
        guard case .text(let sql)? = autoincrement.first?.first else {
            Issue.record("no policy_decisions table")
            return
        }
        #expect(!sql.contains("AUTOINCREMENT"))
        await store.close()
    }
}
