import Testing

@testable import MCPHost

@Suite("MCPHeaderValidation")
struct MCPHeaderValidationTests {
    // MARK: Value encoding

    /// The "Encoding examples" table of docs/specification/2026-07-28/basic/transports/streamable-http.mdx.
    @Test(arguments: [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    ])
    func specEncodingExamples(original: String, encoded: String) {
        #expect(MCPHeaderValue.encode(original) == encoded)
        #expect(MCPHeaderValue.decode(encoded) == original)
    }

    @Test(arguments: [
        ("a b", "a b"),
        ("", "=?base64??="),
        ("a\tb", "=?base64?YQli?="),
        ("trailing ", "=?base64?dHJhaWxpbmcg?="),
        ("\u{7F}", "=?base64?fw==?="),
        ("file:///projects/myapp/config.json", "file:///projects/myapp/config.json"),
        ("=?base64?", "=?base64?"),
        ("?=", "?="),
    ])
    func moreEncodings(original: String, encoded: String) {
        #expect(MCPHeaderValue.encode(original) == encoded)
        #expect(MCPHeaderValue.decode(encoded) == original)
    }

    @Test(arguments: [
        "=?base64?@@@@?=",  // not the alphabet
        "=?base64?QQ?=",  // missing padding
        "=?base64?QR==?=",  // non-zero unused bits
        "=?base64?QUJ=?=",  // non-zero unused bits, one pad
        "=?base64?A===?=",  // too much padding
        "=?base64?QQ==QQ==?=",  // padding before the end
        "=?base64?/w==?=",  // 0xFF is not UTF-8
        "a\u{01}b",  // control character
        "é",  // not ASCII
        "a\r\nb",
    ])
    func invalidHeaderValues(value: String) {
        #expect(MCPHeaderValue.decode(value) == nil)
    }

    @Test func sentinelMarkersAreCaseSensitive() {
        #expect(MCPHeaderValue.decode("=?BASE64?QQ==?=") == "=?BASE64?QQ==?=")
        #expect(MCPHeaderValue.decode("=?base64?QQ==?=") == "A")
        #expect(MCPHeaderValue.decode("tab\tinside") == "tab\tinside")
    }

    @Test func encodesJSONValues() {
        #expect(MCPHeaderValue.encode(.string("x")) == "x")
        #expect(MCPHeaderValue.encode(.number("42")) == "42")
        #expect(MCPHeaderValue.encode(.number("-7")) == "-7")
        #expect(MCPHeaderValue.encode(.number("42.0")) == "42")
        #expect(MCPHeaderValue.encode(.number("1.5")) == nil)
        #expect(MCPHeaderValue.encode(.bool(true)) == "true")
        #expect(MCPHeaderValue.encode(.bool(false)) == "false")
        #expect(MCPHeaderValue.encode(.null) == nil)
        #expect(MCPHeaderValue.encode(.array([])) == nil)
        #expect(MCPHeaderValue.encode(.object(.init())) == nil)
    }

    /// RFC 4648 §10 test vectors, then every length up to 40 over all byte values.
    @Test func base64() {
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
        }
        for length in 0...40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + length * 101) }
            #expect(Base64.decode(Array(Base64.encode(bytes).utf8)) == bytes)
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }

    @Test(arguments: [
        ("42", "42"), ("42.0", "42"), ("4.2e1", "42"), ("420e-1", "42"), ("4.20E+1", "42"), ("-0", "0"), ("0.000", "0"),
        ("-12.340e2", "-1234"), ("9007199254740993", "9007199254740993"), ("0e5", "0"), ("100", "100"),
    ])
    func integerValues(literal: String, canonical: String) {
        #expect(DecimalInteger.canonical(literal) == canonical)
    }

    @Test(arguments: [
        "1.5", "4.21e1", "01", "1.", ".5", "-", "1e", "1e+", "abc", "", "+1", "1e1000", " 1", "0x10", "1e-1",
    ])
    func nonIntegerValues(literal: String) {
        #expect(DecimalInteger.canonical(literal) == nil)
    }

    @Test func largeExponentsStayExact() throws {
        let value = try #require(DecimalInteger.canonical("1e400"))
        #expect(value.count == 401)
        #expect(value.hasPrefix("10000"))
        #expect(DecimalInteger.canonical("1e401") == nil)
    }

    // MARK: x-mcp-header bindings

    /// The inputSchema of the `execute_sql` example in streamable-http.mdx (2026-07-28).
    static let specSchema = """
        {"type":"object","properties":{"region":{"type":"string","description":"The region to execute the query in",\
        "x-mcp-header":"Region"},"query":{"type":"string","description":"The SQL query to execute"}},\
        "required":["region","query"]}
        """

    static func bindings(_ schema: String) throws -> MCPToolHeaderBindings {
        let holder = try decodeSingle(#"{"jsonrpc":"2.0","id":0,"result":{"inputSchema":"# + schema + "}}")
        guard case .response(_, let result) = holder.kind, let inputSchema = result["inputSchema"] else {
            throw NotASingleMessage()
        }
        return try MCPToolHeaderBindings(inputSchema: inputSchema)
    }

    @Test func specBinding() throws {
        let bindings = try Self.bindings(Self.specSchema)
        #expect(
            bindings.bindings == [
                MCPToolHeaderBinding(headerName: "Region", propertyPath: ["region"], valueType: .string)
            ]
        )
        #expect(bindings.bindings.first?.fieldName == "Mcp-Param-Region")
    }

    @Test func nestedAndNullableBindings() throws {
        let bindings = try Self.bindings(
            """
            {"type":"object","properties":{"target":{"type":"object","properties":{"tenant":{"type":["string","null"],\
            "x-mcp-header":"Tenant"},"shard":{"type":"integer","x-mcp-header":"Shard"}}},"dry":{"type":"boolean",\
            "x-mcp-header":"Dry-Run"},"x-mcp-header":{"type":"string"},"mode":{"type":"string","const":{"x-mcp-header":"X"},\
            "default":{"x-mcp-header":"Y"}}}}
            """
        )
        #expect(
            bindings.bindings == [
                MCPToolHeaderBinding(headerName: "Tenant", propertyPath: ["target", "tenant"], valueType: .string),
                MCPToolHeaderBinding(headerName: "Shard", propertyPath: ["target", "shard"], valueType: .integer),
                MCPToolHeaderBinding(headerName: "Dry-Run", propertyPath: ["dry"], valueType: .boolean),
            ]
        )
        #expect(try Self.bindings(#"{"type":"object"}"#) == .none)
    }

    @Test(arguments: [
        (
            #"{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}}"#,
            "not reachable"
        ),
        (#"{"type":"object","oneOf":[{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}]}"#, "not reachable"),
        (#"{"type":"object","$defs":{"a":{"type":"string","x-mcp-header":"A"}}}"#, "not reachable"),
        (#"{"type":"object","patternProperties":{"^a":{"type":"string","x-mcp-header":"A"}}}"#, "not reachable"),
        (#"{"type":"object","if":{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}}"#, "not reachable"),
        (#"{"type":"object","x-mcp-header":"Root"}"#, "not reachable"),
        (#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":""}}}"#, "non-empty HTTP token"),
        (#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Re gion"}}}"#, "non-empty HTTP token"),
        (#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"A:B"}}}"#, "non-empty HTTP token"),
        (#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"A\nB"}}}"#, "non-empty HTTP token"),
        (#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":7}}}"#, "non-empty HTTP token"),
        (#"{"type":"object","properties":{"a":{"type":"number","x-mcp-header":"A"}}}"#, "string, integer or boolean"),
        (#"{"type":"object","properties":{"a":{"x-mcp-header":"A"}}}"#, "string, integer or boolean"),
        (#"{"type":"object","properties":{"a":{"type":"object","x-mcp-header":"A"}}}"#, "string, integer or boolean"),
        (
            #"{"type":"object","properties":{"a":{"type":["string","integer"],"x-mcp-header":"A"}}}"#,
            "string, integer or boolean"
        ),
        (
            #"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"region"}}}"#,
            "used twice"
        ),
    ])
    func invalidBindings(schema: String, reasonContains: String) {
        do {
            _ = try Self.bindings(schema)
            Issue.record("expected \(schema) to be rejected")
        } catch let error as MCPToolHeaderBindingError {
            #expect(error.reason.contains(reasonContains), "\(error.reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: Validation

    /// The `execute_sql` request of streamable-http.mdx, with its headers.
    static let specRequest = """
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":\
        "2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"ExampleClient","version":"1.0.0"},\
        "io.modelcontextprotocol/clientCapabilities":{}},"name":"execute_sql","arguments":{"region":"us-west1",\
        "query":"SELECT * FROM users"}}}
        """
    static let specHeaders: [(name: String, value: String)] = [
        ("Content-Type", "application/json"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "execute_sql"),
        ("Mcp-Param-Region", "us-west1"),
    ]

    static func validate(
        _ headers: [(name: String, value: String)],
        _ body: String = specRequest,
        schema: String = specSchema
    ) throws -> MCPHeaderValidationResult {
        MCPHeaderValidation.validate(
            MCPRequestHeaders(headers),
            against: try decodeSingle(body),
            toolHeaders: try bindings(schema)
        )
    }

    static func replacing(_ name: String, with value: String?) -> [(name: String, value: String)] {
        var headers = specHeaders.filter { $0.name != name }
        if let value { headers.append((name, value)) }
        return headers
    }

    @Test func specRequestIsValid() throws {
        #expect(try Self.validate(Self.specHeaders) == .valid)
        let lowercased = Self.specHeaders.map { (name: $0.name.lowercased(), value: $0.value) }
        #expect(try Self.validate(lowercased) == .valid)
    }

    @Test(arguments: [
        ("MCP-Protocol-Version", nil as String?, "MCP-Protocol-Version is missing" as String?),
        ("MCP-Protocol-Version", "2025-11-25", "MCP-Protocol-Version does not match the body"),
        ("Mcp-Method", nil, "Mcp-Method is missing"),
        ("Mcp-Method", "tools/list", "Mcp-Method does not match the body"),
        ("Mcp-Method", "Tools/Call", "Mcp-Method does not match the body"),
        ("Mcp-Name", nil, "Mcp-Name is missing"),
        ("Mcp-Name", "execute_SQL", "Mcp-Name does not match the body"),
        ("Mcp-Name", "=?base64?@?=", "Mcp-Name has an invalid value"),
        ("Mcp-Name", "exécute", "Mcp-Name has an invalid value"),
        ("Mcp-Param-Region", nil, "Mcp-Param-Region is missing"),
        ("Mcp-Param-Region", "us-east1", "Mcp-Param-Region does not match the argument"),
        ("Mcp-Param-Region", "=?base64?dXMtd2VzdDE=?=", nil),  // "us-west1", encoded
        ("Mcp-Param-Region", "=?base64?dXMtd2VzdDE?=", "Mcp-Param-Region has an invalid value"),
        ("Mcp-Param-Other", "anything", nil),  // not a binding: ignored and forwarded
    ])
    func singleHeaderChanges(name: String, value: String?, reason: String?) throws {
        let result = try Self.validate(Self.replacing(name, with: value))
        #expect(result == (reason.map { .mismatch(reason: $0) } ?? .valid))
    }

    @Test func duplicateHeadersAreAmbiguous() throws {
        let twice = Self.specHeaders + [("mcp-name", "execute_sql")]
        #expect(try Self.validate(twice) == .mismatch(reason: "Mcp-Name appears more than once"))
        let params = Self.specHeaders + [("MCP-PARAM-REGION", "us-west1")]
        #expect(try Self.validate(params) == .mismatch(reason: "Mcp-Param-Region appears more than once"))
    }

    @Test func encodedNameMatches() throws {
        let body = Self.specRequest.replacingFirst("\"execute_sql\"", with: "\"天気 \"")
        let headers = Self.replacing("Mcp-Name", with: MCPHeaderValue.encode("天気 "))
        #expect(headers.last?.value == "=?base64?5aSp5rCXIA==?=")
        #expect(try Self.validate(headers, body) == .valid)
        #expect(
            try Self.validate(Self.replacing("Mcp-Name", with: "天気 "), body)
                == .mismatch(reason: "Mcp-Name has an invalid value")
        )
    }

    @Test func absentOrNullArgumentMeansNoHeader() throws {
        let noRegion = Self.specRequest.replacingFirst(#""region":"us-west1","#, with: "")
        let nullRegion = Self.specRequest.replacingFirst(#""region":"us-west1""#, with: #""region":null"#)
        let withoutHeader = Self.replacing("Mcp-Param-Region", with: nil)
        #expect(try Self.validate(withoutHeader, noRegion) == .valid)
        #expect(try Self.validate(withoutHeader, nullRegion) == .valid)
        #expect(
            try Self.validate(Self.specHeaders, noRegion)
                == .mismatch(reason: "Mcp-Param-Region is present but the argument is absent")
        )
        #expect(
            try Self.validate(Self.specHeaders, nullRegion)
                == .mismatch(reason: "Mcp-Param-Region is present but the argument is absent")
        )
    }

    static let typedSchema = """
        {"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"N"},"b":{"type":"boolean","x-mcp-header":"B"}}}
        """

    @Test(arguments: [
        ("42", "42", "true", "true", true),
        ("42", "42.0", "true", "true", true),
        ("42.0", "42", "false", "false", true),
        ("4.2e1", "42", "true", "true", true),
        ("-7", "-7", "true", "true", true),
        ("42", "43", "true", "true", false),
        ("42", "042", "true", "true", false),
        ("42", "=?base64?NDI=?=", "true", "true", true),  // "42", encoded
        ("42", "42", "true", "True", false),
        ("42", "42", "true", "1", false),
        ("1.5", "1.5", "true", "true", false),  // a fraction cannot be an integer header
    ])
    func typedArguments(
        bodyNumber: String,
        headerNumber: String,
        bodyBool: String,
        headerBool: String,
        isValid: Bool
    )
        throws
    {
        let body = """
            {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":\(bodyNumber),"b":\(bodyBool)},\
            "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}
            """
        let headers: [(name: String, value: String)] = [
            ("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", "t"),
            ("Mcp-Param-N", headerNumber), ("Mcp-Param-B", headerBool),
        ]
        let result = try Self.validate(headers, body, schema: Self.typedSchema)
        #expect((result == .valid) == isValid, "\(result)")
    }

    @Test func otherMethods() throws {
        let meta =
            #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#
        let read =
            #"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///projects/myapp/config.json","#
            + meta + "}}"
        let readHeaders: [(name: String, value: String)] = [
            ("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "resources/read"),
            ("Mcp-Name", "file:///projects/myapp/config.json"),
        ]
        #expect(try Self.validate(readHeaders, read) == .valid)
        #expect(
            try Self.validate(Array(readHeaders.prefix(2)) + [("Mcp-Name", "file:///other")], read)
                == .mismatch(reason: "Mcp-Name does not match the body")
        )
        let prompt = #"{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"code_review","# + meta + "}}"
        let promptHeaders: [(name: String, value: String)] = [
            ("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "prompts/get"), ("Mcp-Name", "code_review"),
        ]
        #expect(try Self.validate(promptHeaders, prompt) == .valid)
        #expect(try Self.validate(Array(promptHeaders.prefix(2)), prompt) == .mismatch(reason: "Mcp-Name is missing"))
        // tools/list has no Mcp-Name and no Mcp-Param-* to check.
        let list = #"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"# + meta + "}}"
        let listHeaders: [(name: String, value: String)] = [
            ("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/list"),
        ]
        #expect(try Self.validate(listHeaders + [("Mcp-Param-Region", "x")], list) == .valid)
        // A body with no _meta version cannot match a version header.
        let bare = #"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#
        #expect(
            try Self.validate(listHeaders, bare)
                == .mismatch(reason: "MCP-Protocol-Version is present but the body has no matching value")
        )
        // A notification needs no headers, but those present must match.
        let notification = #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#
        #expect(try Self.validate([], notification) == .valid)
        #expect(
            try Self.validate([("Mcp-Method", "notifications/progress")], notification)
                == .mismatch(reason: "Mcp-Method does not match the body")
        )
        let response = #"{"jsonrpc":"2.0","id":1,"result":{}}"#
        #expect(try Self.validate([], response) == .mismatch(reason: "the body is not a request"))
    }

    @Test func mismatchRendersHeaderMismatchError() {
        let result = MCPHeaderValidationResult.mismatch(reason: "Mcp-Name does not match the body")
        #expect(
            result.headerMismatchError
                == JSONRPCErrorObject(code: -32020, message: "Header mismatch: Mcp-Name does not match the body")
        )
        #expect(MCPHeaderValidationResult.valid.headerMismatchError == nil)
    }

    // MARK: Outgoing headers

    @Test func regeneratesSpecHeaders() throws {
        let headers = MCPHeaderValidation.headers(
            for: try decodeSingle(Self.specRequest),
            toolHeaders: try Self.bindings(Self.specSchema)
        )
        #expect(headers.map(\.name) == ["MCP-Protocol-Version", "Mcp-Method", "Mcp-Name", "Mcp-Param-Region"])
        #expect(headers.map(\.value) == ["2026-07-28", "tools/call", "execute_sql", "us-west1"])
    }

    @Test func regeneratedHeadersAlwaysValidate() throws {
        let values = [
            #""plain""#, #""Hello, 世界""#, #"" padded ""#, #""line1\nline2""#, #""=?base64?literal?=""#, #""""#,
        ]
        for value in values {
            let body = """
                {"jsonrpc":"2.0","id":"r","method":"tools/call","params":{"name":\(value),"arguments":{"region":\(value),\
                "n":-12,"b":false},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",\
                "io.modelcontextprotocol/clientCapabilities":{}}}}
                """
            let schema = """
                {"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},\
                "n":{"type":"integer","x-mcp-header":"N"},"b":{"type":"boolean","x-mcp-header":"B"}}}
                """
            let message = try decodeSingle(body)
            let bindings = try Self.bindings(schema)
            let headers = MCPHeaderValidation.headers(for: message, toolHeaders: bindings)
            #expect(headers.count == 6)
            #expect(
                MCPHeaderValidation.validate(MCPRequestHeaders(headers), against: message, toolHeaders: bindings)
                    == .valid
            )
        }
    }

    @Test func headersOfANotification() throws {
        let headers = MCPHeaderValidation.headers(for: try decodeSingle(#"{"jsonrpc":"2.0","method":"n"}"#))
        #expect(headers.map(\.name) == ["Mcp-Method"])
    }

    @Test func legacyProtocolVersionHeader() {
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: nil, negotiated: nil) == .v2025_03_26)
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: nil, negotiated: .v2025_11_25) == .v2025_11_25)
        #expect(
            MCPHeaderValidation.legacyProtocolVersion(header: "2025-11-25", negotiated: .v2025_11_25) == .v2025_11_25
        )
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: "2025-06-18", negotiated: .v2025_11_25) == nil)
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: "2025-06-18", negotiated: nil) == .v2025_06_18)
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: "2026-07-28", negotiated: nil) == nil)
        #expect(MCPHeaderValidation.legacyProtocolVersion(header: "latest", negotiated: nil) == nil)
    }
}

extension String {
    /// Replaces the first occurrence of `target`; the fixtures it edits contain it exactly once.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        var copy = self
        guard let range = copy.firstRange(of: target) else { return self }
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
