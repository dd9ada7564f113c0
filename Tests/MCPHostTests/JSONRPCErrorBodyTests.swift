import Foundation
import MCPHost
import Testing

@Suite("JSONRPCErrorBody")
struct JSONRPCErrorBodyTests {
    @Test func unauthorizedExactBytes() {
        let data = JSONRPCErrorBody.render(code: .unauthorized, message: "Invalid API key.")
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"error":{"code":-32001,"message":"Invalid API key."},"id":null,"jsonrpc":"2.0"}"#
        )
    }

    @Test(arguments: [
        (JSONRPCErrorCode.parseError, -32700),
        (.invalidRequest, -32600),
        (.methodNotFound, -32601),
        (.invalidParams, -32602),
        (.internalError, -32603),
        (.unauthorized, -32001),
        (.requestTooLarge, -32002),
    ])
    func shape(code: JSONRPCErrorCode, number: Int) throws {
        let message = "Request \"x\" failed\nbadly"
        let data = JSONRPCErrorBody.render(code: code, message: message)
        let body = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(body.keys) == ["jsonrpc", "id", "error"])
        #expect(body["jsonrpc"] as? String == "2.0")
        // `id` is present and null (JSON-RPC 2.0 §5), not missing.
        #expect(body["id"] is NSNull)
        let error = try #require(body["error"] as? [String: Any])
        #expect(Set(error.keys) == ["code", "message"])
        #expect(error["code"] as? Int == number)
        #expect(error["message"] as? String == message)
    }
}
