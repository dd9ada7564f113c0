/// The database schema as an ordered list of forward migrations. A database records every
/// migration applied to it; opening applies the missing ones in order, each in its own transaction.
/// Later modules append migrations; an applied migration is never edited.
enum StoreSchema {
    struct Migration {
        let version: Int
        let name: String
        let sql: String
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "config_loads",
            sql: """
                CREATE TABLE config_loads (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    loaded_at TEXT NOT NULL,
                    source TEXT NOT NULL,
                    trigger TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    error_count INTEGER NOT NULL
                );
                """
        ),
        Migration(
            version: 2,
            name: "llm_usage",
            sql: """
                CREATE TABLE llm_usage (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    recorded_at TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    model TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    upstream_model TEXT NOT NULL,
                    endpoint TEXT NOT NULL,
                    streamed INTEGER NOT NULL,
                    input_tokens INTEGER NOT NULL,
                    output_tokens INTEGER NOT NULL,
                    cached_input_tokens INTEGER NOT NULL,
                    usage_reported INTEGER NOT NULL,
                    cost_picousd INTEGER NOT NULL,
                    status INTEGER NOT NULL
                );
                CREATE INDEX llm_usage_agent_model ON llm_usage (agent, model);
                """
        ),
        Migration(
            version: 3,
            name: "mcp_tool_pins",
            sql: """
                CREATE TABLE mcp_tool_pins (
                    server TEXT NOT NULL,
                    tool TEXT NOT NULL,
                    approved_hash TEXT NOT NULL,
                    approved_at TEXT NOT NULL,
                    PRIMARY KEY (server, tool)
                );
                """
        ),
        Migration(
            version: 4,
            name: "policy_decisions",
            sql: """
                CREATE TABLE policy_decisions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    decided_at TEXT NOT NULL,
                    request_id TEXT,
                    agent TEXT NOT NULL,
                    plane TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                CREATE INDEX policy_decisions_agent_time ON policy_decisions (agent, decided_at);
                CREATE INDEX policy_decisions_time ON policy_decisions (decided_at);
                """
        ),
        Migration(
            version: 5,
            name: "api_keys",
            sql: """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    agent TEXT NOT NULL,
                    key_hash TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT,
                    revoked_at TEXT
                );
                CREATE TABLE gateway_state (
                    name TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """
        ),
        // Every decision on a call is a row, so each row's write cost is on the request path's
        // CPU: AUTOINCREMENT (a sqlite_sequence update per row) and the time-only index (time
        // filters read the newest rows first in id order, which follows time) cost more than they
        // give. Ids stay increasing: rows are only ever removed from the oldest end.
        Migration(
            version: 6,
            name: "policy_decisions_lean",
            sql: """
                CREATE TABLE policy_decisions_lean (
                    id INTEGER PRIMARY KEY,
                    decided_at TEXT NOT NULL,
                    request_id TEXT,
                    agent TEXT NOT NULL,
                    plane TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                INSERT INTO policy_decisions_lean SELECT * FROM policy_decisions;
                DROP TABLE policy_decisions;
                ALTER TABLE policy_decisions_lean RENAME TO policy_decisions;
                CREATE INDEX policy_decisions_agent_time ON policy_decisions (agent, decided_at);
                """
        ),
        // The local trace store: every exported span of a run, for the viewer and `gatehouse
        // traces`. Start and end are Unix nanoseconds; attributes, events and links are the
        // span's JSON. Runs are listed by their root span (no parent within the trace's run).
        Migration(
            version: 7,
            name: "trace_spans",
            sql: """
                CREATE TABLE trace_spans (
                    id INTEGER PRIMARY KEY,
                    trace_id TEXT NOT NULL,
                    span_id TEXT NOT NULL,
                    parent_span_id TEXT,
                    is_run_root INTEGER NOT NULL,
                    agent TEXT NOT NULL,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    start_ns INTEGER NOT NULL,
                    end_ns INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX trace_spans_trace ON trace_spans (trace_id, start_ns);
                CREATE INDEX trace_spans_runs ON trace_spans (is_run_root, start_ns);
                """
        ),
        // Runs are listed by their root spans only: an index of roots alone spares every other
        // span (most of them) an index entry on the write path. Lists ask for `is_run_root = 1`,
        // which lets SQLite use it.
        Migration(
            version: 8,
            name: "trace_spans_root_index",
            sql: """
                DROP INDEX trace_spans_runs;
                CREATE INDEX trace_spans_roots ON trace_spans (start_ns) WHERE is_run_root = 1;
                """
        ),
        // A trace's other spans from one write, in one row (`TraceSpanBatch`): a row and an index
        // entry per written trace instead of per span. Its id is the sequence number of its last
        // span, in the one sequence `trace_spans` ids also follow, so the size rule removes the
        // oldest written of both by id.
        Migration(
            version: 9,
            name: "trace_span_batches",
            sql: """
                CREATE TABLE trace_span_batches (
                    id INTEGER PRIMARY KEY,
                    trace_id TEXT NOT NULL,
                    span_count INTEGER NOT NULL,
                    end_ns INTEGER NOT NULL,
                    spans BLOB NOT NULL
                );
                CREATE INDEX trace_span_batches_trace ON trace_span_batches (trace_id);
                """
        ),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    static func migrate(_ connection: SQLiteConnection) throws {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            );
            """
        )
        let applied = try appliedVersion(connection)
        guard applied <= latestVersion else {
            throw StoreError(
                kind: .newerSchema,
                path: connection.path,
                reason: "has schema version \(applied), newer than this build's \(latestVersion); run a newer gatehouse"
            )
        }
        let record = try connection.prepare("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
        for migration in migrations where migration.version > applied {
            try connection.transaction { () throws in
                try connection.execute(migration.sql)
                try record.run([.integer(Int64(migration.version)), .text(migration.name)])
            }
        }
    }

    static func appliedVersion(_ connection: SQLiteConnection) throws -> Int {
        let rows = try connection.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").run()
        guard case .integer(let version) = rows.first?.first else { return 0 }
        return Int(version)
    }
}
