public import GatehouseCore
public import GatehouseJSON
internal import Synchronization

/// What a session-era client's session carries between requests.
public final class MCPSession: Sendable {
    /// Cryptographically random, 64 hex digits (visible ASCII, as the transport requires).
    public let id: String
    /// Who opened it (the agent and the credential it used): a session id never authenticates,
    /// and another agent, or the same agent with another key, presenting it gets 404.
    public let owner: Identity

    public var agent: String { owner.agentName }
    /// `nil` for `/mcp`, the server's name for `/mcp/{server}`.
    public let scope: String?
    public let version: MCPProtocolVersion
    public let clientCapabilities: JSONObject
    /// The client, as a `ClientToken` for the upstream request tables.
    public let client: ClientToken
    /// Server notifications for the session's GET stream.
    let notifications = Mailbox<SessionEvent>(capacity: 64)
    private let lastUsed: Mutex<ContinuousClock.Instant>

    enum SessionEvent: Sendable {
        case message(JSONRPCMessage)
        /// The session ended (DELETE, eviction, shutdown): the GET stream closes.
        case end
    }

    init(
        id: String,
        owner: Identity,
        scope: String?,
        version: MCPProtocolVersion,
        clientCapabilities: JSONObject,
        client: ClientToken
    ) {
        self.id = id
        self.owner = owner
        self.scope = scope
        self.version = version
        self.clientCapabilities = clientCapabilities
        self.client = client
        self.lastUsed = Mutex(.now)
    }

    var lastUse: ContinuousClock.Instant { lastUsed.withLock { $0 } }
    func touch() { lastUsed.withLock { $0 = .now } }
}

/// The open sessions, bounded: past `maximumSessions` the least recently used is dropped, and a
/// session idle longer than `idleTimeout` is forgotten when next looked up.
final class MCPSessionTable: Sendable {
    private let sessions = Mutex<[String: MCPSession]>([:])
    private let maximumSessions: Int
    private let idleTimeout: Duration
    private let nextClient = Atomic<UInt64>(1)
    /// Told the id of every session that ends (closed, evicted, expired), so what was kept about
    /// it elsewhere (session rules' memory) ends with it.
    private let onEnd: @Sendable (String) -> Void

    init(maximumSessions: Int, idleTimeout: Duration, onEnd: @escaping @Sendable (String) -> Void = { _ in }) {
        self.maximumSessions = maximumSessions
        self.idleTimeout = idleTimeout
        self.onEnd = onEnd
    }

    func open(
        owner: Identity,
        scope: String?,
        version: MCPProtocolVersion,
        clientCapabilities: JSONObject
    )
        -> MCPSession
    {
        let session = MCPSession(
            id: Self.randomID(),
            owner: owner,
            scope: scope,
            version: version,
            clientCapabilities: clientCapabilities,
            client: newClientToken()
        )
        let evicted = sessions.withLock { sessions -> MCPSession? in
            var evicted: MCPSession?
            if sessions.count >= maximumSessions, let oldest = sessions.values.min(by: { $0.lastUse < $1.lastUse }) {
                sessions[oldest.id] = nil
                evicted = oldest
            }
            sessions[session.id] = session
            return evicted
        }
        if let evicted {
            evicted.notifications.post(.end)
            onEnd(evicted.id)
        }
        return session
    }

    /// A token for a client without a session (a 2026 request).
    func newClientToken() -> ClientToken {
        ClientToken(nextClient.wrappingAdd(1, ordering: .relaxed).oldValue + 1_000_000)
    }

    /// The session, if it exists, belongs to `owner` on this endpoint and is not idle past its timeout.
    func lookup(_ id: String, owner: Identity, scope: String?) -> MCPSession? {
        var expired = false
        let found = sessions.withLock { sessions -> MCPSession? in
            guard let session = sessions[id] else { return nil }
            if session.lastUse.advanced(by: idleTimeout) < .now {
                sessions[id] = nil
                expired = true
                return nil
            }
            return session
        }
        if expired { onEnd(id) }
        guard let found, found.owner == owner, found.scope == scope else { return nil }
        found.touch()
        return found
    }

    @discardableResult
    func close(_ id: String, owner: Identity, scope: String?) -> Bool {
        guard let session = lookup(id, owner: owner, scope: scope) else { return false }
        sessions.withLock { $0[id] = nil }
        session.notifications.post(.end)
        onEnd(id)
        return true
    }

    var all: [MCPSession] { sessions.withLock { Array($0.values) } }

    func closeAll() {
        let all = sessions.withLock { sessions -> [MCPSession] in
            defer { sessions = [:] }
            return Array(sessions.values)
        }
        for session in all {
            session.notifications.post(.end)
            onEnd(session.id)
        }
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            for shift in stride(from: 60, through: 0, by: -4) {
                bytes.append(digits[Int((word >> UInt64(shift)) & 0xf)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
