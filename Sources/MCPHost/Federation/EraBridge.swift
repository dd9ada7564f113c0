public import GatehouseJSON

/// Adapts messages between a client's protocol era and an upstream's, so a client of either era
/// reaches servers of either era. Pure.
public enum EraBridge {
    /// What the gateway says about itself in `clientInfo` and `serverInfo`.
    public static let gatewayInfo: JSONValue = .object(
        JSONObject(["name": .string("gatehouse"), "version": .string("0.1.0")])
    )

    /// A request as it goes to an upstream of `upstreamEra`. A stateless upstream gets the 2026
    /// `_meta` (its version, the client's capabilities); a session-era upstream gets none of the
    /// `io.modelcontextprotocol/` keys, which it would not know. Other `_meta` keys (progress
    /// tokens, trace context) stay.
    public static func request(
        _ message: JSONRPCMessage,
        toUpstream upstreamEra: MCPEra,
        clientCapabilities: JSONObject
    ) -> JSONRPCMessage {
        var params = message.params?.objectValue ?? JSONObject()
        var meta = params["_meta"]?.objectValue ?? JSONObject()
        switch upstreamEra {
        case .stateless(let version):
            meta[MCPRequestMeta.protocolVersionKey] = .string(version.rawValue)
            meta[MCPRequestMeta.clientCapabilitiesKey] = .object(clientCapabilities)
            if meta[MCPRequestMeta.clientInfoKey] == nil { meta[MCPRequestMeta.clientInfoKey] = gatewayInfo }
            params["_meta"] = .object(meta)
        case .sessionBased:
            let kept = meta.members.filter { !$0.key.hasPrefix("io.modelcontextprotocol/") }
            if message.params == nil || kept.count == meta.members.count { return message }
            if kept.isEmpty {
                params.removeValue(forKey: "_meta")
            } else {
                params["_meta"] = .object(JSONObject(members: kept))
            }
        }
        return message.replacingParams(with: .object(params))
    }

    /// A reply as it goes back to a client of `clientEra`. A 2026 client needs `resultType` on
    /// every result (an older server's reply means `complete`). A session-era client cannot answer
    /// an `input_required` result, so it gets an error that says so.
    public static func reply(_ message: JSONRPCMessage, toClient clientEra: MCPEra) -> JSONRPCMessage {
        guard case .response(let id, let result) = message.kind, var object = result.objectValue else { return message }
        switch clientEra {
        case .stateless:
            guard object["resultType"] == nil else { return message }
            object["resultType"] = .string("complete")
            return .response(id: id, result: .object(object))
        case .sessionBased:
            guard object["resultType"]?.stringValue == "input_required" else { return message }
            return .errorResponse(
                id: id,
                error: JSONRPCErrorObject(
                    code: .internalError,
                    message:
                        "The server needs more input from the client (input_required), which a session-era client cannot give; use protocol version 2026-07-28"
                )
            )
        }
    }
}
