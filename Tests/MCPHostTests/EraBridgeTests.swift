import GatehouseJSON
import Testing

@testable import MCPHost

@Suite("EraBridge")
struct EraBridgeTests {
    static let capabilities = JSONObject([
        "sampling": .object(JSONObject()), "elicitation": .object(JSONObject(["form": .object(JSONObject())])),
    ])
    static let stateless = MCPEra.stateless(.v2026_07_28)
    static let sessionBased = MCPEra.sessionBased(.v2025_06_18)
    /// The `_meta` members a stateless upstream gets, as JSON text without braces.
    static let added =
        #""io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{"form":{}}},"io.modelcontextprotocol/clientInfo":{"name":"gatehouse","version":"0.1.0"}"#

    static func toUpstream(_ text: String, _ era: MCPEra) throws -> JSONRPCMessage {
        EraBridge.request(try decodeSingle(text), toUpstream: era, clientCapabilities: Self.capabilities)
    }

    // MARK: Requests

    @Test func statelessUpstreamGetsTheMetaAfterTheClientsOwn() throws {
        let bridged = try Self.toUpstream(
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"p1","traceparent":"00-ab-cd-01"},"arguments":{"x":1}}}"#,
            Self.stateless
        )
        #expect(
            encodedText(bridged)
                == #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"p1","traceparent":"00-ab-cd-01","#
                + Self.added + #"},"arguments":{"x":1}}}"#
        )
        // The routing view agrees with the encoded object.
        #expect(bridged.progressToken == .string("p1"))
        #expect(bridged.paramsMeta?[MCPRequestMeta.protocolVersionKey] == .string("2026-07-28"))
        #expect(bridged.paramsMeta?[MCPRequestMeta.clientCapabilitiesKey] == .object(Self.capabilities))
        #expect(bridged.params?["arguments"]?["x"] == .number("1"))
    }

    @Test func statelessUpstreamWithoutParams() throws {
        let bridged = try Self.toUpstream(#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#, Self.stateless)
        #expect(
            encodedText(bridged)
                == #"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"_meta":{"# + Self.added + "}}}"
        )
        #expect(bridged.method == "tools/list")
        #expect(bridged.paramsMeta?.keys.count == 3)
    }

    @Test func statelessClientMetaIsUpdatedInPlace() throws {
        // A 2026 client's own `_meta`: the version is restated, the capabilities are the session's,
        // the client's own `clientInfo` stays.
        let bridged = try Self.toUpstream(
            #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"claude-code"},"io.modelcontextprotocol/clientCapabilities":{"roots":{}},"progressToken":3,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo"}}"#,
            Self.stateless
        )
        #expect(
            encodedText(bridged)
                == #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"claude-code"},"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{"form":{}}},"progressToken":3,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo"}}"#
        )
    }

    @Test func sessionUpstreamLosesOnlyTheProtocolKeys() throws {
        let bridged = try Self.toUpstream(
            #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"p","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"traceparent":"t","io.modelcontextprotocol/logLevel":"info"},"arguments":{}}}"#,
            Self.sessionBased
        )
        #expect(
            encodedText(bridged)
                == #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"p","traceparent":"t"},"arguments":{}}}"#
        )
        #expect(bridged.paramsMeta?.keys == ["progressToken", "traceparent"])
    }

    @Test func sessionUpstreamLosesAnEmptiedMeta() throws {
        let bridged = try Self.toUpstream(
            #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}},"arguments":{"a":[1]}}}"#,
            Self.sessionBased
        )
        #expect(
            encodedText(bridged)
                == #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"a":[1]}}}"#
        )
        #expect(bridged.paramsMeta == nil)
        #expect(bridged.params?.objectValue?.keys == ["name", "arguments"])
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#,
        #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo"}}"#,
        #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1}}}"#,
        #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"_meta":{},"name":"echo"}}"#,
    ])
    func sessionUpstreamLeavesTheRestAlone(text: String) throws {
        let message = try decodeSingle(text)
        let bridged = EraBridge.request(message, toUpstream: Self.sessionBased, clientCapabilities: Self.capabilities)
        #expect(bridged == message)
        #expect(encodedText(bridged) == text)
    }

    // MARK: Replies

    @Test func statelessClientGetsAResultType() throws {
        let reply = EraBridge.reply(
            try decodeSingle(#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false}}"#),
            toClient: Self.stateless
        )
        #expect(
            encodedText(reply)
                == #"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false,"resultType":"complete"}}"#
        )
        guard case .response(let id, let result) = reply.kind else {
            Issue.record("not a response: \(reply.kind)")
            return
        }
        #expect(id == .integer("1"))
        #expect(result["resultType"] == .string("complete"))
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[]}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{}}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unknown tool"}}"#,
        #"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
        #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}"#,
    ])
    func statelessClientOtherwiseUnchanged(text: String) throws {
        let message = try decodeSingle(text)
        let reply = EraBridge.reply(message, toClient: Self.stateless)
        #expect(reply == message)
        #expect(encodedText(reply) == text)
    }

    @Test func sessionClientCannotAnswerInputRequired() throws {
        let reply = EraBridge.reply(
            try decodeSingle(
                #"{"jsonrpc":"2.0","id":"r9","result":{"resultType":"input_required","inputRequests":{"a":{"method":"elicitation/create"}}}}"#
            ),
            toClient: Self.sessionBased
        )
        #expect(
            encodedText(reply)
                == #"{"jsonrpc":"2.0","id":"r9","error":{"code":-32603,"message":"The server needs more input from the client (input_required), which a session-era client cannot give; use protocol version 2026-07-28"}}"#
        )
        guard case .errorResponse(let id, let error) = reply.kind else {
            Issue.record("not an error: \(reply.kind)")
            return
        }
        #expect(id == .string("r9"))
        #expect(error.code == -32603)
    }

    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#,
        #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[]}}"#,
        #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unknown tool","data":{"name":"x"}}}"#,
    ])
    func sessionClientOtherwiseUnchanged(text: String) throws {
        let message = try decodeSingle(text)
        let reply = EraBridge.reply(message, toClient: Self.sessionBased)
        #expect(reply == message)
        #expect(encodedText(reply) == text)
    }
}
