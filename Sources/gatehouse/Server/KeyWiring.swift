internal import Foundation
internal import GatehouseConfig
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import Policy
internal import ServiceLifecycle
internal import Store

/// Keeps the managed key ring in step with the store: keys created or revoked by the admin API
/// apply at once (the route updates the ring itself), and those changed by `gatehouse keys` in
/// another process within `pollInterval`. The gateway says which keys version it applies, and
/// that it is alive, so `gatehouse keys revoke` can wait until the revocation is in force.
struct ManagedKeySync: Service {
    static let pollInterval: Duration = .milliseconds(50)
    static let heartbeatInterval: Duration = .seconds(1)

    let ring: ManagedKeyRing
    let store: Store
    let logger: Logger

    /// Loads the keys once, before the server listens.
    static func loadInitial(into ring: ManagedKeyRing, from store: Store) async throws -> Int {
        let version = try await store.apiKeysVersion()
        ring.replace(with: try await store.apiKeys().compactMap(managedKey))
        try await store.markAPIKeysApplied(version: version, at: UTCTimestamp.now())
        return version
    }

    static func managedKey(_ stored: StoredAPIKey) -> ManagedKey? {
        ManagedKey(
            id: stored.id,
            agent: stored.agent,
            hexHash: stored.keyHash,
            expiresAt: stored.expiresAt.flatMap(UTCTimestamp.date(from:)),
            isRevoked: stored.revokedAt != nil
        )
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var applied = (try? await store.apiKeysVersion()) ?? 0
            var lastHeartbeat = ContinuousClock.now
            while (try? await Task.sleep(for: Self.pollInterval)) != nil {
                do {
                    let version = try await store.apiKeysVersion()
                    if version != applied {
                        ring.replace(with: try await store.apiKeys().compactMap(Self.managedKey))
                        applied = version
                        logger.info("managed API keys reloaded", metadata: ["version": "\(version)"])
                        try await store.markAPIKeysApplied(version: version, at: UTCTimestamp.now())
                        lastHeartbeat = .now
                    } else if ContinuousClock.now - lastHeartbeat >= Self.heartbeatInterval {
                        try await store.markAPIKeysApplied(version: version, at: UTCTimestamp.now())
                        lastHeartbeat = .now
                    }
                } catch {
                    logger.warning("could not read managed API keys from the store", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// What creating a key needs, shared by the admin API and `gatehouse keys create`.
enum ManagedKeyIssuer {
    struct Issued {
        let stored: StoredAPIKey
        let key: String
    }

    static func issue(agent: String, expiresIn: Duration?, store: Store) async throws -> Issued {
        let (id, key) = ManagedKeyFormat.generate()
        let now = Date()
        let expires = expiresIn.map { now.addingTimeInterval(Double($0.components.seconds)) }
        let stored = StoredAPIKey(
            id: id,
            agent: agent,
            keyHash: ManagedKeyFormat.hash(key),
            createdAt: UTCTimestamp.string(from: now),
            expiresAt: expires.map(UTCTimestamp.string(from:)),
            revokedAt: nil
        )
        _ = try await store.createAPIKey(stored)
        return Issued(stored: stored, key: key)
    }

    /// `30d`, `12h`, `90m`: how long a new key lives.
    static func parseLifetime(_ text: String) -> Duration? {
        guard let duration = DurationSyntax.parse(text), duration >= .seconds(60),
            duration <= .seconds(10 * 366 * 86_400)
        else { return nil }
        return duration
    }

    static func status(_ key: StoredAPIKey, now: Date = Date()) -> String {
        if key.revokedAt != nil { return "revoked" }
        if let expires = key.expiresAt.flatMap(UTCTimestamp.date(from:)), expires <= now { return "expired" }
        return "active"
    }
}

/// `/admin/keys`: create (the key is in this one answer only), list (never the key), revoke.
struct KeyAdminRoutes {
    let state: RuntimeState
    let store: Store
    let ring: ManagedKeyRing

    struct KeyView: Encodable {
        let id: String
        let agent: String
        let created_at: String
        let expires_at: String?
        let revoked_at: String?
        let status: String

        init(_ key: StoredAPIKey) {
            id = key.id
            agent = key.agent
            created_at = key.createdAt
            expires_at = key.expiresAt
            revoked_at = key.revokedAt
            status = ManagedKeyIssuer.status(key)
        }

        // Absent values are null, so clients can rely on the shape.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(agent, forKey: .agent)
            try container.encode(created_at, forKey: .created_at)
            try container.encode(expires_at, forKey: .expires_at)
            try container.encode(revoked_at, forKey: .revoked_at)
            try container.encode(status, forKey: .status)
        }

        private enum CodingKeys: String, CodingKey {
            case id, agent, created_at, expires_at, revoked_at, status
        }
    }

    private struct Created: Encodable {
        let key: String
        let id: String
        let agent: String
        let created_at: String
        let expires_at: String?
        let note = "Store the key now: it is shown only once; the gateway keeps only its hash."
    }

    private struct CreateRequest: Decodable {
        let agent: String
        let expires_in: String?
    }

    func register(on admin: RouterGroup<GatehouseRequestContext>) {
        admin.post("keys") { request, context in
            let body = try await request.body.collect(upTo: 64 << 10)
            guard let create = try? JSONDecoder().decode(CreateRequest.self, from: Data(body.readableBytesView)) else {
                throw GatewayError(
                    kind: .badRequest,
                    message: #"Send {"agent": "NAME"} and optionally "expires_in": "30d"."#
                )
            }
            guard state.snapshot.configuration.agents.contains(where: { $0.name == create.agent }) else {
                throw GatewayError(kind: .badRequest, message: "No agent named '\(create.agent)' is configured.")
            }
            var lifetime: Duration?
            if let text = create.expires_in {
                guard let parsed = ManagedKeyIssuer.parseLifetime(text) else {
                    throw GatewayError(
                        kind: .badRequest,
                        message: "expires_in must be a duration from 1m to 10 years, such as 30d."
                    )
                }
                lifetime = parsed
            }
            let issued = try await ManagedKeyIssuer.issue(agent: create.agent, expiresIn: lifetime, store: store)
            if let key = ManagedKeySync.managedKey(issued.stored) { ring.update(key) }
            context.logger.notice(
                "managed API key created",
                metadata: ["key_id": "\(issued.stored.id)", "agent": "\(create.agent)"]
            )
            return try jsonResponse(
                Created(
                    key: issued.key,
                    id: issued.stored.id,
                    agent: issued.stored.agent,
                    created_at: issued.stored.createdAt,
                    expires_at: issued.stored.expiresAt
                ),
                status: .created
            )
        }
        admin.get("keys") { request, _ in
            let agent = request.uri.queryParameters["agent"].map(String.init)
            let keys = try await store.apiKeys().filter { agent == nil || $0.agent == agent }
            return try jsonResponse(["keys": keys.map(KeyView.init)])
        }
        admin.delete("keys/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard try await store.revokeAPIKey(id: id, at: UTCTimestamp.now()) != nil,
                let stored = try await store.apiKeys().first(where: { $0.id == id })
            else {
                throw GatewayError(kind: .notFound, message: "No managed key with id '\(id)'.")
            }
            if let key = ManagedKeySync.managedKey(stored) { ring.update(key) }
            context.logger.notice("managed API key revoked", metadata: ["key_id": "\(id)", "agent": "\(stored.agent)"])
            return try jsonResponse(KeyView(stored))
        }
    }
}
