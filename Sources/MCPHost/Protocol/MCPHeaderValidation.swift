public import GatehouseJSON

/// The request headers Streamable HTTP (2026-07-28) mirrors from the body. Names compare
/// case-insensitively (RFC 9110); values are kept as received.
public struct MCPRequestHeaders: Sendable, Equatable {
    public static let protocolVersion = "MCP-Protocol-Version"
    public static let method = "Mcp-Method"
    public static let name = "Mcp-Name"
    public static let paramPrefix = "Mcp-Param-"

    private var fields: [(name: String, value: String)]

    public init(_ fields: some Sequence<(name: String, value: String)>) {
        self.fields = Array(fields)
    }

    /// Every value of a header, in order (more than one means the request is ambiguous).
    public func values(_ name: String) -> [String] {
        let lowercased = name.lowercased()
        return fields.filter { $0.name.lowercased() == lowercased }.map(\.value)
    }

    public static func == (lhs: MCPRequestHeaders, rhs: MCPRequestHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// One `x-mcp-header` annotation of a tool's `inputSchema`: the argument at `propertyPath` is
/// mirrored into `Mcp-Param-{headerName}`.
public struct MCPToolHeaderBinding: Sendable, Equatable {
    public enum ValueType: String, Sendable, Equatable {
        case string, integer, boolean
    }

    public let headerName: String
    /// The chain of `properties` keys from the schema root to the annotated property.
    public let propertyPath: [String]
    public let valueType: ValueType

    public var fieldName: String { MCPRequestHeaders.paramPrefix + headerName }
}

/// Why a tool's `x-mcp-header` annotations are invalid. Clients must leave such a tool out of
/// `tools/list` (and should log this reason with the tool's name).
public struct MCPToolHeaderBindingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// The `x-mcp-header` annotations of one tool, read once when the tool list is loaded.
public struct MCPToolHeaderBindings: Sendable, Equatable {
    public let bindings: [MCPToolHeaderBinding]

    public static let none = MCPToolHeaderBindings(bindings: [])

    private init(bindings: [MCPToolHeaderBinding]) { self.bindings = bindings }

    /// Reads and checks every annotation: a non-empty RFC 9110 token, unique case-insensitively,
    /// on a `string`, `integer` or `boolean` property reachable from the root through `properties`
    /// keys only. An annotation anywhere else (under `items`, `oneOf`, `$defs`…) invalidates the tool.
    public init(inputSchema: JSONValue) throws(MCPToolHeaderBindingError) {
        var found: [MCPToolHeaderBinding] = []
        try Self.collect(inputSchema, path: [], isReachable: true, into: &found)
        var seen = Set<String>()
        for binding in found where !seen.insert(binding.headerName.lowercased()).inserted {
            throw MCPToolHeaderBindingError(reason: "x-mcp-header \"\(binding.headerName)\" is used twice")
        }
        self.bindings = found
    }

    /// Keywords whose value is an instance, not a schema: an `x-mcp-header` key inside is data.
    private static let instanceKeywords: Set<String> = ["const", "enum", "default", "examples"]
    /// Keywords whose value maps names to schemas.
    private static let schemaMapKeywords: Set<String> = [
        "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
    ]

    private static func collect(
        _ schema: JSONValue,
        path: [String],
        isReachable: Bool,
        into found: inout [MCPToolHeaderBinding]
    ) throws(MCPToolHeaderBindingError) {
        switch schema {
        case .array(let items):
            for item in items { try collect(item, path: path, isReachable: false, into: &found) }
        case .object(let object):
            if let annotation = object["x-mcp-header"] {
                found.append(try binding(annotation, on: object, path: path, isReachable: isReachable))
            }
            for member in object.members where member.key != "x-mcp-header" {
                if instanceKeywords.contains(member.key) { continue }
                if schemaMapKeywords.contains(member.key), let map = member.value.objectValue {
                    for property in map.members {
                        let childReachable = isReachable && member.key == "properties"
                        try collect(
                            property.value,
                            path: path + [property.key],
                            isReachable: childReachable,
                            into: &found
                        )
                    }
                } else {
                    try collect(member.value, path: path, isReachable: false, into: &found)
                }
            }
        default:
            return
        }
    }

    private static func binding(
        _ annotation: JSONValue,
        on property: JSONObject,
        path: [String],
        isReachable: Bool
    ) throws(MCPToolHeaderBindingError) -> MCPToolHeaderBinding {
        guard let headerName = annotation.stringValue, !headerName.isEmpty,
            headerName.utf8.allSatisfy(MCPHeaderValue.isTokenCharacter)
        else {
            throw MCPToolHeaderBindingError(reason: "x-mcp-header must be a non-empty HTTP token")
        }
        guard isReachable, !path.isEmpty else {
            throw MCPToolHeaderBindingError(
                reason: "x-mcp-header \"\(headerName)\" is not reachable through \"properties\" alone"
            )
        }
        var types: [String] = []
        switch property["type"] {
        case .string(let type)?: types = [type]
        case .array(let items)?: types = items.compactMap(\.stringValue).filter { $0 != "null" }
        default: break
        }
        guard types.count == 1, let valueType = MCPToolHeaderBinding.ValueType(rawValue: types[0]) else {
            throw MCPToolHeaderBindingError(
                reason: "x-mcp-header \"\(headerName)\" must be on a string, integer or boolean property"
            )
        }
        return MCPToolHeaderBinding(headerName: headerName, propertyPath: path, valueType: valueType)
    }

    /// The argument a binding mirrors: the value at its exact property path, nil when absent or null.
    func argument(for binding: MCPToolHeaderBinding, in arguments: JSONValue?) -> JSONValue? {
        var value = arguments
        for key in binding.propertyPath { value = value?[key] }
        return value == .null ? nil : value
    }
}

/// Header value encoding for `Mcp-Name` and `Mcp-Param-*`: visible ASCII passes through; anything
/// else (non-ASCII, control characters, leading or trailing whitespace, a value that itself looks
/// like the sentinel) is sent as `=?base64?{Base64 of UTF-8}?=`.
public enum MCPHeaderValue {
    static let sentinelPrefix = "=?base64?"
    static let sentinelSuffix = "?="

    public static func encode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let isPlain =
            !bytes.isEmpty
            && bytes.allSatisfy { (0x20...0x7E).contains($0) }
            && bytes.first != 0x20 && bytes.last != 0x20
            && !isSentinel(text)
        // An empty value is encoded too: many HTTP stacks drop an empty field altogether.
        return isPlain ? text : sentinelPrefix + Base64.encode(bytes) + sentinelSuffix
    }

    /// Strings as themselves, integers in decimal, booleans as `true`/`false`; nil for anything a
    /// header cannot carry (null, a fraction, an object, an array).
    public static func encode(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return encode(text)
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let literal): return DecimalInteger.canonical(literal)
        case .null, .array, .object: return nil
        }
    }

    /// The value a header carries: sentinel values decoded, plain ones as they are. Nil when the
    /// value has characters a field value may not have, or the sentinel holds invalid Base64 or UTF-8.
    public static func decode(_ headerValue: String) -> String? {
        guard headerValue.utf8.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) }) else { return nil }
        guard isSentinel(headerValue) else { return headerValue }
        let payload = headerValue.utf8.dropFirst(sentinelPrefix.utf8.count).dropLast(sentinelSuffix.utf8.count)
        guard let bytes = Base64.decode(payload) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    static func isSentinel(_ text: String) -> Bool {
        text.utf8.count >= sentinelPrefix.utf8.count + sentinelSuffix.utf8.count
            && text.hasPrefix(sentinelPrefix) && text.hasSuffix(sentinelSuffix)
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// The outcome of comparing mirrored headers with the body. A mismatch is answered with HTTP 400
/// and JSON-RPC error -32020 (`headerMismatchError`).
public enum MCPHeaderValidationResult: Sendable, Equatable {
    case valid
    case mismatch(reason: String)

    public var headerMismatchError: JSONRPCErrorObject? {
        guard case .mismatch(let reason) = self else { return nil }
        return JSONRPCErrorObject(code: MCPErrorCode.headerMismatch, message: "Header mismatch: \(reason)")
    }
}

/// Header–body agreement for the 2026-07-28 Streamable HTTP transport. Anyone who routes or
/// authorizes on `Mcp-Method`/`Mcp-Name`/`Mcp-Param-*` must check them against the body first.
public enum MCPHeaderValidation {
    /// The methods whose `Mcp-Name` is required, and the `params` member it mirrors.
    static func nameMember(of method: String) -> String? {
        switch method {
        case "tools/call", "prompts/get": return "name"
        case "resources/read": return "uri"
        default: return nil
        }
    }

    /// Checks `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and the `Mcp-Param-*` headers the
    /// tool's bindings name. Unknown `Mcp-Param-*` headers are ignored (they are forwarded as they
    /// are). For a notification only the headers present are compared: the revision defines none
    /// as required there.
    public static func validate(
        _ headers: MCPRequestHeaders,
        against message: JSONRPCMessage,
        toolHeaders: MCPToolHeaderBindings = .none
    ) -> MCPHeaderValidationResult {
        let isRequired = message.isRequest
        let bodyVersion = message.paramsMeta?[MCPRequestMeta.protocolVersionKey]?.stringValue
        if let failure = compare(
            MCPRequestHeaders.protocolVersion,
            headers,
            body: bodyVersion,
            isRequired: isRequired,
            decodesSentinel: false
        ) {
            return .mismatch(reason: failure)
        }
        guard let method = message.method else { return .mismatch(reason: "the body is not a request") }
        if let failure = compare(
            MCPRequestHeaders.method,
            headers,
            body: method,
            isRequired: isRequired,
            decodesSentinel: false
        ) {
            return .mismatch(reason: failure)
        }
        if let member = nameMember(of: method) {
            let bodyName = message.params?[member]?.stringValue
            if let failure = compare(
                MCPRequestHeaders.name,
                headers,
                body: bodyName,
                isRequired: isRequired,
                decodesSentinel: true
            ) {
                return .mismatch(reason: failure)
            }
        }
        guard method == "tools/call" else { return .valid }
        let arguments = message.params?["arguments"]
        for binding in toolHeaders.bindings {
            let values = headers.values(binding.fieldName)
            let argument = toolHeaders.argument(for: binding, in: arguments)
            guard values.count <= 1 else { return .mismatch(reason: "\(binding.fieldName) appears more than once") }
            switch (values.first, argument) {
            case (nil, nil):
                continue
            case (nil, .some):
                return .mismatch(reason: "\(binding.fieldName) is missing")
            case (.some, nil):
                return .mismatch(reason: "\(binding.fieldName) is present but the argument is absent")
            case (let header?, let argument?):
                guard let decoded = MCPHeaderValue.decode(header) else {
                    return .mismatch(reason: "\(binding.fieldName) has an invalid value")
                }
                guard argumentMatches(decoded, argument) else {
                    return .mismatch(reason: "\(binding.fieldName) does not match the argument")
                }
            }
        }
        return .valid
    }

    /// The headers to send with a request, regenerated from its (possibly rewritten) body.
    public static func headers(
        for message: JSONRPCMessage,
        toolHeaders: MCPToolHeaderBindings = .none
    ) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        if let version = message.paramsMeta?[MCPRequestMeta.protocolVersionKey]?.stringValue {
            fields.append((MCPRequestHeaders.protocolVersion, version))
        }
        guard let method = message.method else { return fields }
        fields.append((MCPRequestHeaders.method, method))
        if let member = nameMember(of: method), let name = message.params?[member]?.stringValue {
            fields.append((MCPRequestHeaders.name, MCPHeaderValue.encode(name)))
        }
        guard method == "tools/call" else { return fields }
        let arguments = message.params?["arguments"]
        for binding in toolHeaders.bindings {
            if let argument = toolHeaders.argument(for: binding, in: arguments),
                let value = MCPHeaderValue.encode(argument)
            {
                fields.append((binding.fieldName, value))
            }
        }
        return fields
    }

    /// Legacy Streamable HTTP (2025-06-18 … 2025-11-25): requests after `initialize` carry
    /// `MCP-Protocol-Version`. Without the header the session's negotiated version applies, or
    /// 2025-03-26 when there is no session to ask. Nil (answer 400) for a value that is not a
    /// version, is not a session-based version, or differs from the one the session negotiated.
    public static func legacyProtocolVersion(
        header: String?,
        negotiated: MCPProtocolVersion?
    ) -> MCPProtocolVersion? {
        guard let header else { return negotiated ?? .v2025_03_26 }
        guard let version = MCPProtocolVersion(header), case .sessionBased = version.era else { return nil }
        if let negotiated, negotiated != version { return nil }
        return version
    }

    private static func compare(
        _ name: String,
        _ headers: MCPRequestHeaders,
        body: String?,
        isRequired: Bool,
        decodesSentinel: Bool
    ) -> String? {
        let values = headers.values(name)
        guard values.count <= 1 else { return "\(name) appears more than once" }
        guard let header = values.first else { return isRequired ? "\(name) is missing" : nil }
        let decoded = decodesSentinel ? MCPHeaderValue.decode(header) : header
        guard let decoded else { return "\(name) has an invalid value" }
        guard let body else { return "\(name) is present but the body has no matching value" }
        return decoded == body ? nil : "\(name) does not match the body"
    }

    /// Strings compare exactly, booleans as `true`/`false`, numbers numerically (`42` = `42.0`).
    private static func argumentMatches(_ header: String, _ argument: JSONValue) -> Bool {
        switch argument {
        case .string(let text):
            return header == text
        case .bool(let flag):
            return header == (flag ? "true" : "false")
        case .number(let literal):
            guard let body = DecimalInteger.canonical(literal) else { return false }
            return DecimalInteger.canonical(header) == body
        case .null, .array, .object:
            return false
        }
    }
}

/// Integer values written as JSON numbers, compared by value: `42`, `42.0`, `4.2e1` and `420e-1`
/// are all `42`.
enum DecimalInteger {
    /// The canonical decimal text (`-7`, `0`) of a JSON number literal whose value is an integer;
    /// nil for a fraction, text that is not a JSON number, or an exponent beyond ±400.
    static func canonical(_ literal: String) -> String? {
        var bytes = Array(literal.utf8)[...]
        let isNegative = bytes.first == UInt8(ascii: "-")
        if isNegative { bytes = bytes.dropFirst() }
        let integerDigits = bytes.prefix { isDigit($0) }
        bytes = bytes.dropFirst(integerDigits.count)
        guard !integerDigits.isEmpty, integerDigits.first != UInt8(ascii: "0") || integerDigits.count == 1 else {
            return nil
        }
        var fractionDigits: ArraySlice<UInt8> = []
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            fractionDigits = bytes.prefix { isDigit($0) }
            guard !fractionDigits.isEmpty else { return nil }
            bytes = bytes.dropFirst(fractionDigits.count)
        }
        var exponent = 0
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var isNegativeExponent = false
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") {
                isNegativeExponent = bytes.first == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            let exponentDigits = bytes.prefix { isDigit($0) }
            guard !exponentDigits.isEmpty, exponentDigits.count <= 3 else { return nil }
            bytes = bytes.dropFirst(exponentDigits.count)
            exponent = Int(String(decoding: exponentDigits, as: UTF8.self)) ?? 0
            if isNegativeExponent { exponent = -exponent }
        }
        guard bytes.isEmpty, abs(exponent) <= 400 else { return nil }
        // value = digits × 10^(exponent − fractionDigits.count)
        var digits = Array(integerDigits) + Array(fractionDigits)
        let shift = exponent - fractionDigits.count
        if shift >= 0 {
            digits += Array(repeating: UInt8(ascii: "0"), count: shift)
        } else {
            let dropped = digits.suffix(min(-shift, digits.count))
            guard dropped.allSatisfy({ $0 == UInt8(ascii: "0") }) else { return nil }
            digits.removeLast(dropped.count)
        }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard !significant.isEmpty else { return "0" }
        return (isNegative ? "-" : "") + String(decoding: significant, as: UTF8.self)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}

/// RFC 4648 Base64 with the standard alphabet and padding, strict on decode.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = bytes[index]
            let b1 = remaining > 1 ? bytes[index + 1] : 0
            let b2 = remaining > 2 ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(remaining > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(remaining > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Nil unless the text is whole 4-character groups of the alphabet, with `=` padding only at
    /// the end and zero bits in the unused part of the last group.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let characters = Array(text)
        guard characters.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count / 4 * 3)
        var index = 0
        while index < characters.count {
            let isLastGroup = index + 4 == characters.count
            let group = characters[index..<index + 4]
            let padding = isLastGroup ? group.reversed().prefix { $0 == UInt8(ascii: "=") }.count : 0
            guard padding <= 2 else { return nil }
            var sextets: [UInt8] = []
            for character in group.dropLast(padding) {
                guard let value = sextet(character) else { return nil }
                sextets.append(value)
            }
            output.append(sextets[0] << 2 | sextets[1] >> 4)
            if padding == 2 {
                guard sextets[1] & 0x0F == 0 else { return nil }
            } else {
                output.append(sextets[1] << 4 | sextets[2] >> 2)
                if padding == 1 {
                    guard sextets[2] & 0x03 == 0 else { return nil }
                } else {
                    output.append(sextets[2] << 6 | sextets[3])
                }
            }
            index += 4
        }
        return output
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
