/// A JSON document as a value, for the routes that must change a body (translation between
/// client APIs, request rewriting). Numbers keep their literal text and objects keep their key
/// order, so what passes through unchanged is written back exactly as the client or provider sent it.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text, as it appeared (`1`, `0.70`, `-2e-3`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public init(_ integer: Int) { self = .number(String(integer)) }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The number as an integer, if it is one (no fraction, no exponent, in range).
    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Member lookup on objects; nil for anything else or a missing key.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

/// A JSON object with its members in document order. Lookups are linear: the objects a gateway
/// edits have a handful of keys, and order preservation matters more than asymptotics here.
public struct JSONObject: Sendable, Equatable {
    public private(set) var members: [Member]

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    public init() { self.members = [] }

    public init(_ pairs: KeyValuePairs<String, JSONValue>) {
        self.members = pairs.map { Member(key: $0.key, value: $0.value) }
    }

    public init(members: [Member]) { self.members = members }

    public var keys: [String] { members.map(\.key) }
    public var isEmpty: Bool { members.isEmpty }

    /// Reading returns the first member with the key. Writing replaces it in place (keeping its
    /// position), appends a new key at the end, or removes the key when set to nil.
    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue {
                    members[index].value = newValue
                } else {
                    members.remove(at: index)
                }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let index = members.firstIndex(where: { $0.key == key }) else { return nil }
        return members.remove(at: index).value
    }
}
