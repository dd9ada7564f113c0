import GatehouseJSON
import Testing

@testable import LLMProxy

/// Anthropic Messages client → OpenAI chat upstream: request bodies out, response bodies back.
@Suite("AnthropicToOpenAIChat.request")
struct AnthropicToOpenAIChatRequestTests {
    private func translate(_ body: String) throws -> JSONObject {
        try AnthropicToOpenAIChat.request(try Golden.object(body), upstreamModel: "gpt-x")
    }

    @Test func plainText() throws {
        let request = try translate(
            #"{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"Hello"}]}"#
        )
        try expectJSON(
            request,
            #"{"model":"gpt-x","messages":[{"role":"user","content":"Hello"}],"max_completion_tokens":100}"#
        )
    }

    @Test func systemBlocksStreamingMetadataAndSamplingFields() throws {
        let request = try translate(
            #"""
            {"model":"claude-x","max_tokens":256,
             "system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in French.","cache_control":{"type":"ephemeral"}}],
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral"}}]},
                         {"role":"assistant","content":"Bonjour"},{"role":"user","content":"Again"}],
             "stop_sequences":["END","STOP"],"temperature":0.5,"top_p":0.9,"top_k":40,"stream":true,
             "metadata":{"user_id":"u-42"},"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto",
             "unknown_key":true}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","messages":[
               {"role":"system","content":[{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in French."}]},
               {"role":"user","content":"Hi"},{"role":"assistant","content":"Bonjour"},{"role":"user","content":"Again"}],
             "max_completion_tokens":256,"stop":["END","STOP"],"temperature":0.5,"top_p":0.9,
             "stream":true,"stream_options":{"include_usage":true},"user":"u-42"}
            """#
        )
    }

    @Test func systemStringAndNonStreaming() throws {
        let request = try translate(
            #"{"max_tokens":10,"system":"Be brief.","stream":false,"messages":[{"role":"user","content":"Hi"}]}"#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],
             "max_completion_tokens":10,"stream":false}
            """#
        )
    }

    @Test func imagesBecomeDataURLsAndURLs() throws {
        let request = try translate(
            #"""
            {"max_tokens":10,"messages":[{"role":"user","content":[
              {"type":"text","text":"Compare these."},
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
              {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}
            ]}]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","max_completion_tokens":10,"messages":[{"role":"user","content":[
              {"type":"text","text":"Compare these."},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}
            ]}]}
            """#
        )
    }

    @Test func toolDefinitions() throws {
        let request = try translate(
            #"""
            {"max_tokens":10,"messages":[{"role":"user","content":"Weather?"}],"tools":[
              {"name":"get_w","description":"Weather for a city","cache_control":{"type":"ephemeral"},
               "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
              {"type":"custom","name":"now","input_schema":{"type":"object","properties":{}},"strict":true}
            ]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","max_completion_tokens":10,"messages":[{"role":"user","content":"Weather?"}],"tools":[
              {"type":"function","function":{"name":"get_w","description":"Weather for a city",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
              {"type":"function","function":{"name":"now","parameters":{"type":"object","properties":{}},"strict":true}}
            ]}
            """#
        )
    }

    @Test(arguments: [
        // (Anthropic tool_choice, expected OpenAI tool_choice, expected parallel_tool_calls)
        (#"{"type":"auto"}"#, #""auto""# as String?, nil as Bool?),
        (#"{"type":"any"}"#, #""required""#, nil),
        (#"{"type":"none"}"#, #""none""#, nil),
        (#"{"type":"tool","name":"get_w"}"#, #"{"type":"function","function":{"name":"get_w"}}"#, nil),
        (#"{"type":"auto","disable_parallel_tool_use":true}"#, #""auto""#, false),
        (#"{"type":"any","disable_parallel_tool_use":true}"#, #""required""#, false),
        (
            #"{"type":"tool","name":"get_w","disable_parallel_tool_use":false}"#,
            #"{"type":"function","function":{"name":"get_w"}}"#, nil
        ),
    ])
    func toolChoice(anthropic: String, openAI: String?, parallelToolCalls: Bool?) throws {
        let request = try translate(
            #"{"max_tokens":10,"messages":[{"role":"user","content":"Hi"}],"tools":[{"name":"get_w","input_schema":{"type":"object"}}],"tool_choice":"#
                + anthropic + "}"
        )
        #expect(
            request["tool_choice"].map(Golden.canonical)
                == (try openAI.map { Golden.canonical(try JSONValue.parse($0)) })
        )
        #expect(request["parallel_tool_calls"] == parallelToolCalls.map(JSONValue.bool))
    }

    @Test func toolChoiceWithoutToolsIsDropped() throws {
        let request = try translate(
            #"{"max_tokens":10,"messages":[{"role":"user","content":"Hi"}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}"#
        )
        try expectJSON(
            request,
            #"{"model":"gpt-x","max_completion_tokens":10,"messages":[{"role":"user","content":"Hi"}]}"#
        )
    }

    @Test func toolUseAndToolResultsRoundTrip() throws {
        let request = try translate(
            #"""
            {"max_tokens":10,"messages":[
              {"role":"user","content":"Weather in Oslo and Bergen?"},
              {"role":"assistant","content":[
                {"type":"thinking","thinking":"Two calls.","signature":"sig"},
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"toolu_1","name":"get_w","input":{"city":"Oslo","days":2}},
                {"type":"tool_use","id":"toolu_2","name":"get_w","input":{"city":"Bergen"}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"Sunny"},
                {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,
                 "content":[{"type":"text","text":"Timeout"},{"type":"text","text":"retry later"}]},
                {"type":"text","text":"Which is warmer?"}]},
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_3","name":"now","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_3"}]}
            ]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","max_completion_tokens":10,"messages":[
              {"role":"user","content":"Weather in Oslo and Bergen?"},
              {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Oslo\",\"days\":2}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Bergen\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"Sunny"},
              {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"Timeout"},{"type":"text","text":"retry later"}]},
              {"role":"user","content":"Which is warmer?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"toolu_3","type":"function","function":{"name":"now","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"toolu_3","content":""}
            ]}
            """#
        )
    }

    @Test func outputConfigFormatBecomesResponseFormat() throws {
        let request = try translate(
            #"""
            {"max_tokens":10,"messages":[{"role":"user","content":"A city."}],"output_config":{"effort":"low",
             "format":{"type":"json_schema","schema":{"type":"object","properties":{"name":{"type":"string"}}}}}}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"gpt-x","max_completion_tokens":10,"messages":[{"role":"user","content":"A city."}],
             "response_format":{"type":"json_schema","json_schema":{"name":"output",
               "schema":{"type":"object","properties":{"name":{"type":"string"}}}}}}
            """#
        )
    }

    @Test(arguments: [
        (#"{"messages":[{"role":"user","content":"Hi"}]}"#, "max_tokens"),
        (#"{"max_tokens":10}"#, "messages"),
        (
            #"{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}}]}]}"#,
            "messages.0.content.0"
        ),
        (
            #"{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_1"}}]}]}"#,
            "messages.0.content.0.source"
        ),
        (
            #"{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}]}"#,
            "messages.0.content.0.content.0"
        ),
        (
            #"{"max_tokens":10,"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
            "tools.0.type"
        ),
        (#"{"max_tokens":10,"messages":[{"role":"tool","content":"Hi"}]}"#, "messages.0.role"),
        (
            #"{"max_tokens":10,"messages":[{"role":"user","content":"Hi"}],"output_config":{"format":{"type":"json_schema"}}}"#,
            "output_config.format"
        ),
    ])
    func untranslatableInputThrows(body: String, param: String) throws {
        let error = #expect(throws: TranslationError.self) { try translate(body) }
        #expect(error?.param == param)
    }
}

@Suite("AnthropicToOpenAIChat.response")
struct AnthropicToOpenAIChatResponseTests {
    @Test func textAndToolCallsWithCachedUsage() throws {
        let completion = try Golden.object(
            #"""
            {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-x","system_fingerprint":"fp_x",
             "choices":[{"index":0,"finish_reason":"tool_calls","logprobs":null,"message":{"role":"assistant",
               "content":"Checking.","refusal":null,"tool_calls":[
                 {"id":"call_1","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Oslo\"}"}},
                 {"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]}}],
             "usage":{"prompt_tokens":200,"completion_tokens":9,"total_tokens":209,
               "prompt_tokens_details":{"cached_tokens":150,"cache_write_tokens":30},
               "completion_tokens_details":{"reasoning_tokens":4}}}
            """#
        )
        try expectJSON(
            AnthropicToOpenAIChat.response(completion, clientModel: "claude-x"),
            #"""
            {"id":"chatcmpl-1","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"text","text":"Checking."},
                        {"type":"tool_use","id":"call_1","name":"get_w","input":{"city":"Oslo"}},
                        {"type":"tool_use","id":"call_2","name":"now","input":{}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":20,"cache_creation_input_tokens":30,"cache_read_input_tokens":150,"output_tokens":9}}
            """#
        )
    }

    @Test func refusalIsSentAsTextWithStopReasonRefusal() throws {
        let completion = try Golden.object(
            #"""
            {"id":"chatcmpl-2","choices":[{"index":0,"finish_reason":"stop",
              "message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}],
             "usage":{"prompt_tokens":10,"completion_tokens":6,"total_tokens":16,"prompt_tokens_details":{"cached_tokens":0}}}
            """#
        )
        try expectJSON(
            AnthropicToOpenAIChat.response(completion, clientModel: "claude-x"),
            #"""
            {"id":"chatcmpl-2","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"text","text":"I can't help with that."}],"stop_reason":"refusal","stop_sequence":null,
             "usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}
            """#
        )
    }

    /// Usage comes from the upstream: cached parts larger than the prompt once overflowed the
    /// subtraction, and negative counts went through as they were.
    @Test func absurdUsageIsClampedInsteadOfTrapping() throws {
        let completion = try Golden.object(
            #"""
            {"id":"chatcmpl-3","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"x"}}],
             "usage":{"prompt_tokens":10,"completion_tokens":-6,
               "prompt_tokens_details":{"cached_tokens":9223372036854775807,"cache_write_tokens":9223372036854775807}}}
            """#
        )
        try expectJSON(
            AnthropicToOpenAIChat.response(completion, clientModel: "claude-x"),
            #"""
            {"id":"chatcmpl-3","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":0,"cache_creation_input_tokens":9223372036854775807,
               "cache_read_input_tokens":9223372036854775807,"output_tokens":0}}
            """#
        )
    }

    @Test(arguments: [
        ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
        ("content_filter", "refusal"), ("something_new", "end_turn"),
    ])
    func stopReason(finishReason: String, stopReason: String) throws {
        let completion = try Golden.object(
            #"{"id":"c","choices":[{"index":0,"finish_reason":""# + finishReason
                + #"","message":{"role":"assistant","content":"x"}}]}"#
        )
        let message = AnthropicToOpenAIChat.response(completion, clientModel: "claude-x")
        #expect(message["stop_reason"] == .string(stopReason))
    }

    @Test func toolCallsWinOverAStopFinishReasonAndBadArgumentsBecomeAnEmptyObject() throws {
        let completion = try Golden.object(
            #"""
            {"id":"c","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"",
              "tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{not json"}}]}}]}
            """#
        )
        try expectJSON(
            AnthropicToOpenAIChat.response(completion, clientModel: "claude-x"),
            #"""
            {"id":"c","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"tool_use","id":"call_9","name":"f","input":{}}],"stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
            """#
        )
    }
}

@Suite("StopReasonMapping")
struct StopReasonMappingTests {
    @Test(arguments: [
        ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
        ("unknown", "stop"),
    ])
    func anthropicToOpenAI(stopReason: String, finishReason: String) {
        #expect(StopReasonMapping.openAIFinishReason(fromAnthropic: stopReason) == finishReason)
    }

    @Test(arguments: [
        ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
        ("content_filter", "refusal"), ("unknown", "end_turn"),
    ])
    func openAIToAnthropic(finishReason: String, stopReason: String) {
        #expect(StopReasonMapping.anthropicStopReason(fromOpenAI: finishReason) == stopReason)
    }
}
