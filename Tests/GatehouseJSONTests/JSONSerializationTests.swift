import GatehouseJSON
import Testing

/// `writeString` output as text.
private func written(_ text: String) -> String {
    var output: [UInt8] = []
    JSONValue.writeString(text, into: &output)
    return String(decoding: output, as: UTF8.self)
}

@Suite("JSONValue serialization")
struct JSONSerializationTests {
    /// Compact documents written with the escapes the serializer itself uses come back byte for byte.
    @Test(arguments: [
        #"{"z":1,"a":2,"m":[true,false,null]}"#,
        #"[1.50,-0,2e-3,1E+10,-12.5e-7,0,0.70]"#,
        #"{"s":"quote\" backslash\\ nl\n cr\r tab\t ctl\u0001\u001f é 😀 slash/"}"#,
        #"{"dup":1,"x":{},"dup":2}"#,
        #"{"nested":{"deep":{"deeper":[[],{},[{"k":"v"}]]}},"empty":"","n":null}"#,
        #""just a string""#,
        "42",
        "null",
        "[]",
        "{}",
    ])
    func compactDocumentsRoundTripByteExact(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == Array(text.utf8))
        #expect(value.serializedString == text)
    }

    @Test func whitespaceIsDroppedAndEverythingElseKept() throws {
        let value = try JSONValue.parse(" {\n  \"b\" : [ 1.0 , \"x\" ],\n  \"a\" : { }\n} ")
        #expect(value.serializedString == #"{"b":[1.0,"x"],"a":{}}"#)
    }

    @Test func keyOrderIsPreserved() throws {
        let keys = ["zeta", "alpha", "mu", "beta", "omega", "a"]
        var object = JSONObject()
        for (index, key) in keys.enumerated() { object[key] = JSONValue(index) }
        let text = JSONValue.object(object).serializedString
        #expect(text == #"{"zeta":0,"alpha":1,"mu":2,"beta":3,"omega":4,"a":5}"#)
        #expect(try JSONValue.parse(text).objectValue?.keys == keys)
    }

    @Test func shortEscapesWithoutAShortFormAreWrittenAsUnicodeEscapes() throws {
        let value = try JSONValue.parse(#""\b\f\/""#)
        #expect(value.serializedString == #""\u0008\u000c/""#)
    }

    @Test func nonASCIIEscapesAreWrittenAsUTF8() throws {
        let value = try JSONValue.parse(#""\u00e9\ud83d\ude00""#)
        #expect(value.serialized() == [0x22, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0x22])
    }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("", #""""#),
        ("a\"b", #""a\"b""#),
        ("a\\b", #""a\\b""#),
        ("a\nb", #""a\nb""#),
        ("\r\t", #""\r\t""#),
        ("\u{01}", #""\u0001""#),
        ("\u{1F}", #""\u001f""#),
        ("\u{0}", #""\u0000""#),
        ("\u{08}\u{0C}\u{0B}", #""\u0008\u000c\u000b""#),
        ("\u{7F}", "\"\u{7F}\""),
        ("a/b", #""a/b""#),
        ("é 😀", #""é 😀""#),
        ("\u{2028}", "\"\u{2028}\""),
    ])
    func writeStringEscapes(text: String, expected: String) throws {
        #expect(written(text) == expected)
        #expect(try JSONValue.parse(expected) == .string(text))
    }

    @Test func writeStringPassesNonASCIIThroughAsUTF8Bytes() {
        var output: [UInt8] = []
        JSONValue.writeString("é😀", into: &output)
        #expect(output == [0x22, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0x22])
    }

    @Test func writeStringAppendsToExistingOutput() {
        var output: [UInt8] = Array("prefix:".utf8)
        JSONValue.writeString("x", into: &output)
        #expect(String(decoding: output, as: UTF8.self) == #"prefix:"x""#)
    }

    @Test func writeIntoAppends() {
        var output: [UInt8] = Array("[".utf8)
        JSONValue.array([.bool(true), .null]).write(into: &output)
        #expect(String(decoding: output, as: UTF8.self) == "[[true,null]")
    }
}
