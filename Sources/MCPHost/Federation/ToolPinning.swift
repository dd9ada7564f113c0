internal import Crypto
public import GatehouseJSON
internal import Synchronization

/// A tool definition's pin: the hash of what an admin accepted (at first sight, or by approval).
public struct ToolPinRecord: Sendable, Equatable {
    public let server: String
    public let tool: String
    public let approvedHash: String

    public init(server: String, tool: String, approvedHash: String) {
        self.server = server
        self.tool = tool
        self.approvedHash = approvedHash
    }
}

/// Where pins outlive the process (the executable backs it with the store).
public protocol ToolPinStore: Sendable {
    func loadToolPins() async throws -> [ToolPinRecord]
    func saveToolPin(_ record: ToolPinRecord) async throws
}

/// The state of one tool against its pin.
public enum ToolPinState: String, Sendable, Equatable {
    /// The definition is the approved one (recorded at first sight or approved since).
    case approved
    /// The definition differs from the approved one.
    case changed
}

/// Tool-definition pinning, against "rug-pull" poisoning: the hash of each tool's name,
/// description and schemas is recorded the first time it is seen; a later, different definition
/// is reported as `changed` until an admin approves it.
public final class ToolPinRegistry: Sendable {
    private let store: (any ToolPinStore)?
    private let pins = Mutex<[Key: String]>([:])

    private struct Key: Hashable {
        let server: String
        let tool: String
    }

    public init(store: (any ToolPinStore)?) {
        self.store = store
    }

    /// Loads the pins recorded by earlier runs.
    public func load() async throws {
        guard let store else { return }
        let records = try await store.loadToolPins()
        pins.withLock { pins in
            for record in records { pins[Key(server: record.server, tool: record.tool)] = record.approvedHash }
        }
    }

    /// Compares a definition with its pin, recording it when it is the first one seen.
    func observe(server: String, tool: String, hash: String) async throws -> (state: ToolPinState, approvedHash: String)
    {
        let key = Key(server: server, tool: tool)
        let (approved, isNew) = pins.withLock { pins -> (String, Bool) in
            if let approved = pins[key] { return (approved, false) }
            pins[key] = hash
            return (hash, true)
        }
        if isNew { try await store?.saveToolPin(ToolPinRecord(server: server, tool: tool, approvedHash: hash)) }
        return (approved == hash ? .approved : .changed, approved)
    }

    /// Accepts a definition as the approved one.
    func approve(server: String, tool: String, hash: String) async throws {
        try await store?.saveToolPin(ToolPinRecord(server: server, tool: tool, approvedHash: hash))
        pins.withLock { $0[Key(server: server, tool: tool)] = hash }
    }

    /// The pinned hash of a tool definition: SHA-256 over the canonical JSON (keys sorted at every
    /// level) of its `name`, `description`, `inputSchema` and `outputSchema`, as the server sent them.
    public static func definitionHash(of tool: JSONObject) -> String {
        var pinned = JSONObject()
        for key in ["name", "description", "inputSchema", "outputSchema"] {
            if let value = tool[key] { pinned[key] = value }
        }
        return SHA256.hash(data: canonical(.object(pinned)).serialized()).map { hexByte($0) }.joined()
    }

    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            let members = object.members.map { JSONObject.Member(key: $0.key, value: canonical($0.value)) }
            return .object(
                JSONObject(members: members.sorted { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) })
            )
        case .array(let items):
            return .array(items.map(canonical))
        default:
            return value
        }
    }
}

/// Two lowercase hex digits.
private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}
