import GatehouseJSON
import LLMProxy
import NIOCore
import Testing

/// The text of `member`'s value, read back through its range.
private func valueText(_ body: ByteBuffer, _ member: TopLevelJSONObject.Member?) -> String? {
    guard let member else { return nil }
    return body.getString(at: body.readerIndex + member.valueRange.lowerBound, length: member.valueRange.count)
}

/// A body whose readable bytes start after a prefix, as slices of a larger buffer do.
private func bufferAfterPrefix(_ text: String) -> ByteBuffer {
    var buffer = ByteBuffer(string: "HTTP junk before the body")
    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
    buffer.writeString(text)
    return buffer
}

/// Applies the edits and returns the edited body as text, after checking it is one JSON document.
private func edit(_ text: String, _ edits: [(String, String)]) throws -> String {
    try edit(ByteBuffer(string: text), edits)
}

private func edit(_ body: ByteBuffer, _ edits: [(String, String)]) throws -> String {
    var editor = JSONBodyEditor(body: body, object: try TopLevelJSONObject(scanning: body))
    for (key, rawValue) in edits { editor.set(key, rawValue: Array(rawValue.utf8)) }
    let edited = String(buffer: editor.edited())
    _ = try JSONValue.parse(edited)
    return edited
}

@Suite("TopLevelJSONObject")
struct TopLevelJSONObjectTests {
    @Test func findsExactValueRanges() throws {
        let body = ByteBuffer(string: #"{"a":1, "b" : "x"}"#)
        let object = try TopLevelJSONObject(scanning: body)
        #expect(object.openBrace == 0)
        #expect(object.closeBrace == 17)
        #expect(object.members.map(\.key) == ["a", "b"])
        #expect(object.member("a")?.valueRange == 5..<6)
        #expect(object.member("b")?.valueRange == 14..<17)
        #expect(object.member("c") == nil)
    }

    @Test func skipsNestedValuesWithBracesAndEscapedQuotesInStrings() throws {
        let text = #"""
            {"model":"gpt-4o-mini","messages":[{"role":"user","content":"a } ] { [ \" still inside"}],\#
            "metadata":{"k":{"inner":"}"},"list":[[],{}]},"stream":true,"temperature":0.70,"stop":"\\",\#
            "quote":"\"}","n":null,"e":-1.5e3}
            """#
        let body = ByteBuffer(string: text)
        let object = try TopLevelJSONObject(scanning: body)
        #expect(
            object.members.map(\.key)
                == ["model", "messages", "metadata", "stream", "temperature", "stop", "quote", "n", "e"]
        )
        #expect(valueText(body, object.member("model")) == #""gpt-4o-mini""#)
        #expect(
            valueText(body, object.member("messages"))
                == #"[{"role":"user","content":"a } ] { [ \" still inside"}]"#
        )
        #expect(valueText(body, object.member("metadata")) == #"{"k":{"inner":"}"},"list":[[],{}]}"#)
        #expect(valueText(body, object.member("stream")) == "true")
        #expect(valueText(body, object.member("temperature")) == "0.70")
        #expect(valueText(body, object.member("stop")) == #""\\""#)
        #expect(valueText(body, object.member("quote")) == #""\"}""#)
        #expect(valueText(body, object.member("n")) == "null")
        #expect(valueText(body, object.member("e")) == "-1.5e3")
        #expect(object.openBrace == 0)
        #expect(object.closeBrace == text.utf8.count - 1)
    }

    @Test func rangesAreRelativeToTheReadableBytesAndSkipWhitespace() throws {
        let text = "\n  { \"model\" :\t\"m\" ,\r\n \"x\": [ 1 , 2 ] }  \n"
        let body = bufferAfterPrefix(text)
        let object = try TopLevelJSONObject(scanning: body)
        #expect(object.openBrace == 3)
        #expect(object.member("model")?.valueRange == 15..<18)
        #expect(valueText(body, object.member("model")) == #""m""#)
        #expect(valueText(body, object.member("x")) == "[ 1 , 2 ]")
        #expect(object.closeBrace == text.utf8.count - 4)
    }

    @Test func emptyObjectHasNoMembers() throws {
        let object = try TopLevelJSONObject(scanning: ByteBuffer(string: " { } "))
        #expect(object.members.isEmpty)
        #expect(object.openBrace == 1)
        #expect(object.closeBrace == 3)
    }

    @Test(arguments: [
        // (body, offset where scanning stopped)
        ("[1]", 0),
        (#""string""#, 0),
        ("", 0),
        ("   ", 3),
        (#"{"a":1} x"#, 8),
        (#"{"a":1}{}"#, 7),
        (#"{"a":"unterminated}"#, 19),
        (#"{"a":{"b":"x}"#, 13),
        (#"{"a":1"#, 6),
        (#"{"a":1,}"#, 7),
        (#"{"a" 1}"#, 5),
        (#"{"a":}"#, 5),
        (#"{a:1}"#, 1),
        (#"{"a":1 "b":2}"#, 7),
    ])
    func invalidBodiesThrowWithTheOffset(text: String, offset: Int) {
        let error = #expect(throws: TopLevelJSONObject.Invalid.self) {
            try TopLevelJSONObject(scanning: ByteBuffer(string: text))
        }
        #expect(error?.offset == offset)
    }

    /// `model` is read from the first member with that key while the provider may read another
    /// one, so a body with the key twice (literally or through an escape) must not pass as valid.
    @Test(arguments: [
        #"{"model":"cheap","messages":[],"model":"expensive"}"#,
        #"{"model":"cheap","mod\u0065l":"expensive"}"#,
    ])
    func duplicateTopLevelKeysAreRejected(text: String) {
        #expect(throws: TopLevelJSONObject.Invalid.self) {
            try TopLevelJSONObject(scanning: ByteBuffer(string: text))
        }
    }
}

@Suite("JSONBodyEditor")
struct JSONBodyEditorTests {
    @Test func replacingModelKeepsEveryOtherByte() throws {
        let original =
            #"{"model":"gpt-4o","messages":[{"role":"user","content":"say \"model\": {}"}],"temperature":0.70,"x":1e-3}"#
        let edited = try edit(original, [("model", #""gpt-4o-2024-08-06""#)])
        #expect(
            edited
                == #"{"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":"say \"model\": {}"}],"temperature":0.70,"x":1e-3}"#
        )
    }

    @Test func replacingKeepsWhitespaceAndWorksOnSlices() throws {
        let body = bufferAfterPrefix("{ \"model\" : \"a\" ,\n  \"x\":1 }")
        #expect(try edit(body, [("model", #""longer-name""#)]) == "{ \"model\" : \"longer-name\" ,\n  \"x\":1 }")
    }

    @Test func replacingTheLastMemberKeepsTheClosingBytes() throws {
        #expect(try edit(#"{"a":1,"model":"m"}  "#, [("model", #""n""#)]) == #"{"a":1,"model":"n"}  "#)
    }

    @Test func insertingIntoANonEmptyObjectLeavesTheRestUnchanged() throws {
        let original = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let edited = try edit(original, [("stream_options", #"{"include_usage":true}"#)])
        let inserted = #""stream_options":{"include_usage":true},"#
        #expect(edited == #"{"# + inserted + original.dropFirst())
        let value = try JSONValue.parse(edited)
        #expect(value["stream_options"]?["include_usage"] == .bool(true))
        #expect(value.objectValue?.keys == ["stream_options", "model", "stream", "messages"])
    }

    @Test func replacingAndInsertingTogether() throws {
        let edited = try edit(
            #"{"model":"alias","stream":true,"messages":[]}"#,
            [("model", #""gpt-4o-mini""#), ("stream_options", #"{"include_usage":true}"#)]
        )
        #expect(
            edited == #"{"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,"messages":[]}"#
        )
    }

    @Test func replacingAnExistingObjectValue() throws {
        let edited = try edit(
            #"{"model":"m","stream_options":{"include_usage":false},"stream":true}"#,
            [("stream_options", #"{"include_usage":true}"#)]
        )
        #expect(edited == #"{"model":"m","stream_options":{"include_usage":true},"stream":true}"#)
    }

    @Test func oneInsertionIntoAnEmptyObject() throws {
        #expect(try edit("{}", [("a", "1")]) == #"{"a":1}"#)
        #expect(try edit(" { } ", [("a", "1")]) == #" {"a":1 } "#)
    }

    @Test func twoInsertionsIntoAnEmptyObjectProduceValidJSON() throws {
        let edited = try edit("{}", [("a", "1"), ("b", #""two""#)])
        #expect(edited == #"{"b":"two","a":1}"#)
        let object = try #require(try JSONValue.parse(edited).objectValue)
        #expect(object["a"] == .number("1"))
        #expect(object["b"] == .string("two"))
    }

    @Test func threeInsertionsIntoAnEmptyObjectProduceValidJSON() throws {
        #expect(try edit("{\n}", [("a", "1"), ("b", "2"), ("c", "3")]) == "{\"c\":3,\"b\":2,\"a\":1\n}")
    }

    @Test func insertedKeysAreEscaped() throws {
        #expect(try edit("{}", [("we\"ird", "true")]) == #"{"we\"ird":true}"#)
    }

    @Test func noEditsReturnTheBodyUnchanged() throws {
        let body = bufferAfterPrefix(#"{"model":"m"}"#)
        let editor = JSONBodyEditor(body: body, object: try TopLevelJSONObject(scanning: body))
        #expect(editor.edited() == body)
    }
}
