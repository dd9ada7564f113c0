import GatehouseJSON
import Testing

@testable import MCPHost

@Suite("MCPRequestError")
struct MCPRequestErrorTests {
    static let sessionEra = MCPEra.sessionBased(.v2025_11_25)
    static let stateless = MCPEra.stateless(.v2026_07_28)

    @Test(arguments: [
        (MCPRequestError.notARequest, -32600, "not a request"),
        (.methodNotFound(method: "x/y"), -32601, "Method not found: x/y"),
        (.missingToolName, -32602, "tools/call needs params.name"),
        (.unknownTool(name: "a__b"), -32602, "Unknown tool: a__b"),
        (
            .toolBlockedByPin(name: "a__b"), -32602,
            "Tool a__b is blocked: its definition changed since it was approved; an administrator must approve it"
        ),
        (.missingPromptName, -32602, "missing prompt name"),
        (.unknownPrompt(name: "p"), -32602, "Unknown prompt: p"),
        (.missingResourceURI, -32602, "missing uri"),
        (.invalidCursor, -32602, "Invalid cursor"),
        (
            .upstream(.unavailable(server: "notes", reason: "down")), -32603,
            "MCP server 'notes' is unavailable: down"
        ),
    ])
    func codeAndMessage(error: MCPRequestError, code: Int, message: String) {
        for era in [Self.sessionEra, Self.stateless] {
            let rendered = error.jsonRPCError(era: era)
            #expect(rendered.code == code)
            #expect(rendered.message == message)
        }
    }

    @Test func aMissingResourceHasEachErasCodeAndNamesTheURI() {
        let error = MCPRequestError.resourceNotFound(uri: "notes://1")
        #expect(error.jsonRPCError(era: Self.sessionEra).code == MCPErrorCode.resourceNotFound)
        #expect(error.jsonRPCError(era: Self.stateless).code == -32602)
        #expect(error.jsonRPCError(era: Self.stateless).data == .object(JSONObject(["uri": .string("notes://1")])))
    }

    @Test func anUpstreamFailureNamesTheServer() {
        let rendered = MCPRequestError.upstream(.timedOut(server: "slow", after: .seconds(2))).jsonRPCError(
            era: Self.stateless
        )
        #expect(rendered.data == .object(JSONObject(["server": .string("slow")])))
    }
}
