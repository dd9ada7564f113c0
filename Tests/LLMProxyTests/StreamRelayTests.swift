import GatehouseJSON
import GatehouseSSE
import NIOCore
import Testing

@testable import LLMProxy

/// Runs `blocks` through a passthrough relay and returns what it wrote, with the relay after each block.
private func relay(
    _ blocks: [String],
    dropUsageOnlyChunk: Bool
) -> (written: [String], finishedAfter: [Bool], relay: StreamRelay) {
    var relay = StreamRelay(mode: .passthrough(dropUsageOnlyChunk: dropUsageOnlyChunk), upstreamFormat: .openAIChat)
    var written: [String] = []
    var finishedAfter: [Bool] = []
    for block in blocks {
        written += relay.process(ByteBuffer(string: block)).map { String(buffer: $0) }
        finishedAfter.append(relay.isFinished)
    }
    return (written, finishedAfter, relay)
}

@Suite("StreamRelay")
struct StreamRelayTests {
    @Test func passthroughForwardsEveryEventUnchanged() {
        let result = relay(openAIChatStream, dropUsageOnlyChunk: false)
        #expect(result.written == openAIChatStream)
        #expect(result.relay.observer.usage == TokenUsage(inputTokens: 9, outputTokens: 12))
    }

    @Test func passthroughDropsTheUsageOnlyChunkWhenAsked() {
        let result = relay(openAIChatStream, dropUsageOnlyChunk: true)
        #expect(
            result.written == [openAIChatStream[0], openAIChatStream[1], openAIChatStream[2], openAIChatStream[4]]
        )
        // The usage was still read on the side.
        #expect(result.relay.observer.usage == TokenUsage(inputTokens: 9, outputTokens: 12))
    }

    @Test func passthroughKeepsUsageOnChunksWithChoicesEvenWhenDropping() {
        let chunk =
            #"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#
            + "\n\n"
        #expect(relay([chunk], dropUsageOnlyChunk: true).written == [chunk])
    }

    @Test func passthroughBytesAreIdentical() {
        var relay = StreamRelay(mode: .passthrough(dropUsageOnlyChunk: true), upstreamFormat: .openAIChat)
        // CRLF endings and a comment: nothing is re-encoded.
        let raw = ByteBuffer(string: ": note\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n")
        #expect(relay.process(raw) == [raw])
    }

    @Test func finishedOnlyAfterDone() {
        let result = relay(openAIChatStream, dropUsageOnlyChunk: true)
        #expect(result.finishedAfter == [false, false, false, false, true])
        #expect(result.relay.observer.sawTerminalEvent)
    }

    @Test func passthroughFinishWritesNothing() {
        var result = relay(Array(openAIChatStream.prefix(2)), dropUsageOnlyChunk: false)
        #expect(result.relay.finish().isEmpty)
        #expect(!result.relay.isFinished)
    }

    @Test func openAIErrorEvent() throws {
        let message = "upstream closed the stream: \"reset\"\nretry later"
        let raw = StreamRelay.errorEvent(message: message, dialect: .openAI)
        #expect(
            String(buffer: raw)
                == #"data: {"error":{"message":"upstream closed the stream: \"reset\"\nretry later","type":"server_error","param":null,"code":"upstream_error"}}"#
                + "\n\n"
        )
        let event = try #require(SSEEvent.parse(raw))
        #expect(event.event == nil)
        let error = try #require(try JSONValue.parse(event.data)["error"]?.objectValue)
        #expect(error.keys == ["message", "type", "param", "code"])
        #expect(error["message"] == .string(message))
        #expect(error["type"] == .string("server_error"))
        #expect(error["param"] == .null)
        #expect(error["code"] == .string("upstream_error"))
    }

    @Test func anthropicErrorEvent() throws {
        let message = "upstream closed the stream: \"reset\"\nretry later"
        let raw = StreamRelay.errorEvent(message: message, dialect: .anthropic)
        #expect(
            String(buffer: raw)
                == "event: error\n"
                + #"data: {"type":"error","error":{"type":"api_error","message":"upstream closed the stream: \"reset\"\nretry later"}}"#
                + "\n\n"
        )
        let event = try #require(SSEEvent.parse(raw))
        #expect(event.event == "error")
        let payload = try JSONValue.parse(event.data)
        #expect(payload.objectValue?.keys == ["type", "error"])
        #expect(payload["type"] == .string("error"))
        #expect(payload["error"]?["type"] == .string("api_error"))
        #expect(payload["error"]?["message"] == .string(message))
    }

    @Test func errorEventsAreOneFramedBlock() throws {
        for dialect in [LLMClientDialect.openAI, .anthropic] {
            var framer = SSEEventFramer()
            let raw = StreamRelay.errorEvent(message: "a\nb\r\nc", dialect: dialect)
            #expect(try framer.append(raw) == [raw])
            #expect(framer.unterminatedBytes == 0)
        }
    }

    @Test func anthropicErrorEventEndsAnAnthropicObserver() {
        var observer = StreamUsageObserver(format: .anthropicMessages)
        #expect(observer.observe(StreamRelay.errorEvent(message: "boom", dialect: .anthropic)) == .terminal)
    }
}
