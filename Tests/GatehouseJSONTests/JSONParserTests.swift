import GatehouseJSON
import Testing

/// Expects `parse` to refuse `bytes`, stopping at `offset` for `reason`.
private func expectParseError(
    _ bytes: [UInt8],
    maximumDepth: Int = 256,
    offset: Int,
    reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let error = #expect(throws: JSONParseError.self, sourceLocation: sourceLocation) {
        try JSONValue.parse(bytes, maximumDepth: maximumDepth)
    }
    #expect(error?.offset == offset, sourceLocation: sourceLocation)
    #expect(error?.reason == reason, sourceLocation: sourceLocation)
}

@Suite("JSONValue.parse")
struct JSONParserTests {
    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .number("0")),
        ("-0", .number("-0")),
        ("42", .number("42")),
        ("1.50", .number("1.50")),
        ("2e-3", .number("2e-3")),
        ("-12.5E+10", .number("-12.5E+10")),
        ("0.0", .number("0.0")),
        ("1e0", .number("1e0")),
        (#""""#, .string("")),
        (#""plain""#, .string("plain")),
        ("[]", .array([])),
        ("{}", .object(JSONObject())),
        (" \t\r\n[1 , 2]\n ", .array([.number("1"), .number("2")])),
    ])
    func parsesEveryKindOfValue(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test func numbersKeepTheirLiteralText() throws {
        let value = try JSONValue.parse("[1.50,-0,2e-3,1E+10,0.70]")
        #expect(value == .array([.number("1.50"), .number("-0"), .number("2e-3"), .number("1E+10"), .number("0.70")]))
        #expect(value.serializedString == "[1.50,-0,2e-3,1E+10,0.70]")
    }

    @Test func parsesNestedDocumentsInOrder() throws {
        let value = try JSONValue.parse(#"{"z":[1,{"b":null,"a":true}],"a":"d","m":{}}"#)
        let expected = JSONValue.object(
            JSONObject([
                "z": .array([.number("1"), .object(JSONObject(["b": .null, "a": .bool(true)]))]),
                "a": .string("d"),
                "m": .object(JSONObject()),
            ])
        )
        #expect(value == expected)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value["z"]?.arrayValue?[1].objectValue?.keys == ["b", "a"])
    }

    @Test(arguments: [
        (#""\u00e9""#, "é"),
        (#""\u00E9""#, "é"),
        (#""caf\u00e9!""#, "café!"),
        (#""\ud83d\ude00""#, "😀"),
        (#""x\uD83D\uDE00y""#, "x😀y"),
        (#""\u0000""#, "\u{0}"),
        (#""\u20ac""#, "€"),
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""raw é and 😀""#, "raw é and 😀"),
        (#""tab\tthen\u0001""#, "tab\tthen\u{01}"),
    ])
    func decodesStringEscapes(text: String, expected: String) throws {
        #expect(try JSONValue.parse(text) == .string(expected))
    }

    @Test(arguments: [
        // (document, offset, reason)
        ("", 0, "unexpected end of input"),
        ("   ", 3, "unexpected end of input"),
        (#"{"a":1} x"#, 8, "unexpected text after the document"),
        ("[1]]", 3, "unexpected text after the document"),
        ("01", 1, "unexpected text after the document"),
        ("null null", 5, "unexpected text after the document"),
        (#""\ud83d""#, 7, "unpaired surrogate"),
        (#""\ude00""#, 7, "unpaired surrogate"),
        (#""\ud83d\u0041""#, 13, "unpaired surrogate"),
        (#""\ud83dx""#, 7, "unpaired surrogate"),
        ("\"a\u{01}b\"", 2, "control character in string"),
        ("\"a\nb\"", 2, "control character in string"),
        ("\"\\n\u{1F}\"", 3, "control character in string"),
        (#""\x""#, 3, "invalid escape"),
        (#""\u12G4""#, 5, #"invalid \u escape"#),
        (#""\u12"#, 3, "unexpected end of input"),
        (#""\"#, 2, "unexpected end of input"),
        (#""abc"#, 4, "unterminated string"),
        ("tru", 0, "unexpected end of input"),
        ("trux", 0, "invalid literal"),
        ("nul", 0, "unexpected end of input"),
        ("-", 1, "invalid number"),
        ("1.", 2, "invalid number"),
        ("1e", 2, "invalid number"),
        ("1e+", 3, "invalid number"),
        ("-a", 1, "invalid number"),
        (".5", 0, "unexpected character"),
        ("+1", 0, "unexpected character"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a":1,}"#, 7, "expected a key"),
        ("{1:2}", 1, "expected a key"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        (#"{"a":1"#, 6, "unexpected end of input"),
        ("[1,]", 3, "unexpected character"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[", 1, "unexpected end of input"),
    ])
    func rejectsInvalidDocumentsWithOffset(text: String, offset: Int, reason: String) {
        expectParseError(Array(text.utf8), offset: offset, reason: reason)
    }

    @Test func errorDescriptionNamesTheOffset() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":1} x"#) }
        #expect(error?.description == "invalid JSON at byte 8: unexpected text after the document")
    }

    @Test func parsesFromBytes() throws {
        let bytes: [UInt8] = Array(#"{"k":"é"}"#.utf8)
        #expect(try JSONValue.parse(bytes) == .object(JSONObject(["k": .string("é")])))
        #expect(try JSONValue.parse(bytes[...]) == .object(JSONObject(["k": .string("é")])))
    }

    @Test func acceptsNestingUpToTheDefaultDepth() throws {
        let deepest = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        var value = try JSONValue.parse(deepest)
        var depth = 1
        while let inner = value.arrayValue?.first {
            value = inner
            depth += 1
        }
        #expect(depth == 256)
        #expect(value == .array([]))
    }

    @Test func refusesNestingBeyondTheDefaultDepth() {
        let tooDeep = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
        expectParseError(Array(tooDeep.utf8), offset: 256, reason: "nested deeper than 256 levels")
    }

    @Test func honoursACustomDepthLimit() throws {
        #expect(try JSONValue.parse(Array("[[]]".utf8), maximumDepth: 2) == .array([.array([])]))
        expectParseError(Array("[[[]]]".utf8), maximumDepth: 2, offset: 2, reason: "nested deeper than 2 levels")
        expectParseError(
            Array(#"{"a":{"b":{}}}"#.utf8),
            maximumDepth: 2,
            offset: 10,
            reason: "nested deeper than 2 levels"
        )
    }

    @Test func keepsDuplicateKeysInDocumentOrder() throws {
        let object = try #require(try JSONValue.parse(#"{"dup":1,"x":0,"dup":2}"#).objectValue)
        #expect(object.keys == ["dup", "x", "dup"])
        #expect(object["dup"] == .number("1"))
    }
}
