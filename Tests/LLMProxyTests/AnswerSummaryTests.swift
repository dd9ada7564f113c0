import GatehouseJSON
import GatehouseTracing
import NIOCore
import Testing

@testable import LLMProxy

@Suite("Answers summarised for traces")
struct AnswerSummaryTests {
    private func object(_ text: String) throws -> JSONObject {
        try #require(try JSONValue.parse(Array(text.utf8)).objectValue)
    }

    @Test func openAIChatToolCalls() throws {
        let answer = try object(
            #"{"model":"gpt-4o-mini-2024","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"notes__add","arguments":"{\"b\": 2, \"a\": 1}"}}]}}]}"#
        )
        let summary = AnswerSummary.read(answer, format: .openAIChat, textLimit: 0)
        #expect(summary.responseModel == "gpt-4o-mini-2024")
        #expect(summary.finishReasons == ["tool_calls"])
        #expect(
            summary.toolCalls == [RequestedToolCall(id: "call_1", name: "notes__add", arguments: #"{"a":1,"b":2}"#)]
        )
        #expect(summary.text.isEmpty)
    }

    @Test func anthropicToolUseAndText() throws {
        let answer = try object(
            #"{"model":"claude","stop_reason":"tool_use","content":[{"type":"text","text":"Let me add it."},{"type":"tool_use","id":"toolu_1","name":"notes__add","input":{"title":"t"}}]}"#
        )
        let summary = AnswerSummary.read(answer, format: .anthropicMessages, textLimit: 100)
        #expect(summary.finishReasons == ["tool_use"])
        #expect(
            summary.toolCalls == [RequestedToolCall(id: "toolu_1", name: "notes__add", arguments: #"{"title":"t"}"#)]
        )
        #expect(summary.text == "Let me add it.")
        #expect(summary.outputMessages.contains(#""type":"tool_call""#))
    }

    @Test func responsesFunctionCalls() throws {
        let answer = try object(
            #"{"model":"gpt-4o","status":"completed","output":[{"type":"function_call","call_id":"call_9","name":"notes__add","arguments":"{}"},{"type":"message","content":[{"type":"output_text","text":"ok"}]}]}"#
        )
        let summary = AnswerSummary.read(answer, format: .openAIResponses, textLimit: 1)
        #expect(summary.toolCalls.map(\.id) == ["call_9"])
        #expect(summary.text == "o" + TraceContent.truncationMarker)
    }

    @Test func aBodyReadsAsItsParsedObjectDoesInEveryDialect() throws {
        let answers: [(String, UpstreamWireFormat)] = [
            (
                #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","tool_calls":[{"id":"call_1","type":"function","function":{"name":"notes__add","arguments":"{\"b\":2,\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
                .openAIChat
            ),
            (
                #"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Let me."},{"type":"tool_use","id":"toolu_1","name":"notes__add","input":{"title":"t"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}"#,
                .anthropicMessages
            ),
            (
                #"{"id":"resp_1","object":"response","status":"completed","model":"gpt-4o","output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]},{"type":"function_call","call_id":"call_9","name":"notes__add","arguments":"{}"}],"usage":{"input_tokens":1,"output_tokens":2}}"#,
                .openAIResponses
            ),
        ]
        for (text, format) in answers {
            let whole = AnswerSummary.read(try object(text), format: format, textLimit: 100)
            #expect(AnswerSummary.read(ByteBuffer(string: text), format: format, textLimit: 100) == whole)
            #expect(!whole.toolCalls.isEmpty && whole.responseModel != nil && !whole.finishReasons.isEmpty)
        }
        #expect(AnswerSummary.read(ByteBuffer(string: "[1]"), format: .openAIChat, textLimit: 0) == nil)
        #expect(AnswerSummary.read(ByteBuffer(string: "not json"), format: .openAIChat, textLimit: 0) == nil)
    }

    @Test func aSmallAnswerWithoutToolCallsIsReadLaterAsItWouldBeNow() throws {
        let answers: [(String, UpstreamWireFormat)] = [
            (
                #"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"Yo"},"finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
                .openAIChat
            ),
            (
                #"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Done."}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":4}}"#,
                .anthropicMessages
            ),
            (
                #"{"id":"resp_1","object":"response","status":"incomplete","model":"gpt-4o","output":[{"type":"message","content":[{"type":"output_text","text":"ok"}]}]}"#,
                .openAIResponses
            ),
        ]
        for (text, format) in answers {
            let body = ByteBuffer(string: text)
            let members = try TopLevelJSONObject(scanning: body)
            let now = AnswerSummary.read(body, members: members, format: format, textLimit: 0)
            let later = try #require(AnswerSummary.readLater(body, members: members, format: format, textLimit: 0))
            let read = later()
            #expect(read.responseModel == now.responseModel && read.finishReasons == now.finishReasons)
            #expect(now.responseModel != nil && !now.finishReasons.isEmpty && now.toolCalls.isEmpty)
        }
    }

    @Test func anAnswerIsReadNowWhenItMayAskForToolsIsCapturedOrIsLarge() throws {
        func readsLater(_ text: String, _ format: UpstreamWireFormat, textLimit: Int = 0) throws -> Bool {
            let body = ByteBuffer(string: text)
            let members = try TopLevelJSONObject(scanning: body)
            return AnswerSummary.readLater(body, members: members, format: format, textLimit: textLimit) != nil
        }
        let plain = #"{"model":"m","choices":[{"message":{"content":"Hi"},"finish_reason":"stop"}]}"#
        #expect(try readsLater(plain, .openAIChat))
        // Tool calls are what the run needs at once, in every dialect.
        #expect(
            try !readsLater(
                #"{"model":"m","choices":[{"message":{"tool_calls":[{"id":"c","function":{"name":"t","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
                .openAIChat
            )
        )
        #expect(
            try !readsLater(
                #"{"model":"m","content":[{"type":"tool_use","id":"t","name":"n","input":{}}],"stop_reason":"tool_use"}"#,
                .anthropicMessages
            )
        )
        #expect(
            try !readsLater(
                #"{"model":"m","status":"completed","output":[{"type":"function_call","call_id":"c","name":"n","arguments":"{}"}]}"#,
                .openAIResponses
            )
        )
        // Text that only names the marker is read now too: the scan does not parse.
        #expect(
            try !readsLater(#"{"model":"m","choices":[{"message":{"content":"no tool_calls here"}}]}"#, .openAIChat)
        )
        // Captured text passes through the guards now; a large answer is not copied.
        #expect(try !readsLater(plain, .openAIChat, textLimit: 100))
        let long = String(repeating: "x", count: AnswerSummary.maximumLaterReadBytes)
        #expect(
            try !readsLater(#"{"model":"m","choices":[{"message":{"content":"\#(long)"}}]}"#, .openAIChat)
        )
    }

    private func event(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func openAIChatStreamAssemblesToolCallsFromDeltas() {
        var collector = StreamAnswerCollector(format: .openAIChat, textLimit: 0)
        for data in [
            #"{"model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"notes__add","arguments":""}}]}}]}"#,
            #"{"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"title\":"}}]}}]}"#,
            #"{"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"t\"}"}}]}}]}"#,
            #"{"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ] {
            collector.observe(event("data: \(data)\n\n"))
        }
        collector.observe(event("data: [DONE]\n\n"))
        let summary = collector.finished
        #expect(summary.responseModel == "m")
        #expect(summary.finishReasons == ["tool_calls"])
        #expect(
            summary.toolCalls == [RequestedToolCall(id: "call_7", name: "notes__add", arguments: #"{"title":"t"}"#)]
        )
    }

    @Test func anthropicStreamAssemblesToolUseAndText() {
        var collector = StreamAnswerCollector(format: .anthropicMessages, textLimit: 64)
        for (name, data) in [
            ("message_start", #"{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":3}}}"#),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Sure."}}"#
            ),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_2","name":"notes__add","input":{}}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"title\": \"t\"}"}}"#
            ),
            (
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#
            ),
        ] {
            collector.observe(event("event: \(name)\ndata: \(data)\n\n"))
        }
        let summary = collector.finished
        #expect(summary.responseModel == "claude-x")
        #expect(summary.text == "Sure.")
        #expect(summary.finishReasons == ["tool_use"])
        #expect(
            summary.toolCalls == [RequestedToolCall(id: "toolu_2", name: "notes__add", arguments: #"{"title":"t"}"#)]
        )
    }
}
