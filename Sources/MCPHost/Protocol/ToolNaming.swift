/// Names of federated tools: `{server}__{tool}`, always prefixed, so two servers never shadow one
/// another. A name must satisfy both MCP (SHOULD be 1–128 of `[A-Za-z0-9_.-]`) and OpenAI
/// function names (`^[a-zA-Z0-9_-]{1,64}$`, no dot), since agents hand the list to a model.
/// Names that already fit pass through readably. Any other (a character outside the set, or too
/// long) becomes the sanitized name cut short plus `_` and a stable hash of the exact original
/// pair, so distinct originals that sanitize alike (`a.b`, `a_b`) stay distinct.
public enum FederatedToolName {
    public static let separator = "__"
    public static let maximumLength = 64
    /// Long enough to stay readable, short enough that the prefix survives any shortening intact.
    public static let maximumServerPrefixLength = 32
    static let shortHashLength = 8
    static let longHashLength = 16

    /// Nil when `server` can be a prefix; otherwise why not. A prefix is 1–32 characters of
    /// `[A-Za-z0-9_-]`, starts with a letter or digit, and neither contains `__` nor ends in `_`:
    /// then the first `__` of a federated name always ends its prefix, so servers with distinct
    /// prefixes can never produce the same name.
    public static func problem(withServerPrefix server: String) -> String? {
        let bytes = Array(server.utf8)
        guard let first = bytes.first, bytes.count <= maximumServerPrefixLength else {
            return "a server prefix has 1 to \(maximumServerPrefixLength) characters"
        }
        guard bytes.allSatisfy(isAllowed) else { return "a server prefix uses only A-Z, a-z, 0-9, '_' and '-'" }
        guard isAlphanumeric(first) else { return "a server prefix starts with a letter or a digit" }
        guard !server.contains(separator), bytes.last != UInt8(ascii: "_") else {
            return "a server prefix neither contains \"__\" nor ends with '_'"
        }
        return nil
    }

    /// The federated name of a tool, without regard to the server's other tools. `server` must be
    /// a valid prefix (`problem(withServerPrefix:)` is nil). `ToolNameTable` settles the rare
    /// collisions this leaves.
    public static func make(server: String, upstreamToolName: String) -> String {
        make(server: server, upstreamToolName: upstreamToolName, hashLength: shortHashLength)
    }

    static func make(server: String, upstreamToolName: String, hashLength: Int) -> String {
        let plain = server + separator + upstreamToolName
        let plainBytes = Array(plain.utf8)
        if plainBytes.count <= maximumLength, plainBytes.allSatisfy(isAllowed) { return plain }
        let sanitized = plainBytes.map { isAllowed($0) ? $0 : UInt8(ascii: "_") }
        let kept = sanitized.prefix(maximumLength - 1 - hashLength)
        return String(decoding: kept, as: UTF8.self) + "_"
            + hash(server: server, tool: upstreamToolName, length: hashLength)
    }

    /// Whether a name satisfies both rules (`^[a-zA-Z0-9_-]{1,64}$`).
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= maximumLength && bytes.allSatisfy(isAllowed)
    }

    static func isAllowed(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }

    /// Lowercase hex of a 64-bit FNV-1a hash of `server`, a NUL and `tool`, finished with the
    /// MurmurHash3 mixer so the leading digits depend on every input byte. Stable across runs and
    /// platforms (unlike `Hasher`), so a tool keeps its name across restarts.
    static func hash(server: String, tool: String, length: Int) -> String {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in server.utf8 + [0] + tool.utf8 {
            state ^= UInt64(byte)
            state = state &* 0x0000_0100_0000_01b3
        }
        state ^= state >> 33
        state = state &* 0xff51_afd7_ed55_8ccd
        state ^= state >> 33
        state = state &* 0xc4ce_b9fe_1a85_ec53
        state ^= state >> 33
        let hex = String(state, radix: 16)
        let full = String(repeating: "0", count: 16 - hex.count) + hex
        return String(full.prefix(length))
    }
}

/// The federated names of every tool of every server, and the way back from a federated name to
/// the server that owns the tool. Built from the same pairs, it gives the same names whatever
/// their order.
public struct ToolNameTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let server: String
        public let upstreamToolName: String
        public let federatedToolName: String
    }

    public struct Rejection: Sendable, Equatable {
        public let server: String
        public let upstreamToolName: String
        public let reason: String
    }

    /// Sorted by federated name.
    public let entries: [Entry]
    /// Pairs left out: an invalid server prefix, or a name no hash length could separate.
    public let rejections: [Rejection]
    private let byFederatedName: [String: Int]
    private let byUpstreamName: [UpstreamKey: Int]

    private struct UpstreamKey: Hashable, Sendable {
        let server: String
        let upstreamToolName: String
    }

    /// A pair listed twice counts once. Names that fit as written never collide with each other;
    /// when a shortened name collides (with a tool literally named like it, or on its 8-digit
    /// hash), every colliding shortened name takes the 16-digit hash form. Pairs that still
    /// collide are all rejected, so no pair ever wins by arriving first.
    public init(_ tools: [(server: String, upstreamToolName: String)]) {
        var rejections: [Rejection] = []
        var keys = Set<UpstreamKey>()
        for tool in tools {
            if let problem = FederatedToolName.problem(withServerPrefix: tool.server) {
                rejections.append(
                    Rejection(server: tool.server, upstreamToolName: tool.upstreamToolName, reason: problem)
                )
            } else {
                keys.insert(UpstreamKey(server: tool.server, upstreamToolName: tool.upstreamToolName))
            }
        }
        var names: [UpstreamKey: String] = [:]
        for key in keys {
            names[key] = FederatedToolName.make(server: key.server, upstreamToolName: key.upstreamToolName)
        }
        for key in Self.colliding(names) {
            names[key] = FederatedToolName.make(
                server: key.server,
                upstreamToolName: key.upstreamToolName,
                hashLength: FederatedToolName.longHashLength
            )
        }
        for key in Self.colliding(names) {
            names[key] = nil
            rejections.append(
                Rejection(
                    server: key.server,
                    upstreamToolName: key.upstreamToolName,
                    reason: "its federated name collides with another tool's"
                )
            )
        }
        let entries = names.map {
            Entry(server: $0.key.server, upstreamToolName: $0.key.upstreamToolName, federatedToolName: $0.value)
        }
        .sorted { $0.federatedToolName < $1.federatedToolName }
        self.entries = entries
        self.rejections = rejections.sorted { ($0.server, $0.upstreamToolName) < ($1.server, $1.upstreamToolName) }
        var byFederatedName: [String: Int] = [:]
        var byUpstreamName: [UpstreamKey: Int] = [:]
        for (index, entry) in entries.enumerated() {
            byFederatedName[entry.federatedToolName] = index
            byUpstreamName[UpstreamKey(server: entry.server, upstreamToolName: entry.upstreamToolName)] = index
        }
        self.byFederatedName = byFederatedName
        self.byUpstreamName = byUpstreamName
    }

    /// The owner of a federated name (the name in a client's `tools/call`); nil when unknown.
    public func resolve(_ federatedToolName: String) -> Entry? {
        byFederatedName[federatedToolName].map { entries[$0] }
    }

    /// The federated name of a server's tool (for rewriting `tools/list`).
    public func federatedToolName(server: String, upstreamToolName: String) -> String? {
        byUpstreamName[UpstreamKey(server: server, upstreamToolName: upstreamToolName)].map {
            entries[$0].federatedToolName
        }
    }

    private static func colliding(_ names: [UpstreamKey: String]) -> [UpstreamKey] {
        var owners: [String: [UpstreamKey]] = [:]
        for (key, name) in names { owners[name, default: []].append(key) }
        return owners.values.filter { $0.count > 1 }.flatMap { $0 }
    }
}
