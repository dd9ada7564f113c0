import GatehouseJSON
import Testing

@testable import MCPHost

@Suite("JSONRPCMessage")
struct JSONRPCMessageTests {
    /// The `tools/call` example of docs/specification/2026-07-28/basic/transports/streamable-http.mdx
    /// (modelcontextprotocol/modelcontextprotocol), copied as written there.
    static let specToolsCall = """
        {
          "jsonrpc": "2.0",
          "id": 1,
          "method": "tools/call",
          "params": {
            "name": "get_weather",
            "arguments": {
              "location": "Seattle, WA"
            },
            "_meta": {
              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientInfo": {
                "name": "ExampleClient",
                "version": "1.0.0"
              },
              "io.modelcontextprotocol/clientCapabilities": {}
            }
          }
        }
        """

    @Test func specRequestFixture() throws {
        let message = try decodeSingle(Self.specToolsCall)
        guard case .request(let id, let method, _) = message.kind else {
            Issue.record("not a request: \(message.kind)")
            return
        }
        #expect(id == .integer("1"))
        #expect(method == "tools/call")
        #expect(message.paramsName == "get_weather")
        #expect(message.paramsMeta?["io.modelcontextprotocol/protocolVersion"] == .string("2026-07-28"))
        #expect(message.paramsURI == nil)
        #expect(message.progressToken == nil)
        #expect(
            encodedText(message)
                == #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Seattle, WA"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"ExampleClient","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#
        )
    }

    /// Compact input comes back byte for byte: member order, unknown members, number literals.
    @Test(arguments: [
        #"{"id":"a-1","jsonrpc":"2.0","method":"tools/list","params":{"cursor":"","_meta":{"progressToken":7}},"x-trace":{"b":1.50,"a":-0.0e+3}}"#,
        #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":0.50,"total":1E2},"extra":[null,true]}"#,
        #"{"result":{"content":[],"isError":false,"n":100000000000000000000001},"id":12345678901234567890,"jsonrpc":"2.0"}"#,
        #"{"jsonrpc":"2.0","id":null,"error":{"message":"Parse error","code":-32700,"data":{"offset":3}}}"#,
        #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"}}"#,
        #"{"jsonrpc":"2.0","id":-0,"method":"ping","params":null}"#,
    ])
    func roundTripIsExact(text: String) throws {
        #expect(encodedText(try decodeSingle(text)) == text)
    }

    /// Escapes are decoded on reading; writing escapes only what JSON requires.
    @Test func stringsAreReEscapedMinimally() throws {
        let message = try decodeSingle(#"{"jsonrpc":"2.0","id":"\u00e9\n\/","method":"ping"}"#)
        #expect(message.id == .string("é\n/"))
        #expect(encodedText(message) == #"{"jsonrpc":"2.0","id":"é\n/","method":"ping"}"#)
    }

    @Test func kindsOfEachShape() throws {
        #expect(
            try decodeSingle(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).kind
                == .notification(method: "notifications/initialized", params: nil)
        )
        #expect(
            try decodeSingle(#"{"jsonrpc":"2.0","id":"x","result":{}}"#).kind
                == .response(id: .string("x"), result: .object(.init()))
        )
        #expect(
            try decodeSingle(#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}"#).kind
                == .errorResponse(id: nil, error: JSONRPCErrorObject(code: -32700, message: "Parse error"))
        )
        #expect(
            try decodeSingle(#"{"jsonrpc":"2.0","id":3,"error":{"code":-32002,"message":"m","data":"d"}}"#).kind
                == .errorResponse(
                    id: .integer("3"),
                    error: JSONRPCErrorObject(code: -32002, message: "m", data: .string("d"))
                )
        )
        // `"params": null` reads as no params; array params are valid JSON-RPC and left to the method.
        #expect(try decodeSingle(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#).params == nil)
        #expect(
            try decodeSingle(#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}"#).params == .array([.number("1")])
        )
    }

    @Test func integerIDKeepsItsLiteral() throws {
        let message = try decodeSingle(#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}"#)
        #expect(message.id == .integer("123456789012345678901234567890"))
        #expect(message.id?.description == "123456789012345678901234567890")
        #expect(JSONRPCID.string("a").description == "\"a\"")
        #expect(JSONRPCID(42) == .integer("42"))
    }

    @Test(arguments: [
        ("0", true), ("-7", true), ("10", true), ("-0", true),
        ("01", false), ("1.0", false), ("1e3", false), ("-", false), ("", false), ("1a", false), ("٣", false),
    ])
    func integerLiterals(text: String, isInteger: Bool) {
        #expect(JSONRPCID.isIntegerLiteral(text) == isInteger)
    }

    @Test func paramsHelpers() throws {
        let read = try decodeSingle(
            #"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///a.txt","_meta":{"progressToken":5}}}"#
        )
        #expect(read.paramsURI == "file:///a.txt")
        #expect(read.progressToken == .number("5"))
        #expect(read.paramsName == nil)
        let list = try decodeSingle(#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":""}}"#)
        #expect(list.paramsCursor == "")
        #expect(list.paramsMeta == nil)
        let response = try decodeSingle(#"{"jsonrpc":"2.0","id":3,"result":{"name":"n"}}"#)
        #expect(response.paramsName == nil)
        #expect(response.method == nil)
        #expect(response.params == nil)
    }

    @Test func buildersWriteCanonicalOrder() {
        #expect(
            encodedText(.request(id: JSONRPCID(7), method: "tools/list"))
                == #"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#
        )
        #expect(
            encodedText(
                .notification(method: "notifications/cancelled", params: .object(.init(["requestId": .string("r")])))
            )
                == #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r"}}"#
        )
        #expect(
            encodedText(.response(id: .string("s"), result: .object(.init())))
                == #"{"jsonrpc":"2.0","id":"s","result":{}}"#
        )
        #expect(
            encodedText(
                .errorResponse(
                    id: nil,
                    error: JSONRPCErrorObject(code: .invalidParams, message: "bad", data: .array([]))
                )
            ) == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"bad","data":[]}}"#
        )
        #expect(
            utf8(
                JSONRPCMessage.encodedBatch([
                    .response(id: JSONRPCID(1), result: .object(.init())),
                    .errorResponse(
                        id: JSONRPCID(2),
                        error: JSONRPCErrorObject(code: -32601, message: "Method not found")
                    ),
                ])
            )
                == #"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found"}}]"#
        )
    }

    @Test func editsKeepMemberPositions() throws {
        let message = try decodeSingle(
            #"{"id":1,"jsonrpc":"2.0","method":"x","params":{"a":1,"_meta":{"progressToken":"p","k":2}},"extra":true}"#
        )
        let renamed = message.replacingID(with: .string("gh-9"))
        #expect(
            encodedText(renamed)
                == #"{"id":"gh-9","jsonrpc":"2.0","method":"x","params":{"a":1,"_meta":{"progressToken":"p","k":2}},"extra":true}"#
        )
        #expect(renamed.id == .string("gh-9"))
        let retokened = try #require(message.replacingParamsMember("progressToken", with: .number("3"), inMeta: true))
        #expect(
            encodedText(retokened)
                == #"{"id":1,"jsonrpc":"2.0","method":"x","params":{"a":1,"_meta":{"progressToken":3,"k":2}},"extra":true}"#
        )
        #expect(retokened.progressToken == .number("3"))
        #expect(message.replacingParamsMember("b", with: .null, inMeta: false)?.params?["b"] == .null)

        let notification = try decodeSingle(#"{"jsonrpc":"2.0","method":"n"}"#)
        #expect(notification.replacingID(with: .string("z")) == notification)
        #expect(notification.replacingParamsMember("k", with: .null, inMeta: false) == nil)
        let response = try decodeSingle(#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
        #expect(response.replacingParams(with: .object(.init())) == response)
        let noMeta = try decodeSingle(#"{"jsonrpc":"2.0","id":1,"method":"m","params":{}}"#)
        #expect(noMeta.replacingParamsMember("progressToken", with: .null, inMeta: true) == nil)
    }

    @Test func aRoutedToolCallGetsTheServersNameAndTheTraceParentInOneRewrite() throws {
        let call = try decodeSingle(
            #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"notes__add","arguments":{"t":"x"},"_meta":{"progressToken":"p"}}}"#
        )
        let traced = try #require(call.routedToolCall(name: "add", traceParent: "00-aa-bb-01"))
        #expect(
            encodedText(traced)
                == #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"t":"x"},"_meta":{"progressToken":"p","traceparent":"00-aa-bb-01"}}}"#
        )
        #expect(traced.paramsMeta?["traceparent"] == .string("00-aa-bb-01"))
        let untraced = try #require(call.routedToolCall(name: "add", traceParent: nil))
        #expect(
            encodedText(untraced)
                == #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"t":"x"},"_meta":{"progressToken":"p"}}}"#
        )
        // A call without `_meta` gets one; the original message is left as it was.
        let bare = try decodeSingle(#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"n"}}"#)
        #expect(
            encodedText(try #require(bare.routedToolCall(name: "m", traceParent: "00-cc-dd-01")))
                == #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"m","_meta":{"traceparent":"00-cc-dd-01"}}}"#
        )
        #expect(encodedText(bare) == #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"n"}}"#)
        let noParams = try decodeSingle(#"{"jsonrpc":"2.0","id":6,"method":"tools/call"}"#)
        #expect(noParams.routedToolCall(name: "m", traceParent: nil) == nil)
    }

    @Test func batchElementsAreDecodedOneByOne() throws {
        let batch = try JSONRPCMessage.decode(
            Array(
                #"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"1.0","id":2,"method":"x"},5,{"jsonrpc":"2.0","method":"n"}]"#
                    .utf8
            )
        )
        guard case .batch(let items) = batch else {
            Issue.record("not a batch: \(batch)")
            return
        }
        #expect(items.count == 4)
        #expect(try items[0].get().kind == .request(id: .integer("1"), method: "tools/list", params: nil))
        #expect(items[1] == .failure(JSONRPCDecodingError(.wrongVersion, id: .integer("2"))))
        #expect(items[2] == .failure(JSONRPCDecodingError(.notAnObject)))
        #expect(try items[3].get().kind == .notification(method: "n", params: nil))
    }

    @Test(arguments: [
        (#""x""#, JSONRPCDecodingError.Reason.notAnObject, nil as JSONRPCID?),
        ("[]", .emptyBatch, nil),
        ("null", .notAnObject, nil),
        (#"{"jsonrpc":"1.0","id":1,"method":"a"}"#, .wrongVersion, .integer("1")),
        (#"{"id":"k","method":"a"}"#, .wrongVersion, .string("k")),
        (#"{"jsonrpc":2.0,"id":1,"method":"a"}"#, .wrongVersion, .integer("1")),
        (#"{"jsonrpc":"2.0","id":null,"method":"a"}"#, .nullRequestID, nil),
        (#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":1.0,"method":"a"}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":1e2,"method":"a"}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":true,"method":"a"}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":{},"method":"a"}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":1}"#, .missingMethod, .integer("1")),
        (#"{"jsonrpc":"2.0"}"#, .missingMethod, nil),
        (#"{"jsonrpc":"2.0","id":1,"method":5}"#, .methodNotAString, .integer("1")),
        (#"{"jsonrpc":"2.0","id":1,"method":"a","params":"x"}"#, .invalidParams, .integer("1")),
        (#"{"jsonrpc":"2.0","method":"a","params":3}"#, .invalidParams, nil),
        (#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#, .methodWithResponseMember, .integer("1")),
        (
            #"{"jsonrpc":"2.0","id":1,"method":"a","error":{"code":1,"message":"m"}}"#, .methodWithResponseMember,
            .integer("1")
        ),
        (#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#, .bothResultAndError, .integer("1")),
        (#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#, .invalidErrorObject, .integer("1")),
        (#"{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}"#, .invalidErrorObject, .integer("1")),
        (#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#, .invalidErrorObject, .integer("1")),
        (#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#, .invalidErrorObject, .integer("1")),
        (#"{"jsonrpc":"2.0","result":{}}"#, .invalidID, nil),
        (#"{"jsonrpc":"2.0","id":null,"result":{}}"#, .invalidID, nil),
    ])
    func invalidRequests(text: String, reason: JSONRPCDecodingError.Reason, id: JSONRPCID?) {
        let error = decodingError(text)
        #expect(error == JSONRPCDecodingError(reason, id: id))
        #expect(error?.code == -32600)
    }

    @Test(arguments: ["{", #"{"jsonrpc":"2.0","id":1,"method":"a""#, "", "nul", #"{"a":1}x"#, "[1,]"])
    func parseErrors(text: String) throws {
        let error = try #require(decodingError(text))
        guard case .notJSON = error.reason else {
            Issue.record("expected a parse error, got \(error.reason)")
            return
        }
        #expect(error.code == -32700)
        #expect(error.id == nil)
        #expect(error.errorResponse.id == nil)
        #expect(error.errorObject.code == -32700)
    }

    @Test func errorResponsesAnswerTheIDWhenKnown() throws {
        let error = try #require(decodingError(#"{"jsonrpc":"2.0","id":"q","method":5}"#))
        #expect(
            encodedText(error.errorResponse)
                == #"{"jsonrpc":"2.0","id":"q","error":{"code":-32600,"message":"Invalid Request: \"method\" must be a string"}}"#
        )
        let nullID = try #require(decodingError(#"{"jsonrpc":"2.0","id":null,"method":"a"}"#))
        #expect(
            encodedText(nullID.errorResponse)
                == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: a request id must not be null"}}"#
        )
    }

    @Test func errorObjectsNeedIntegerCodeAndStringMessage() {
        #expect(JSONRPCErrorObject(.object(.init(["code": .number("-32601"), "message": .string("m")]))) != nil)
        #expect(JSONRPCErrorObject(.object(.init(["code": .number("-32601")]))) == nil)
        #expect(JSONRPCErrorObject(.string("x")) == nil)
    }

    @Test func metaMembersAreSetOnNotificationsWithOrWithoutParams() throws {
        let tag = JSONValue.number("7")
        let bare = try decodeSingle(#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
        #expect(
            encodedText(bare.replacingMetaMember("io.modelcontextprotocol/subscriptionId", with: tag))
                == #"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        )
        let withMeta = try decodeSingle(#"{"jsonrpc":"2.0","method":"n","params":{"a":1,"_meta":{"b":2}}}"#)
        #expect(
            encodedText(withMeta.replacingMetaMember("k", with: tag))
                == #"{"jsonrpc":"2.0","method":"n","params":{"a":1,"_meta":{"b":2,"k":7}}}"#
        )
        let response = try decodeSingle(#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
        #expect(encodedText(response.replacingMetaMember("k", with: tag)) == #"{"jsonrpc":"2.0","id":1,"result":{}}"#)
    }
}
