import GatehouseSSE
import LLMProxy
import NIOCore
import Testing

/// A stream in the shapes providers send: LF and CRLF line endings (OpenAI-compatible servers
/// differ), a lone-CR event, comment keep-alives, an `event:` line (Anthropic), multi-line data,
/// multi-byte characters a chunk may split, and blank lines between events.
private let fixtureEvents: [String] = [
    ": keep-alive\n\n",
    "event: message_start\ndata: {\"type\":\"message_start\",\"text\":\"{ } [\"}\n\n",
    "data: first line\r\ndata: second line\r\n\r\n",
    "id: 42\ndata:no-space\n: comment inside an event\n\n",
    "data: lone\rdata: carriage returns\r\r",
    "data: é ünïcödé 😀 漢字\n\n",
    "event: ping\ndata: {}\n\n",
    "data: [DONE]\n\n",
]

/// Blank lines between events carry nothing and must not surface as blocks.
private let fixtureStream: [UInt8] = Array(
    (fixtureEvents[0] + fixtureEvents[1] + "\n\n" + fixtureEvents[2] + "\r\n" + fixtureEvents[3]
        + fixtureEvents[4] + fixtureEvents[5] + "\n" + fixtureEvents[6] + fixtureEvents[7]).utf8
)

private let expectedBlocks: [[UInt8]] = fixtureEvents.map { Array($0.utf8) }

/// Feeds `chunks` to one framer and returns the raw blocks it emitted and what it still holds.
private func frame(
    _ chunks: [[UInt8]],
    maximumEventSize: Int = 8 << 20
) throws -> (blocks: [[UInt8]], unterminated: Int) {
    var framer = SSEEventFramer(maximumEventSize: maximumEventSize)
    var blocks: [[UInt8]] = []
    for chunk in chunks {
        for block in try framer.append(ByteBuffer(bytes: chunk)) {
            blocks.append(Array(block.readableBytesView))
        }
    }
    return (blocks, framer.unterminatedBytes)
}

@Suite("SSEEventFramer")
struct SSEEventFramerTests {
    @Test func wholeStreamYieldsEachEventVerbatim() throws {
        let result = try frame([fixtureStream])
        #expect(result.blocks == expectedBlocks)
        #expect(result.unterminated == 0)
    }

    @Test func everyTwoChunkSplitYieldsTheSameBlocks() throws {
        var mismatchedOffsets: [Int] = []
        var leftovers: [Int] = []
        for offset in 0...fixtureStream.count {
            let result = try frame([Array(fixtureStream[..<offset]), Array(fixtureStream[offset...])])
            if result.blocks != expectedBlocks { mismatchedOffsets.append(offset) }
            if result.unterminated != 0 { leftovers.append(offset) }
        }
        #expect(mismatchedOffsets == [])
        #expect(leftovers == [])
    }

    @Test func byteByByteYieldsTheSameBlocks() throws {
        let result = try frame(fixtureStream.map { [$0] })
        #expect(result.blocks == expectedBlocks)
        #expect(result.unterminated == 0)
    }

    @Test func blocksAreEmittedAsSoonAsTheirBlankLineArrives() throws {
        var framer = SSEEventFramer()
        #expect(try framer.append(ByteBuffer(string: "data: a\n")).isEmpty)
        #expect(framer.unterminatedBytes == 8)
        let blocks = try framer.append(ByteBuffer(string: "\ndata: b"))
        #expect(blocks.map { String(buffer: $0) } == ["data: a\n\n"])
        #expect(framer.unterminatedBytes == 7)
    }

    @Test func buffersWithAnAdvancedReaderIndexAreFramedFromTheirReadableBytes() throws {
        var framer = SSEEventFramer()
        var blocks: [String] = []
        for (index, chunk) in [fixtureStream[..<100], fixtureStream[100...]].enumerated() {
            var buffer = ByteBuffer(string: "junk\(index)")
            buffer.writeBytes(chunk)
            buffer.moveReaderIndex(forwardBy: 5)
            blocks += try framer.append(buffer).map { String(buffer: $0) }
        }
        #expect(blocks == fixtureEvents)
        #expect(framer.unterminatedBytes == 0)
    }

    @Test func truncatedStreamLeavesUnterminatedBytes() throws {
        let truncated = "data: {\"complete\":true}\n\ndata: {\"cut\":"
        let result = try frame([Array(truncated.utf8)])
        #expect(result.blocks == [Array("data: {\"complete\":true}\n\n".utf8)])
        #expect(result.unterminated == "data: {\"cut\":".utf8.count)
    }

    @Test func streamCutAfterTheLastLineButBeforeTheBlankLineIsUnterminated() throws {
        let result = try frame([Array("data: a\n\ndata: b\n".utf8)])
        #expect(result.blocks == [Array("data: a\n\n".utf8)])
        #expect(result.unterminated == 8)
    }

    @Test func onlyBlankLinesProduceNothing() throws {
        let result = try frame([Array("\n\r\n\n".utf8)])
        #expect(result.blocks == [])
        #expect(result.unterminated == 0)
    }

    @Test func unterminatedEventLargerThanTheMaximumThrows() throws {
        var framer = SSEEventFramer(maximumEventSize: 16)
        #expect(try framer.append(ByteBuffer(string: "data: 0123456789")).isEmpty)  // exactly 16 bytes
        let error = #expect(throws: SSEEventFramer.EventTooLarge.self) {
            try framer.append(ByteBuffer(string: "a"))
        }
        #expect(error?.maximumEventSize == 16)
    }

    @Test func completeEventsLargerThanTheMaximumInOneChunkDoNotThrow() throws {
        // The bound is on what the framer holds, not on one chunk.
        let events = "data: 0123456789abcdef\n\ndata: 0123456789abcdef\n\n"
        let result = try frame([Array(events.utf8)], maximumEventSize: 16)
        #expect(result.blocks.count == 2)
        #expect(result.unterminated == 0)
    }

    @Test func partialEventsAccumulateTowardsTheMaximum() throws {
        var framer = SSEEventFramer(maximumEventSize: 20)
        #expect(try framer.append(ByteBuffer(string: "data: 0123456789")).isEmpty)
        #expect(throws: SSEEventFramer.EventTooLarge.self) {
            try framer.append(ByteBuffer(string: "abcdefghij"))
        }
    }
}

@Suite("SSEEvent")
struct SSEEventTests {
    @Test func parsesEventNameAndData() {
        let event = SSEEvent.parse(ByteBuffer(string: "event: message_delta\ndata: {\"a\":1}\n\n"))
        #expect(event == SSEEvent(event: "message_delta", data: #"{"a":1}"#))
    }

    @Test func joinsMultiLineDataWithNewlines() {
        let event = SSEEvent.parse(ByteBuffer(string: "data: first\ndata: second\ndata: third\n\n"))
        #expect(event == SSEEvent(data: "first\nsecond\nthird"))
    }

    @Test func joinsCRLFAndCRLinesTheSameWay() {
        #expect(SSEEvent.parse(ByteBuffer(string: "data: a\r\ndata: b\r\n\r\n")) == SSEEvent(data: "a\nb"))
        #expect(SSEEvent.parse(ByteBuffer(string: "data: a\rdata: b\r\r")) == SSEEvent(data: "a\nb"))
    }

    @Test func readsTheID() {
        let event = SSEEvent.parse(ByteBuffer(string: "id: evt-7\ndata: x\n\n"))
        #expect(event == SSEEvent(data: "x", id: "evt-7"))
    }

    @Test func ignoresCommentsAndUnknownFields() {
        let event = SSEEvent.parse(ByteBuffer(string: ": comment\nretry: 1000\ndata: x\n: another\n\n"))
        #expect(event == SSEEvent(data: "x"))
    }

    @Test func dataWithoutASpaceAfterTheColon() {
        #expect(SSEEvent.parse(ByteBuffer(string: "data:x\n\n")) == SSEEvent(data: "x"))
        #expect(SSEEvent.parse(ByteBuffer(string: "event:ping\ndata:{}\n\n")) == SSEEvent(event: "ping", data: "{}"))
    }

    @Test func onlyOneLeadingSpaceIsRemoved() {
        #expect(SSEEvent.parse(ByteBuffer(string: "data:  two spaces\n\n")) == SSEEvent(data: " two spaces"))
    }

    @Test func emptyDataLinesContributeEmptyLines() {
        #expect(SSEEvent.parse(ByteBuffer(string: "data:\ndata: x\n\n")) == SSEEvent(data: "\nx"))
        #expect(SSEEvent.parse(ByteBuffer(string: "data\n\n")) == SSEEvent(data: ""))
    }

    @Test func eventWithoutDataHasEmptyData() {
        #expect(SSEEvent.parse(ByteBuffer(string: "event: ping\n\n")) == SSEEvent(event: "ping", data: ""))
    }

    @Test func commentOnlyBlockIsNil() {
        #expect(SSEEvent.parse(ByteBuffer(string: ": keep-alive\n\n")) == nil)
        #expect(SSEEvent.parse(ByteBuffer(string: "id: 3\n\n")) == nil)
    }

    @Test func parsesEveryFixtureBlock() {
        let parsed = fixtureEvents.map { SSEEvent.parse(ByteBuffer(string: $0)) }
        #expect(
            parsed == [
                nil,
                SSEEvent(event: "message_start", data: #"{"type":"message_start","text":"{ } ["}"#),
                SSEEvent(data: "first line\nsecond line"),
                SSEEvent(data: "no-space", id: "42"),
                SSEEvent(data: "lone\ncarriage returns"),
                SSEEvent(data: "é ünïcödé 😀 漢字"),
                SSEEvent(event: "ping", data: "{}"),
                SSEEvent.openAIDone,
            ]
        )
    }

    @Test func encodesEventIDAndEachDataLine() {
        let event = SSEEvent(event: "content_block_delta", data: "line one\nline two", id: "9")
        #expect(
            String(decoding: event.encoded(), as: UTF8.self)
                == "event: content_block_delta\nid: 9\ndata: line one\ndata: line two\n\n"
        )
    }

    @Test func encodesDataOnlyEvents() {
        #expect(String(decoding: SSEEvent.openAIDone.encoded(), as: UTF8.self) == "data: [DONE]\n\n")
        #expect(String(decoding: SSEEvent(data: "").encoded(), as: UTF8.self) == "data: \n\n")
    }

    @Test(arguments: [
        SSEEvent(data: #"{"choices":[]}"#),
        SSEEvent(event: "message_stop", data: #"{"type":"message_stop"}"#),
        SSEEvent(event: "e", data: "a\n\nb", id: "1"),
        SSEEvent(data: "é 😀"),
    ])
    func encodedEventsParseBack(event: SSEEvent) {
        #expect(SSEEvent.parse(ByteBuffer(bytes: event.encoded())) == event)
    }

    @Test func encodedEventsFrameAsOneBlockEach() throws {
        let events = [SSEEvent(event: "a", data: "1\n2"), SSEEvent(data: "3"), SSEEvent.openAIDone]
        let result = try frame([events.flatMap { $0.encoded() }])
        #expect(result.blocks == events.map { $0.encoded() })
    }

    @Test func recognisesTheOpenAITerminator() {
        #expect(SSEEvent(data: "[DONE]").isOpenAIDone)
        #expect(!SSEEvent(event: "done", data: "[DONE]").isOpenAIDone)
        #expect(!SSEEvent(data: #"{"done":true}"#).isOpenAIDone)
    }
}
