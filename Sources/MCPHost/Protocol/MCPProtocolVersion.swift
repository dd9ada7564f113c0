public import GatehouseJSON

/// An MCP revision, named by its date (`YYYY-MM-DD`). Versions order by date.
public struct MCPProtocolVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts the `YYYY-MM-DD` shape only; whether the version is supported is a separate question.
    public init?(_ rawValue: String) {
        let bytes = Array(rawValue.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        for (index, byte) in bytes.enumerated() where index != 4 && index != 7 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
        }
        self.rawValue = rawValue
    }

    private init(known rawValue: String) { self.rawValue = rawValue }

    public static let v2024_11_05 = MCPProtocolVersion(known: "2024-11-05")
    public static let v2025_03_26 = MCPProtocolVersion(known: "2025-03-26")
    public static let v2025_06_18 = MCPProtocolVersion(known: "2025-06-18")
    public static let v2025_11_25 = MCPProtocolVersion(known: "2025-11-25")
    public static let v2026_07_28 = MCPProtocolVersion(known: "2026-07-28")

    /// Every revision this module knows, oldest first.
    public static let known: [MCPProtocolVersion] = [v2024_11_05, v2025_03_26, v2025_06_18, v2025_11_25, v2026_07_28]
    /// The first revision without `initialize`, where every request carries its version in `_meta`.
    public static let firstStateless = v2026_07_28

    public var era: MCPEra { self >= Self.firstStateless ? .stateless(self) : .sessionBased(self) }
    /// JSON-RPC batches (arrays) existed in 2025-03-26 only.
    public var allowsBatching: Bool { self == Self.v2025_03_26 }
    /// From 2025-06-18 on, HTTP requests after `initialize` carry `MCP-Protocol-Version`.
    public var requiresProtocolVersionHeader: Bool { self >= Self.v2025_06_18 }

    public var description: String { rawValue }

    public static func < (lhs: MCPProtocolVersion, rhs: MCPProtocolVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The protocol era of a connection (legacy) or of one request (2026), decided once from the first
/// message and then carried as a type, so code switches on the era instead of comparing strings.
public enum MCPEra: Sendable, Hashable {
    /// ≤2025-11-25: `initialize` handshake, optional `Mcp-Session-Id`, server→client requests.
    case sessionBased(MCPProtocolVersion)
    /// 2026-07-28 and later: no handshake; version and capabilities travel in every request's `_meta`.
    case stateless(MCPProtocolVersion)

    public var version: MCPProtocolVersion {
        switch self {
        case .sessionBased(let version), .stateless(let version): return version
        }
    }
}

/// The versions a gateway endpoint accepts, split by era, and the two ways a client names one:
/// the legacy `initialize` request and the 2026 per-request `_meta`.
public struct MCPVersionSupport: Sendable, Equatable {
    /// Ascending. Offered to legacy clients; the newest is the counter-offer.
    public let sessionBased: [MCPProtocolVersion]
    /// Ascending. Listed in `UnsupportedProtocolVersionError`.
    public let stateless: [MCPProtocolVersion]

    /// Versions are sorted into their era; an empty list disables that era.
    public init(_ versions: some Sequence<MCPProtocolVersion> = MCPProtocolVersion.known) {
        let sorted = Set(versions).sorted()
        self.sessionBased = sorted.filter { $0 < MCPProtocolVersion.firstStateless }
        self.stateless = sorted.filter { $0 >= MCPProtocolVersion.firstStateless }
    }

    public static let `default` = MCPVersionSupport()

    /// Answers the version an `initialize` request asks for: the requested one when supported,
    /// otherwise the newest session-based version (the client disconnects if it cannot use it).
    /// Throws -32602 with `data: {supported, requested}` only when `params.protocolVersion` is
    /// missing or not a version at all, or when no session-based version is enabled.
    public func negotiateInitialize(params: JSONValue?) throws(JSONRPCErrorObject) -> MCPEra {
        let requestedValue = params?["protocolVersion"]
        if let text = requestedValue?.stringValue, let requested = MCPProtocolVersion(text) {
            if sessionBased.contains(requested) { return .sessionBased(requested) }
            if let newest = sessionBased.last { return .sessionBased(newest) }
        }
        throw JSONRPCErrorObject(
            code: .invalidParams,
            message: "Unsupported protocol version",
            data: .object(
                JSONObject([
                    "supported": .array(sessionBased.map { .string($0.rawValue) }),
                    "requested": requestedValue ?? .null,
                ])
            )
        )
    }

    /// Validates the `_meta` every 2026 request carries. A missing or non-string
    /// `io.modelcontextprotocol/protocolVersion` or a missing `…/clientCapabilities` object is
    /// -32602; a version this endpoint does not serve is -32022 with `data: {supported, requested}`.
    /// The version is checked before the capabilities: a client that speaks another revision
    /// gets the list to retry with rather than a complaint about a shape it may not know.
    public func validateRequestMeta(params: JSONValue?) throws(JSONRPCErrorObject) -> MCPRequestMeta {
        let meta = params?["_meta"]?.objectValue
        guard let requestedText = meta?[MCPRequestMeta.protocolVersionKey]?.stringValue else {
            throw JSONRPCErrorObject(
                code: .invalidParams,
                message: "Missing _meta[\"\(MCPRequestMeta.protocolVersionKey)\"]"
            )
        }
        guard let version = MCPProtocolVersion(requestedText), stateless.contains(version) else {
            throw JSONRPCErrorObject(
                code: MCPErrorCode.unsupportedProtocolVersion,
                message: "Unsupported protocol version",
                data: .object(
                    JSONObject([
                        "supported": .array(stateless.map { .string($0.rawValue) }),
                        "requested": .string(requestedText),
                    ])
                )
            )
        }
        guard let meta, let capabilities = meta[MCPRequestMeta.clientCapabilitiesKey]?.objectValue else {
            throw JSONRPCErrorObject(
                code: .invalidParams,
                message: "Missing _meta[\"\(MCPRequestMeta.clientCapabilitiesKey)\"]"
            )
        }
        return MCPRequestMeta(
            era: .stateless(version),
            clientCapabilities: capabilities,
            clientInfo: meta[MCPRequestMeta.clientInfoKey],
            logLevel: meta[MCPRequestMeta.logLevelKey]?.stringValue
        )
    }
}

/// What a 2026 request says about its client in `params._meta`. Self-reported: for routing and
/// display, never for a security decision.
public struct MCPRequestMeta: Sendable, Equatable {
    public static let protocolVersionKey = "io.modelcontextprotocol/protocolVersion"
    public static let clientCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"
    public static let clientInfoKey = "io.modelcontextprotocol/clientInfo"
    public static let logLevelKey = "io.modelcontextprotocol/logLevel"

    public let era: MCPEra
    public let clientCapabilities: JSONObject
    public let clientInfo: JSONValue?
    /// Absent means the client wants no `notifications/message` for this request.
    public let logLevel: String?
}
