import GatehouseJSON
import GatehouseSSE
import Testing

@testable import LLMProxy

/// OpenAI upstream chunks → Anthropic named events. Chunks follow the shape of a real chat
/// completion stream with `include_usage` (wire reference §2): text, two tool calls, finish, usage, [DONE].
@Suite("OpenAIChunksToAnthropicStream")
struct OpenAIChunksToAnthropicStreamTests {
    static func chunk(_ choiceDelta: String, finishReason: String = "null") -> (String?, String) {
        (
            nil,
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":"#
                + choiceDelta + #","finish_reason":"# + finishReason + #"}],"usage":null}"#
        )
    }

    static let usageChunk: (String?, String) = (
        nil,
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[],"#
            + #""usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"#
            + #""prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":0}}}"#
    )

    static let textAndTwoToolCalls: [(String?, String)] = [
        chunk(#"{"role":"assistant","content":"","refusal":null}"#),
        chunk(#"{"content":"Checking"}"#),
        chunk(#"{"content":" both."}"#),
        chunk(
            #"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_w","arguments":""}}]}"#
        ),
        chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#),
        chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]}"#),
        chunk(
            #"{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Bergen\"}"}}]}"#
        ),
        chunk("{}", finishReason: #""tool_calls""#),
    ]

    static let messageStart: (String?, String) = (
        "message_start",
        #"{"type":"message_start","message":{"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}"#
    )

    static let blocksForTextAndTwoToolCalls: [(String?, String)] = [
        messageStart,
        ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" both."}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"get_w","input":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_2","name":"get_w","input":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Bergen\"}"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
    ]

    static let messageStop: (String?, String) = ("message_stop", #"{"type":"message_stop"}"#)

    private func run(_ translator: inout OpenAIChunksToAnthropicStream, _ events: [(String?, String)]) -> [SSEEvent] {
        Golden.events(events).flatMap { translator.translate($0) }
    }

    @Test func textTwoToolCallsFinishUsageAndDone() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let beforeUsage = run(&translator, Self.textAndTwoToolCalls)
        // finish_reason closes the block but holds message_delta until the usage chunk.
        expectEvents(beforeUsage, Self.blocksForTextAndTwoToolCalls)
        #expect(!translator.isFinished)

        let atUsage = run(&translator, [Self.usageChunk])
        expectEvents(
            atUsage,
            [
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40,"input_tokens":20,"cache_read_input_tokens":100}}"#
                ),
                Self.messageStop,
            ]
        )
        #expect(translator.isFinished)
        #expect(translator.translate(.openAIDone).isEmpty)
        #expect(translator.finish().isEmpty)
        #expect((beforeUsage + atUsage).allSatisfy { $0.event != nil })
    }

    @Test func cacheWriteTokensAreReportedWhenTheUpstreamSendsThem() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let output = run(
            &translator,
            [
                Self.chunk(#"{"content":"Hi"}"#),
                Self.chunk("{}", finishReason: #""length""#),
                (
                    nil,
                    #"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":300,"completion_tokens":5,"total_tokens":305,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":150}}}"#
                ),
            ]
        )
        expectEvents(
            Array(output.suffix(2)),
            [
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":5,"input_tokens":50,"cache_read_input_tokens":100,"cache_creation_input_tokens":150}}"#
                ),
                Self.messageStop,
            ]
        )
    }

    @Test func doneWithoutUsageChunkSendsTheHeldMessageDelta() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        _ = run(&translator, Self.textAndTwoToolCalls)
        let atDone = translator.translate(.openAIDone)
        expectEvents(
            atDone,
            [
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":0}}"#
                ),
                Self.messageStop,
            ]
        )
        #expect(translator.isFinished)
        #expect(translator.finish().isEmpty)
    }

    @Test func finishAfterFinishReasonWhenUsageNeverArrives() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let output = run(
            &translator,
            [Self.chunk(#"{"content":"Hello"}"#), Self.chunk("{}", finishReason: #""stop""#)]
        )
        expectEvents(
            output,
            [
                Self.messageStart,
                (
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                ),
                (
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#
                ),
                ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ]
        )
        #expect(!translator.isFinished)
        expectEvents(
            translator.finish(),
            [
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":0}}"#
                ),
                Self.messageStop,
            ]
        )
        #expect(translator.isFinished)
        #expect(translator.finish().isEmpty)
    }

    @Test func finishBeforeAnyFinishReasonReportsATruncatedStream() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        _ = run(&translator, [Self.chunk(#"{"content":"Hel"}"#)])
        expectEvents(
            translator.finish(),
            [
                (
                    "error",
                    #"{"type":"error","error":{"type":"api_error","message":"the upstream stream ended before the response was complete"}}"#
                )
            ]
        )
        #expect(translator.isFinished)
    }

    @Test(arguments: [
        (
            #"{"error":{"message":"Rate limit reached","type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}"#,
            "rate_limit_error", "Rate limit reached"
        ),
        (#"{"error":{"message":"Boom","type":"server_error","code":null}}"#, "api_error", "Boom"),
        (#"{"error":{"message":"Busy","type":"overloaded_error"}}"#, "overloaded_error", "Busy"),
        (#"{"error":{"message":"No credit","type":"insufficient_quota"}}"#, "billing_error", "No credit"),
        (#"{"error":"upstream exploded"}"#, "api_error", "upstream exploded"),
    ])
    func errorMidStreamBecomesAnAnthropicErrorEvent(data: String, type: String, message: String) {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let started = run(&translator, [Self.chunk(#"{"content":"Hi"}"#)])
        #expect(started.count == 3)
        let output = translator.translate(SSEEvent(data: data))
        expectEvents(
            output,
            [("error", #"{"type":"error","error":{"type":""# + type + #"","message":""# + message + #""}}"#)]
        )
        #expect(translator.isFinished)
        #expect(translator.translate(.openAIDone).isEmpty)
        #expect(translator.finish().isEmpty)
    }

    @Test(arguments: [
        #"{"error":null,"choices":[]}"#, "not json", #"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#,
    ])
    func chunksWithoutContentForChoiceZeroOnlyStartTheMessage(data: String) {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let output = translator.translate(SSEEvent(data: data))
        #expect(output.map(\.event).allSatisfy { $0 == "message_start" })
        #expect(output.count == (data == "not json" ? 0 : 1))
        #expect(!translator.isFinished)
    }

    @Test func refusalDeltaIsTextWithStopReasonRefusal() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let output = run(
            &translator,
            [Self.chunk(#"{"refusal":"I can't."}"#), Self.chunk("{}", finishReason: #""stop""#), Self.usageChunk]
        )
        expectEvents(
            output,
            [
                Self.messageStart,
                (
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                ),
                (
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I can't."}}"#
                ),
                ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":40,"input_tokens":20,"cache_read_input_tokens":100}}"#
                ),
                Self.messageStop,
            ]
        )
    }

    @Test func toolCallsThatAllUseIndexZeroAreToldApartByID() {
        var translator = OpenAIChunksToAnthropicStream(clientModel: "claude-x")
        let output = run(
            &translator,
            [
                Self.chunk(
                    #"{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}}]}"#
                ),
                Self.chunk(
                    #"{"tool_calls":[{"index":0,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}"#
                ),
            ]
        )
        expectEvents(
            output,
            [
                Self.messageStart,
                (
                    "content_block_start",
                    #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_a","name":"f","input":{}}}"#
                ),
                (
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
                ),
                ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
                (
                    "content_block_start",
                    #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_b","name":"g","input":{}}}"#
                ),
                (
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
                ),
            ]
        )
    }
}
