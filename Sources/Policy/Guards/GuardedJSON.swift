public import GatehouseJSON

/// The text a guard reads in a JSON document, and the document written back with guarded text.
/// Strings are visited in document order; `skipping` names members that hold structure, not
/// content (a message's `role`, a part's `type`, an image's base64 `data`), which are neither
/// checked nor changed.
public struct GuardedJSON: Sendable {
    public let skipping: Set<String>

    public init(skipping: Set<String>) {
        self.skipping = skipping
    }

    /// Tool arguments: every string is content.
    public static let everything = GuardedJSON(skipping: [])
    /// Messages, tool results, resources and prompts: the members that name, type or encode
    /// content rather than being it.
    public static let messageContent = GuardedJSON(skipping: [
        "type", "role", "id", "name", "tool_call_id", "tool_use_id", "call_id", "model", "mimeType", "media_type",
        "uri", "data", "blob", "image_url", "source", "annotations", "_meta", "cache_control", "signature",
        "finish_reason", "stop_reason", "object", "status", "index",
    ])

    public func texts(in value: JSONValue) -> [String] {
        var texts: [String] = []
        collect(value, into: &texts)
        return texts
    }

    private func collect(_ value: JSONValue, into texts: inout [String]) {
        switch value {
        case .string(let text): texts.append(text)
        case .array(let items): for item in items { collect(item, into: &texts) }
        case .object(let object):
            for member in object.members where !skipping.contains(member.key) { collect(member.value, into: &texts) }
        case .null, .bool, .number: break
        }
    }

    /// The document with its strings replaced, in the order `texts(in:)` read them.
    public func replacing(_ value: JSONValue, with texts: [String]) -> JSONValue {
        var iterator = texts.makeIterator()
        return replace(value, from: &iterator)
    }

    private func replace(_ value: JSONValue, from texts: inout IndexingIterator<[String]>) -> JSONValue {
        switch value {
        case .string(let text): return .string(texts.next() ?? text)
        case .array(let items): return .array(items.map { replace($0, from: &texts) })
        case .object(let object):
            return .object(
                JSONObject(
                    members: object.members.map { member in
                        guard !skipping.contains(member.key) else { return member }
                        return JSONObject.Member(key: member.key, value: replace(member.value, from: &texts))
                    }
                )
            )
        case .null, .bool, .number: return value
        }
    }
}
