public import Foundation

/// JSON-RPC 2.0 error codes Gatehouse itself answers with, before a request reaches any server.
public enum JSONRPCErrorCode: Int, Sendable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    /// Implementation-defined server error: the caller is not authenticated.
    case unauthorized = -32001
    /// Implementation-defined server error: the request body exceeds the gateway's limit.
    case requestTooLarge = -32002
    /// Implementation-defined server error: the gateway stopped before the request was answered.
    case gatewayShuttingDown = -32000
}

/// Renders a JSON-RPC error response. Errors found before the body is read (authentication, size)
/// cannot know the request's `id`, so they carry `"id": null` as JSON-RPC 2.0 §5 prescribes.
public enum JSONRPCErrorBody {
    public static func render(code: JSONRPCErrorCode, message: String) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(Envelope(error: .init(code: code.rawValue, message: message)))) ?? Data()
    }

    private struct Envelope: Encodable {
        struct Detail: Encodable {
            let code: Int
            let message: String
        }
        let jsonrpc = "2.0"
        let error: Detail

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(jsonrpc, forKey: .jsonrpc)
            try container.encodeNil(forKey: .id)
            try container.encode(error, forKey: .error)
        }

        enum CodingKeys: String, CodingKey { case jsonrpc, id, error }
    }
}
