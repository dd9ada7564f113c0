public import GatehouseJSON

/// A JSON-RPC request id. MCP allows a string or an integer and never null. An integer keeps its
/// literal text, so an id too large for `Int` still goes back to its sender exactly as it came.
public enum JSONRPCID: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    /// The integer's literal text as it appeared on the wire (`7`, `-3`, `18446744073709551616`).
    case integer(String)

    public init(_ integer: Int) { self = .integer(String(integer)) }

    /// Reads an id from JSON: a string, or a number written as an integer (no fraction, no
    /// exponent). Anything else, null included, is nil.
    public init?(_ value: JSONValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .number(let text) where Self.isIntegerLiteral(text): self = .integer(text)
        default: return nil
        }
    }

    public var jsonValue: JSONValue {
        switch self {
        case .string(let text): return .string(text)
        case .integer(let text): return .number(text)
        }
    }

    public var description: String {
        switch self {
        case .string(let text): return "\"\(text)\""
        case .integer(let text): return text
        }
    }

    /// `-?(0|[1-9][0-9]*)`: the JSON number grammar without fraction or exponent.
    static func isIntegerLiteral(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" { digits = digits.dropFirst() }
        guard let first = digits.first, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return first != "0" || digits.count == 1
    }
}

/// The `error` member of a JSON-RPC error response.
public struct JSONRPCErrorObject: Sendable, Equatable, Error {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(code: JSONRPCErrorCode, message: String, data: JSONValue? = nil) {
        self.init(code: code.rawValue, message: message, data: data)
    }

    public var jsonValue: JSONValue {
        var object = JSONObject(["code": JSONValue(code), "message": .string(message)])
        if let data { object["data"] = data }
        return .object(object)
    }

    /// Reads `{code, message, data?}`; nil when `code` is not an integer or `message` not a string.
    init?(_ value: JSONValue) {
        guard let object = value.objectValue, let code = object["code"]?.intValue,
            let message = object["message"]?.stringValue
        else { return nil }
        self.init(code: code, message: message, data: object["data"])
    }
}

/// Error codes the MCP specification adds to JSON-RPC's own (`JSONRPCErrorCode`).
public enum MCPErrorCode {
    /// ≤2025-11-25; 2026-07-28 answers -32602 instead (clients should still accept this one).
    public static let resourceNotFound = -32002
    /// Gatehouse: the caller's policy denies the request (JSON-RPC's server-error range).
    public static let policyDenied = -32003
    /// Gatehouse: one of the caller's limits refused the request for now; `data.retryAfterSeconds`
    /// says when to retry.
    public static let rateLimited = -32029
    /// 2025-11-25 only.
    public static let urlElicitationRequired = -32042
    /// 2026-07-28: HTTP headers and body disagree, or a required header is missing or malformed.
    public static let headerMismatch = -32020
    /// 2026-07-28: the request needs a capability the client did not declare.
    public static let missingRequiredClientCapability = -32021
    /// 2026-07-28: `data` is `{supported, requested}`.
    public static let unsupportedProtocolVersion = -32022
}

/// One JSON-RPC 2.0 message. `kind` is what routing reads; `object` is the whole message with its
/// members in their original order, unknown top-level members included, so a message that passes
/// through with a rewritten id or token is written back otherwise unchanged.
public struct JSONRPCMessage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case request(id: JSONRPCID, method: String, params: JSONValue?)
        case notification(method: String, params: JSONValue?)
        case response(id: JSONRPCID, result: JSONValue)
        /// `id` is nil when the request it answers could not be read (`"id": null` or no `id`).
        case errorResponse(id: JSONRPCID?, error: JSONRPCErrorObject)
    }

    public private(set) var kind: Kind
    public private(set) var object: JSONObject

    private init(kind: Kind, object: JSONObject) {
        self.kind = kind
        self.object = object
    }

    public static func request(id: JSONRPCID, method: String, params: JSONValue? = nil) -> JSONRPCMessage {
        var object = JSONObject(["jsonrpc": .string("2.0"), "id": id.jsonValue, "method": .string(method)])
        if let params { object["params"] = params }
        return JSONRPCMessage(kind: .request(id: id, method: method, params: params), object: object)
    }

    public static func notification(method: String, params: JSONValue? = nil) -> JSONRPCMessage {
        var object = JSONObject(["jsonrpc": .string("2.0"), "method": .string(method)])
        if let params { object["params"] = params }
        return JSONRPCMessage(kind: .notification(method: method, params: params), object: object)
    }

    public static func response(id: JSONRPCID, result: JSONValue) -> JSONRPCMessage {
        let object = JSONObject(["jsonrpc": .string("2.0"), "id": id.jsonValue, "result": result])
        return JSONRPCMessage(kind: .response(id: id, result: result), object: object)
    }

    /// With a nil `id` the message carries `"id": null`, as JSON-RPC 2.0 §5 prescribes.
    public static func errorResponse(id: JSONRPCID?, error: JSONRPCErrorObject) -> JSONRPCMessage {
        let object = JSONObject([
            "jsonrpc": .string("2.0"), "id": id?.jsonValue ?? .null, "error": error.jsonValue,
        ])
        return JSONRPCMessage(kind: .errorResponse(id: id, error: error), object: object)
    }

    /// Compact JSON: members in their stored order, numbers as their literal text.
    public func encoded() -> [UInt8] { JSONValue.object(object).serialized() }

    /// A batch reply (2025-03-26): the messages as one JSON array.
    public static func encodedBatch(_ messages: [JSONRPCMessage]) -> [UInt8] {
        JSONValue.array(messages.map { .object($0.object) }).serialized()
    }
}

// MARK: - Reading

extension JSONRPCMessage {
    public var id: JSONRPCID? {
        switch kind {
        case .request(let id, _, _), .response(let id, _): return id
        case .errorResponse(let id, _): return id
        case .notification: return nil
        }
    }

    public var method: String? {
        switch kind {
        case .request(_, let method, _), .notification(let method, _): return method
        case .response, .errorResponse: return nil
        }
    }

    public var params: JSONValue? {
        switch kind {
        case .request(_, _, let params), .notification(_, let params): return params
        case .response, .errorResponse: return nil
        }
    }

    public var isRequest: Bool {
        if case .request = kind { return true }
        return false
    }

    /// `params.name`: the tool of `tools/call`, the prompt of `prompts/get`.
    public var paramsName: String? { params?["name"]?.stringValue }
    /// `params.uri`: the resource of `resources/read` and `resources/subscribe`.
    public var paramsURI: String? { params?["uri"]?.stringValue }
    /// `params.cursor` of the paginated list methods. An empty string is a valid cursor (2026).
    public var paramsCursor: String? { params?["cursor"]?.stringValue }
    /// `params._meta`.
    public var paramsMeta: JSONObject? { params?["_meta"]?.objectValue }
    /// `params._meta.progressToken` (a string or an integer).
    public var progressToken: JSONValue? { paramsMeta?["progressToken"] }
}

// MARK: - Editing

extension JSONRPCMessage {
    /// Replaces the id of a request, response or error response in place (same member position).
    /// A notification has no id and is returned unchanged.
    public func replacingID(with newID: JSONRPCID) -> JSONRPCMessage {
        var copy = self
        switch kind {
        case .request(_, let method, let params): copy.kind = .request(id: newID, method: method, params: params)
        case .response(_, let result): copy.kind = .response(id: newID, result: result)
        case .errorResponse(_, let error): copy.kind = .errorResponse(id: newID, error: error)
        case .notification: return self
        }
        copy.object["id"] = newID.jsonValue
        return copy
    }

    /// Replaces `params` of a request or notification in place; responses are returned unchanged.
    public func replacingParams(with newParams: JSONValue) -> JSONRPCMessage {
        var copy = self
        switch kind {
        case .request(let id, let method, _): copy.kind = .request(id: id, method: method, params: newParams)
        case .notification(let method, _): copy.kind = .notification(method: method, params: newParams)
        case .response, .errorResponse: return self
        }
        copy.object["params"] = newParams
        return copy
    }

    /// Sets `params._meta[key]`, making `params` and `_meta` when the message has none (a
    /// notification tagged with its 2026 subscription id). Responses are returned unchanged.
    public func replacingMetaMember(_ key: String, with value: JSONValue) -> JSONRPCMessage {
        guard method != nil else { return self }
        var params = self.params?.objectValue ?? JSONObject()
        var meta = params["_meta"]?.objectValue ?? JSONObject()
        meta[key] = value
        params["_meta"] = .object(meta)
        return replacingParams(with: .object(params))
    }

    /// A `tools/call` as its server gets it: `params.name` set to the server's own name for the tool
    /// and, when traced, `params._meta.traceparent` to the upstream hop, in one rewrite of the
    /// message (every other member where it was). Nil when `params` is not an object.
    func routedToolCall(name: String, traceParent: String?) -> JSONRPCMessage? {
        guard var params = params?.objectValue else { return nil }
        params["name"] = .string(name)
        if let traceParent {
            var meta = params["_meta"]?.objectValue ?? JSONObject()
            meta["traceparent"] = .string(traceParent)
            params["_meta"] = .object(meta)
        }
        return replacingParams(with: .object(params))
    }

    /// Sets `params[key]`, or `params._meta[key]` when `inMeta`, keeping every other member where it
    /// was. Nil when the message has no object params to edit (and `params` would have to be made).
    func replacingParamsMember(_ key: String, with value: JSONValue, inMeta: Bool) -> JSONRPCMessage? {
        guard var params = params?.objectValue else { return nil }
        if inMeta {
            guard var meta = params["_meta"]?.objectValue else { return nil }
            meta[key] = value
            params["_meta"] = .object(meta)
        } else {
            params[key] = value
        }
        return replacingParams(with: .object(params))
    }
}

// MARK: - Decoding

/// Why bytes are not a JSON-RPC message. `code` is -32700 for text that is not JSON and -32600
/// for JSON that is not a valid message. `id` is the message's id when it could still be read,
/// so the error response can answer it; JSON-RPC otherwise says `"id": null`.
public struct JSONRPCDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case notJSON(JSONParseError)
        case notAnObject
        case emptyBatch
        case wrongVersion
        case missingMethod
        case methodNotAString
        case invalidID
        case nullRequestID
        case invalidParams
        case bothResultAndError
        case invalidErrorObject
        case methodWithResponseMember
    }

    public let reason: Reason
    public let id: JSONRPCID?

    public init(_ reason: Reason, id: JSONRPCID? = nil) {
        self.reason = reason
        self.id = id
    }

    public var code: Int {
        if case .notJSON = reason { return JSONRPCErrorCode.parseError.rawValue }
        return JSONRPCErrorCode.invalidRequest.rawValue
    }

    public var description: String {
        switch reason {
        case .notJSON(let error): return "Parse error: \(error)"
        case .notAnObject: return "Invalid Request: a message must be a JSON object"
        case .emptyBatch: return "Invalid Request: empty batch"
        case .wrongVersion: return "Invalid Request: \"jsonrpc\" must be \"2.0\""
        case .missingMethod: return "Invalid Request: no \"method\", \"result\" or \"error\""
        case .methodNotAString: return "Invalid Request: \"method\" must be a string"
        case .invalidID: return "Invalid Request: \"id\" must be a string or an integer"
        case .nullRequestID: return "Invalid Request: a request id must not be null"
        case .invalidParams: return "Invalid Request: \"params\" must be an object or an array"
        case .bothResultAndError: return "Invalid Request: a response has either \"result\" or \"error\""
        case .invalidErrorObject: return "Invalid Request: \"error\" needs an integer code and a string message"
        case .methodWithResponseMember: return "Invalid Request: a request has no \"result\" or \"error\""
        }
    }

    public var errorObject: JSONRPCErrorObject { JSONRPCErrorObject(code: code, message: description) }

    /// The reply the sender gets: the error object, answering the id when it could be read.
    public var errorResponse: JSONRPCMessage { .errorResponse(id: id, error: errorObject) }
}

/// What one body or line holds: one message, or (2025-03-26 only) a batch whose elements are
/// read one by one, so a bad element gets its own error while the others proceed.
public enum JSONRPCMessageBatch: Sendable, Equatable {
    case single(JSONRPCMessage)
    case batch([Result<JSONRPCMessage, JSONRPCDecodingError>])
}

extension JSONRPCMessage {
    /// Decodes a body or a stdio line. Throws for text that is not JSON, a top-level value that is
    /// neither an object nor an array, an empty array, and a single invalid message. Whether a
    /// batch is allowed depends on the protocol version (`MCPProtocolVersion.allowsBatching`).
    public static func decode(_ bytes: some Collection<UInt8>) throws(JSONRPCDecodingError) -> JSONRPCMessageBatch {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw JSONRPCDecodingError(.notJSON(error))
        }
        switch value {
        case .object(let object):
            return .single(try decode(object))
        case .array(let items):
            guard !items.isEmpty else { throw JSONRPCDecodingError(.emptyBatch) }
            return .batch(
                items.map { item in
                    guard let object = item.objectValue else { return .failure(JSONRPCDecodingError(.notAnObject)) }
                    do throws(JSONRPCDecodingError) {
                        return .success(try decode(object))
                    } catch {
                        return .failure(error)
                    }
                }
            )
        default:
            throw JSONRPCDecodingError(.notAnObject)
        }
    }

    /// Validates one parsed message object.
    public static func decode(_ object: JSONObject) throws(JSONRPCDecodingError) -> JSONRPCMessage {
        let idMember = object["id"]
        // The id is read first so that later errors can still answer it.
        let id = idMember.flatMap(JSONRPCID.init)
        guard object["jsonrpc"] == .string("2.0") else { throw JSONRPCDecodingError(.wrongVersion, id: id) }
        if let idMember, idMember != .null, id == nil { throw JSONRPCDecodingError(.invalidID) }

        if let methodMember = object["method"] {
            guard case .string(let method) = methodMember else {
                throw JSONRPCDecodingError(.methodNotAString, id: id)
            }
            guard object["result"] == nil, object["error"] == nil else {
                throw JSONRPCDecodingError(.methodWithResponseMember, id: id)
            }
            let params: JSONValue?
            switch object["params"] {
            case nil, .null?: params = nil  // some SDKs write `"params": null` for "no params"
            case .object?, .array?: params = object["params"]
            default: throw JSONRPCDecodingError(.invalidParams, id: id)
            }
            guard let idMember else {
                return JSONRPCMessage(kind: .notification(method: method, params: params), object: object)
            }
            guard let id, idMember != .null else { throw JSONRPCDecodingError(.nullRequestID) }
            return JSONRPCMessage(kind: .request(id: id, method: method, params: params), object: object)
        }

        switch (object["result"], object["error"]) {
        case (let result?, nil):
            guard let id else { throw JSONRPCDecodingError(.invalidID) }
            return JSONRPCMessage(kind: .response(id: id, result: result), object: object)
        case (nil, let errorMember?):
            guard let error = JSONRPCErrorObject(errorMember) else {
                throw JSONRPCDecodingError(.invalidErrorObject, id: id)
            }
            return JSONRPCMessage(kind: .errorResponse(id: id, error: error), object: object)
        case (.some, .some):
            throw JSONRPCDecodingError(.bothResultAndError, id: id)
        case (nil, nil):
            throw JSONRPCDecodingError(.missingMethod, id: id)
        }
    }
}
