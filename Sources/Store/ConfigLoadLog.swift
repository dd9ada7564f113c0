/// Records each configuration load (startup and reload) and its outcome: an audit trail of who
/// changed the running gateway, and when, that outlives the log files.
public struct ConfigLoadRecord: Sendable, Equatable {
    public enum Trigger: String, Sendable { case startup, reload }
    public enum Outcome: String, Sendable { case applied, rejected }

    public let loadedAt: String
    public let source: String
    public let trigger: Trigger
    public let outcome: Outcome
    public let errorCount: Int

    public init(loadedAt: String, source: String, trigger: Trigger, outcome: Outcome, errorCount: Int) {
        self.loadedAt = loadedAt
        self.source = source
        self.trigger = trigger
        self.outcome = outcome
        self.errorCount = errorCount
    }
}

extension Store {
    public func recordConfigLoad(_ record: ConfigLoadRecord) async throws {
        _ = try await write { connection throws in
            try connection.prepare(
                "INSERT INTO config_loads (loaded_at, source, trigger, outcome, error_count) VALUES (?, ?, ?, ?, ?)"
            ).run([
                .text(record.loadedAt), .text(record.source), .text(record.trigger.rawValue),
                .text(record.outcome.rawValue), .integer(Int64(record.errorCount)),
            ])
        }
    }

    /// The most recent loads, newest first.
    public func recentConfigLoads(limit: Int) async throws -> [ConfigLoadRecord] {
        try await read { connection throws in
            let rows = try connection.prepare(
                "SELECT loaded_at, source, trigger, outcome, error_count FROM config_loads ORDER BY id DESC LIMIT ?"
            ).run([.integer(Int64(limit))])
            return rows.compactMap { row -> ConfigLoadRecord? in
                guard row.count == 5, case .text(let loadedAt) = row[0], case .text(let source) = row[1],
                    case .text(let trigger) = row[2], let trigger = ConfigLoadRecord.Trigger(rawValue: trigger),
                    case .text(let outcome) = row[3], let outcome = ConfigLoadRecord.Outcome(rawValue: outcome),
                    case .integer(let errorCount) = row[4]
                else { return nil }
                return ConfigLoadRecord(
                    loadedAt: loadedAt,
                    source: source,
                    trigger: trigger,
                    outcome: outcome,
                    errorCount: Int(errorCount)
                )
            }
        }
    }
}
