/// A managed API key as the store keeps it: never the key, only its SHA-256 and its public id.
public struct StoredAPIKey: Sendable, Equatable {
    /// The key's public part (`ghk_3f9a1c2b7d4e`), safe to show and log.
    public var id: String
    public var agent: String
    /// Lowercase hex SHA-256 of the whole key.
    public var keyHash: String
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?

    public init(id: String, agent: String, keyHash: String, createdAt: String, expiresAt: String?, revokedAt: String?) {
        self.id = id
        self.agent = agent
        self.keyHash = keyHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// Managed keys, and the version counter that tells running gateways (and a `keys revoke` in
/// another process) that the set changed.
extension Store {
    static let keysVersionName = "api_keys_version"
    static let keysAppliedName = "api_keys_applied_version"
    static let heartbeatName = "gateway_heartbeat"

    public func createAPIKey(_ key: StoredAPIKey) async throws -> Int {
        try await write { connection throws in
            try connection.transaction { () throws -> Int in
                try connection.prepare(
                    "INSERT INTO api_keys (id, agent, key_hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)"
                ).run([
                    .text(key.id), .text(key.agent), .text(key.keyHash), .text(key.createdAt),
                    key.expiresAt.map { .text($0) } ?? .null,
                ])
                return try Self.bumpKeysVersion(connection)
            }
        }
    }

    /// Marks a key revoked; nil when no such key exists. Returns the new keys version otherwise
    /// (revoking twice keeps the first time).
    public func revokeAPIKey(id: String, at time: String) async throws -> Int? {
        try await write { connection throws in
            try connection.transaction { () throws -> Int? in
                let found = try connection.prepare("SELECT revoked_at FROM api_keys WHERE id = ?").run([.text(id)])
                guard !found.isEmpty else { return nil }
                try connection.prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
                    .run([.text(time), .text(id)])
                return try Self.bumpKeysVersion(connection)
            }
        }
    }

    public func apiKeys() async throws -> [StoredAPIKey] {
        try await read { connection throws in
            let rows = try connection.prepare(
                "SELECT id, agent, key_hash, created_at, expires_at, revoked_at FROM api_keys ORDER BY created_at, id"
            ).run()
            return rows.compactMap { row -> StoredAPIKey? in
                guard row.count == 6, case .text(let id) = row[0], case .text(let agent) = row[1],
                    case .text(let hash) = row[2], case .text(let created) = row[3]
                else { return nil }
                var expires: String?
                var revoked: String?
                if case .text(let text) = row[4] { expires = text }
                if case .text(let text) = row[5] { revoked = text }
                return StoredAPIKey(
                    id: id,
                    agent: agent,
                    keyHash: hash,
                    createdAt: created,
                    expiresAt: expires,
                    revokedAt: revoked
                )
            }
        }
    }

    /// Changes with every key created or revoked, by any process.
    public func apiKeysVersion() async throws -> Int {
        try await read { connection throws in try Self.state(connection, Self.keysVersionName).flatMap(Int.init) ?? 0 }
    }

    /// A running gateway says which keys version it applies, and that it is alive.
    public func markAPIKeysApplied(version: Int, at time: String) async throws {
        _ = try await write { connection throws in
            try connection.transaction { () throws in
                try Self.setState(connection, Self.keysAppliedName, String(version))
                try Self.setState(connection, Self.heartbeatName, time)
            }
        }
    }

    /// What the running gateway (if any) last said: the keys version it applies and when it spoke.
    public func appliedAPIKeys() async throws -> (version: Int, heartbeat: String?) {
        try await read { connection throws in
            (
                try Self.state(connection, Self.keysAppliedName).flatMap(Int.init) ?? 0,
                try Self.state(connection, Self.heartbeatName)
            )
        }
    }

    private static func bumpKeysVersion(_ connection: SQLiteConnection) throws -> Int {
        let next = (try state(connection, keysVersionName).flatMap(Int.init) ?? 0) + 1
        try setState(connection, keysVersionName, String(next))
        return next
    }

    private static func state(_ connection: SQLiteConnection, _ name: String) throws -> String? {
        let rows = try connection.cachedStatement("SELECT value FROM gateway_state WHERE name = ?").run([.text(name)])
        guard case .text(let value) = rows.first?.first else { return nil }
        return value
    }

    private static func setState(_ connection: SQLiteConnection, _ name: String, _ value: String) throws {
        try connection.cachedStatement(
            "INSERT INTO gateway_state (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
        ).run([.text(name), .text(value)])
    }
}
