import GatehouseJSON
import GatehouseSSE
import Testing

@testable import LLMProxy

/// Anthropic upstream events → OpenAI chunks. The upstream sequence follows the shape of a real
/// Messages stream (wire reference §5): thinking, text, two tool calls, ping, message_delta, message_stop.
@Suite("AnthropicStreamToOpenAIChunks")
struct AnthropicStreamToOpenAIChunksTests {
    static let upstream: [(String?, String)] = [
        (
            "message_start",
            #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":1}}}"#
        ),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Two cities."}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#),
        ("ping", #"{"type":"ping"}"#),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me check"}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" the weather."}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_w","input":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" \"Oslo\"}"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_2","name":"now","input":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":3}"#),
        ("ping", #"{"type":"ping"}"#),
        ("some_future_event", #"{"type":"some_future_event","detail":1}"#),
        (
            "message_delta",
            #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30,"output_tokens_details":{"thinking_tokens":11}}}"#
        ),
        ("message_stop", #"{"type":"message_stop"}"#),
    ]

    /// One OpenAI chunk of this stream; `usage: null` is present only when the client asked for usage.
    static func chunk(_ delta: String, finishReason: String = "null", includeUsage: Bool) -> (String?, String) {
        let usage = includeUsage ? #","usage":null"# : ""
        return (
            nil,
            #"{"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":"#
                + delta + #","finish_reason":"# + finishReason + "}]" + usage + "}"
        )
    }

    static func expectedChunks(includeUsage: Bool) -> [(String?, String)] {
        [
            chunk(#"{"role":"assistant","content":""}"#, includeUsage: includeUsage),
            chunk(#"{"content":"Let me check"}"#, includeUsage: includeUsage),
            chunk(#"{"content":" the weather."}"#, includeUsage: includeUsage),
            chunk(
                #"{"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"get_w","arguments":""}}]}"#,
                includeUsage: includeUsage
            ),
            chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#, includeUsage: includeUsage),
            chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":" \"Oslo\"}"}}]}"#, includeUsage: includeUsage),
            chunk(
                #"{"tool_calls":[{"index":1,"id":"toolu_2","type":"function","function":{"name":"now","arguments":""}}]}"#,
                includeUsage: includeUsage
            ),
            chunk(#"{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}"#, includeUsage: includeUsage),
            chunk("{}", finishReason: #""tool_calls""#, includeUsage: includeUsage),
        ]
    }

    private func run(
        _ translator: inout AnthropicStreamToOpenAIChunks,
        _ events: [(String?, String)]
    ) -> [SSEEvent] {
        Golden.events(events).flatMap { translator.translate($0) }
    }

    @Test func textThenToolCallsWithUsageChunk() {
        var translator = AnthropicStreamToOpenAIChunks(clientModel: "gpt-x", includeUsage: true, created: 1_700_000_000)
        let output = run(&translator, Array(Self.upstream.dropLast()))
        #expect(!translator.isFinished)
        let tail = run(&translator, Array(Self.upstream.suffix(1)))
        #expect(translator.isFinished)
        let usageChunk =
            #"{"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[],"#
            + #""usage":{"prompt_tokens":112,"completion_tokens":30,"total_tokens":142,"#
            + #""prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":0},"#
            + #""completion_tokens_details":{"reasoning_tokens":11}}}"#
        expectEvents(output + tail, Self.expectedChunks(includeUsage: true) + [(nil, usageChunk), (nil, "[DONE]")])
        #expect(tail.last == .openAIDone)
    }

    @Test func withoutIncludeUsageThereIsNoUsageChunk() {
        var translator = AnthropicStreamToOpenAIChunks(
            clientModel: "gpt-x",
            includeUsage: false,
            created: 1_700_000_000
        )
        let output = run(&translator, Self.upstream)
        expectEvents(output, Self.expectedChunks(includeUsage: false) + [(nil, "[DONE]")])
        #expect(translator.isFinished)
    }

    @Test func errorEventMidStreamEndsWithoutDone() {
        var translator = AnthropicStreamToOpenAIChunks(clientModel: "gpt-x", includeUsage: true, created: 1_700_000_000)
        let output = run(
            &translator,
            Array(Self.upstream.prefix(8)) + [
                ("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
                ("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        expectEvents(
            output,
            [
                Self.chunk(#"{"role":"assistant","content":""}"#, includeUsage: true),
                Self.chunk(#"{"content":"Let me check"}"#, includeUsage: true),
                (nil, #"{"error":{"message":"Overloaded","type":"overloaded_error","code":null}}"#),
            ]
        )
        #expect(translator.isFinished)
    }

    @Test(arguments: [
        ("ping", #"{"type":"ping"}"#),
        ("some_future_event", #"{"type":"some_future_event"}"#),
        (
            "content_block_start",
            #"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":5,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ("message_start", "not json"),
    ])
    func ignoredEventsProduceNothing(name: String, data: String) {
        var translator = AnthropicStreamToOpenAIChunks(clientModel: "gpt-x", includeUsage: true, created: 1)
        #expect(translator.translate(SSEEvent(event: name, data: data)).isEmpty)
        #expect(!translator.isFinished)
    }

    @Test func pauseTurnAndMissingMessageStartStillGiveOneRoleChunkAndOneFinishReason() {
        var translator = AnthropicStreamToOpenAIChunks(clientModel: "gpt-x", includeUsage: false, created: 5)
        let output = run(
            &translator,
            [
                (
                    "content_block_delta",
                    #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#
                ),
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"pause_turn"},"usage":{"output_tokens":3}}"#
                ),
                (
                    "message_delta",
                    #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}"#
                ),
                ("message_stop", #"{"type":"message_stop"}"#),
                ("message_stop", #"{"type":"message_stop"}"#),
            ]
        )
        let lines = Golden.lines(output)
        #expect(lines.count == 4)
        #expect(lines.last == "- [DONE]")
        let finishReasons = output.compactMap { event in
            (try? JSONValue.parse(event.data))?["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue
        }
        #expect(finishReasons == ["stop"])
        let roles = output.compactMap { event in
            (try? JSONValue.parse(event.data))?["choices"]?.arrayValue?.first?["delta"]?["role"]?.stringValue
        }
        #expect(roles == ["assistant"])
        // Without message_start the id is made up, but one id serves the whole stream.
        let ids = Set(output.dropLast().compactMap { (try? JSONValue.parse($0.data))?["id"]?.stringValue })
        #expect(ids.count == 1)
        #expect(ids.first?.hasPrefix("chatcmpl-") == true)
    }
}
