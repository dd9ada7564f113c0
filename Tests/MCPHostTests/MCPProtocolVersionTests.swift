import Testing

@testable import MCPHost

@Suite("MCPProtocolVersion")
struct MCPProtocolVersionTests {
    @Test(arguments: ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28", "2030-01-01"])
    func parsesDates(text: String) throws {
        #expect(try #require(MCPProtocolVersion(text)).rawValue == text)
    }

    @Test(arguments: [
        "1.0.0", "2025-6-18", "2025-06-18x", " 2025-06-18", "DRAFT-2026-v1", "", "2025/06/18", "२०२५-०६-१८",
    ])
    func rejectsNonDates(text: String) {
        #expect(MCPProtocolVersion(text) == nil)
    }

    @Test func knownVersionsAndEras() {
        #expect(
            MCPProtocolVersion.known.map(\.rawValue) == [
                "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28",
            ]
        )
        #expect(MCPProtocolVersion.known == MCPProtocolVersion.known.sorted())
        #expect(MCPProtocolVersion.v2025_11_25.era == .sessionBased(.v2025_11_25))
        #expect(MCPProtocolVersion.v2024_11_05.era == .sessionBased(.v2024_11_05))
        #expect(MCPProtocolVersion.v2026_07_28.era == .stateless(.v2026_07_28))
        #expect(MCPProtocolVersion("2027-01-01")?.era == .stateless(MCPProtocolVersion("2027-01-01")!))
        #expect(MCPEra.stateless(.v2026_07_28).version == .v2026_07_28)
        #expect(MCPEra.sessionBased(.v2025_03_26).version == .v2025_03_26)
        #expect(MCPProtocolVersion.known.filter(\.allowsBatching) == [.v2025_03_26])
        #expect(
            MCPProtocolVersion.known.filter(\.requiresProtocolVersionHeader) == [
                .v2025_06_18, .v2025_11_25, .v2026_07_28,
            ]
        )
        #expect(MCPVersionSupport.default.sessionBased == [.v2024_11_05, .v2025_03_26, .v2025_06_18, .v2025_11_25])
        #expect(MCPVersionSupport.default.stateless == [.v2026_07_28])
    }

    // MARK: Legacy initialize

    /// `InitializeRequest` params as in docs/specification/2025-11-25/basic/lifecycle.mdx, with the
    /// requested version substituted.
    static func initialize(_ version: String) throws -> JSONRPCMessage {
        try decodeSingle(
            """
            {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":\(version),\
            "capabilities":{"roots":{"listChanged":true},"sampling":{},"elicitation":{"form":{},"url":{}},\
            "tasks":{"requests":{"elicitation":{"create":{}},"sampling":{"createMessage":{}}}}},\
            "clientInfo":{"name":"ExampleClient","title":"Example Client Display Name","version":"1.0.0"}}}
            """
        )
    }

    @Test(arguments: [
        (#""2025-11-25""#, MCPProtocolVersion.v2025_11_25),
        (#""2025-06-18""#, .v2025_06_18),
        (#""2025-03-26""#, .v2025_03_26),
        (#""2024-11-05""#, .v2024_11_05),
        // Parseable but unknown, or of the stateless era: counter-offer the newest session-based one.
        (#""2025-01-01""#, .v2025_11_25),
        (#""2026-07-28""#, .v2025_11_25),
        (#""2099-12-31""#, .v2025_11_25),
    ])
    func negotiatesInitialize(requested: String, answered: MCPProtocolVersion) throws {
        let message = try Self.initialize(requested)
        #expect(try MCPVersionSupport.default.negotiateInitialize(params: message.params) == .sessionBased(answered))
    }

    @Test func counterOffersTheNewestEnabledVersion() throws {
        let support = MCPVersionSupport([.v2025_06_18, .v2025_03_26, .v2026_07_28])
        #expect(support.sessionBased == [.v2025_03_26, .v2025_06_18])
        #expect(
            try support.negotiateInitialize(params: try Self.initialize(#""2025-11-25""#).params)
                == .sessionBased(.v2025_06_18)
        )
        #expect(
            try support.negotiateInitialize(params: try Self.initialize(#""2025-03-26""#).params)
                == .sessionBased(.v2025_03_26)
        )
    }

    @Test(arguments: [
        (#""1.0.0""#, #""1.0.0""#),
        ("5", "5"),
        ("null", "null"),
        (#"{"v":1}"#, #"{"v":1}"#),
    ])
    func unparseableVersionIsInvalidParams(requested: String, echoed: String) throws {
        let message = try Self.initialize(requested)
        do {
            _ = try MCPVersionSupport.default.negotiateInitialize(params: message.params)
            Issue.record("expected an error")
        } catch {
            #expect(
                encodedText(.errorResponse(id: JSONRPCID(1), error: error))
                    == #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unsupported protocol version","data":{"supported":["2024-11-05","2025-03-26","2025-06-18","2025-11-25"],"requested":"#
                    + echoed + "}}}"
            )
        }
    }

    @Test func missingProtocolVersionIsInvalidParams() throws {
        let message = try decodeSingle(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#)
        do {
            _ = try MCPVersionSupport.default.negotiateInitialize(params: message.params)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == -32602)
            #expect(error.data?["requested"] == .null)
        }
        do {
            _ = try MCPVersionSupport.default.negotiateInitialize(params: nil)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == -32602)
        }
    }

    @Test func noSessionEraMeansEveryInitializeFails() throws {
        let support = MCPVersionSupport([.v2026_07_28])
        let params = try Self.initialize(#""2025-11-25""#).params
        do {
            _ = try support.negotiateInitialize(params: params)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == -32602)
            #expect(error.data?["supported"] == .array([]))
        }
    }

    // MARK: 2026 request _meta

    @Test func validatesSpecRequestMeta() throws {
        let message = try decodeSingle(JSONRPCMessageTests.specToolsCall)
        let meta = try MCPVersionSupport.default.validateRequestMeta(params: message.params)
        #expect(meta.era == .stateless(.v2026_07_28))
        #expect(meta.clientCapabilities.isEmpty)
        #expect(meta.clientInfo?["name"] == .string("ExampleClient"))
        #expect(meta.logLevel == nil)
    }

    @Test func readsLogLevel() throws {
        let message = try Self.request(
            meta:
                #"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/logLevel":"debug"}"#
        )
        let meta = try MCPVersionSupport.default.validateRequestMeta(params: message.params)
        #expect(meta.logLevel == "debug")
        #expect(meta.clientCapabilities.keys == ["sampling"])
    }

    static func request(meta: String?) throws -> JSONRPCMessage {
        let params = meta.map { #"{"name":"t","_meta":"# + $0 + "}" } ?? #"{"name":"t"}"#
        return try decodeSingle(#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":"# + params + "}")
    }

    @Test(arguments: [
        (nil as String?, #"{"code":-32602,"message":"Missing _meta[\"io.modelcontextprotocol/protocolVersion\"]"}"#),
        ("{}", #"{"code":-32602,"message":"Missing _meta[\"io.modelcontextprotocol/protocolVersion\"]"}"#),
        (
            #"{"io.modelcontextprotocol/protocolVersion":20260728,"io.modelcontextprotocol/clientCapabilities":{}}"#,
            #"{"code":-32602,"message":"Missing _meta[\"io.modelcontextprotocol/protocolVersion\"]"}"#
        ),
        (
            #"{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}"#,
            #"{"code":-32602,"message":"Missing _meta[\"io.modelcontextprotocol/clientCapabilities\"]"}"#
        ),
        (
            #"{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":[]}"#,
            #"{"code":-32602,"message":"Missing _meta[\"io.modelcontextprotocol/clientCapabilities\"]"}"#
        ),
        (
            #"{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}"#,
            #"{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"2025-11-25"}}"#
        ),
        (
            #"{"io.modelcontextprotocol/protocolVersion":"DRAFT-2026-v1"}"#,
            #"{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"DRAFT-2026-v1"}}"#
        ),
        (
            #"{"io.modelcontextprotocol/protocolVersion":"2027-01-01","io.modelcontextprotocol/clientCapabilities":{}}"#,
            #"{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"2027-01-01"}}"#
        ),
    ])
    func invalidRequestMeta(meta: String?, expectedError: String) throws {
        let message = try Self.request(meta: meta)
        do {
            _ = try MCPVersionSupport.default.validateRequestMeta(params: message.params)
            Issue.record("expected an error")
        } catch {
            #expect(utf8(error.jsonValue.serialized()) == expectedError)
        }
    }
}
