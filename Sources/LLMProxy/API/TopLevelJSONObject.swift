internal import GatehouseJSON
public import NIOCore

/// Finds the members of a JSON object's top level without decoding the rest, so the proxy path
/// can read `model` and `stream` and splice a changed value into the original bytes.
///
/// It checks structure only as far as it needs to skip values (strings with escapes, nesting);
/// a body it cannot walk is reported as invalid and the client gets a 400.
public struct TopLevelJSONObject: Sendable {
    public struct Member: Sendable {
        public let key: String
        /// Byte range of the value within the body's readable bytes.
        public let valueRange: Range<Int>
    }

    public let members: [Member]
    /// Offset of the opening brace and of the closing brace.
    public let openBrace: Int
    public let closeBrace: Int

    public struct Invalid: Error, Sendable {
        public let offset: Int
    }

    public init(scanning body: ByteBuffer) throws(Invalid) {
        let result = body.withUnsafeReadableBytes { bytes in Self.scan(bytes) }
        switch result {
        case .success(let scanned):
            self = scanned
        case .failure(let invalid):
            throw invalid
        }
    }

    private init(members: [Member], openBrace: Int, closeBrace: Int) {
        self.members = members
        self.openBrace = openBrace
        self.closeBrace = closeBrace
    }

    public func member(_ key: String) -> Member? {
        members.first { $0.key == key }
    }

    private static func scan(_ bytes: UnsafeRawBufferPointer) -> Result<TopLevelJSONObject, Invalid> {
        var index = 0
        func skipWhitespace() {
            while index < bytes.count,
                bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09
            {
                index += 1
            }
        }
        /// Moves past a string starting at `index` (its opening quote); false if unterminated.
        func skipString() -> Bool {
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                default: index += 1
                }
            }
            return false
        }
        func skipValue() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        if !skipString() { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default:
                        break
                    }
                    index += 1
                }
                return false
            default:
                // Numbers and literals run until a structural character or whitespace.
                let start = index
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                        || byte == 0x20
                        || byte == 0x0A || byte == 0x0D || byte == 0x09
                    {
                        break
                    }
                    index += 1
                }
                return index > start
            }
        }

        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return .failure(Invalid(offset: index)) }
        let openBrace = index
        index += 1
        var members: [Member] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            return .success(TopLevelJSONObject(members: [], openBrace: openBrace, closeBrace: index))
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                return .failure(Invalid(offset: index))
            }
            let keyStart = index
            guard skipString() else { return .failure(Invalid(offset: index)) }
            let rawKey = UnsafeRawBufferPointer(rebasing: bytes[(keyStart + 1)..<(index - 1)])
            let key: String
            if rawKey.contains(UInt8(ascii: "\\")) {
                // Decode escapes so `"mod\u0065l"` is recognised as `model`.
                guard
                    case .string(let decoded)? = try? JSONValue.parse(
                        UnsafeRawBufferPointer(rebasing: bytes[keyStart..<index])
                    )
                else { return .failure(Invalid(offset: keyStart)) }
                key = decoded
            } else {
                key = String(decoding: rawKey, as: UTF8.self)
            }
            // A repeated key would let the gateway route on one value while the provider reads another.
            guard !members.contains(where: { $0.key == key }) else { return .failure(Invalid(offset: keyStart)) }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                return .failure(Invalid(offset: index))
            }
            index += 1
            skipWhitespace()
            let valueStart = index
            guard skipValue() else { return .failure(Invalid(offset: index)) }
            members.append(Member(key: key, valueRange: valueStart..<index))
            skipWhitespace()
            guard index < bytes.count else { return .failure(Invalid(offset: index)) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return .failure(Invalid(offset: index)) }
            let closeBrace = index
            index += 1
            skipWhitespace()
            guard index == bytes.count else { return .failure(Invalid(offset: index)) }
            return .success(TopLevelJSONObject(members: members, openBrace: openBrace, closeBrace: closeBrace))
        }
    }
}

/// Rewrites a JSON body by replacing or inserting top-level members, copying every other byte as it was.
public struct JSONBodyEditor {
    private var replacements: [(key: String, range: Range<Int>, bytes: [UInt8])] = []
    private var keysSet: [String] = []
    private let body: ByteBuffer
    private let object: TopLevelJSONObject

    public init(body: ByteBuffer, object: TopLevelJSONObject) {
        self.body = body
        self.object = object
    }

    /// Replaces the value of an existing member, or adds the member at the start of the object.
    public mutating func set(_ key: String, rawValue: [UInt8]) {
        if let previous = keysSet.firstIndex(of: key) {
            // Setting a key again replaces the earlier edit instead of writing both.
            keysSet.remove(at: previous)
            replacements.removeAll { $0.key == key }
        }
        keysSet.append(key)
        if let member = object.member(key) {
            replacements.append((key, member.valueRange, rawValue))
            return
        }
        var inserted: [UInt8] = []
        let insertionPoint = object.openBrace + 1
        // Insertions all land right after `{`: each is followed by a comma unless it is the
        // only thing the object will contain.
        let isAlone = object.members.isEmpty && !replacements.contains { $0.range.lowerBound == insertionPoint }
        JSONValue.writeString(key, into: &inserted)
        inserted.append(UInt8(ascii: ":"))
        inserted.append(contentsOf: rawValue)
        if !isAlone { inserted.append(UInt8(ascii: ",")) }
        replacements.insert((key, insertionPoint..<insertionPoint, inserted), at: 0)
    }

    public func edited() -> ByteBuffer {
        guard !replacements.isEmpty else { return body }
        // Stable order: insertions (listed first, newest first) precede replacements at the same offset.
        let sorted = replacements.enumerated().sorted {
            ($0.element.range.lowerBound, $0.offset) < ($1.element.range.lowerBound, $1.offset)
        }.map(\.element)
        var output = ByteBuffer()
        output.reserveCapacity(body.readableBytes + sorted.reduce(0) { $0 + $1.bytes.count })
        var cursor = 0
        for replacement in sorted {
            if let slice = body.getSlice(at: body.readerIndex + cursor, length: replacement.range.lowerBound - cursor) {
                var slice = slice
                output.writeBuffer(&slice)
            }
            output.writeBytes(replacement.bytes)
            cursor = replacement.range.upperBound
        }
        if let slice = body.getSlice(at: body.readerIndex + cursor, length: body.readableBytes - cursor) {
            var slice = slice
            output.writeBuffer(&slice)
        }
        return output
    }
}
