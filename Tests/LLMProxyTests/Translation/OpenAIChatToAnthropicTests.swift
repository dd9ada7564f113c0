import GatehouseJSON
import Testing

@testable import LLMProxy

/// OpenAI chat client → Anthropic upstream: request bodies out, response bodies back.
@Suite("OpenAIChatToAnthropic.request")
struct OpenAIChatToAnthropicRequestTests {
    private func translate(_ body: String, defaultMaxTokens: Int = 1024) throws -> JSONObject {
        try OpenAIChatToAnthropic.request(
            try Golden.object(body),
            upstreamModel: "claude-x",
            defaultMaxTokens: defaultMaxTokens
        )
    }

    @Test func plainText() throws {
        let request = try translate(#"{"model":"gpt-x","messages":[{"role":"user","content":"Hello"}]}"#)
        try expectJSON(
            request,
            #"{"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Hello"}]}"#
        )
    }

    @Test func systemAndDeveloperMessagesMoveToTopLevelSystemInOrder() throws {
        let request = try translate(
            #"""
            {"model":"gpt-x","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
              {"role":"user","content":"Hi"},
              {"role":"system","content":"Late rule."},
              {"role":"user","content":[{"type":"text","text":"Again"}]}
            ],
            "temperature":0.70,"top_p":1,"stream":true,"stream_options":{"include_usage":true},
            "user":"u-legacy","safety_identifier":"u-42","metadata":{"k":"v"},"seed":7,"logprobs":true,
            "frequency_penalty":0.5,"reasoning_effort":"low","unknown_key":{"x":1}}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,
             "system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Answer in French."},
                       {"type":"text","text":"Late rule."}],
             "messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Again"}]}],
             "temperature":0.70,"top_p":1,"stream":true,"metadata":{"user_id":"u-42"}}
            """#
        )
    }

    @Test func singleSystemMessageIsAString() throws {
        let request = try translate(
            #"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"user":"u-1"}"#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,"system":"Be brief.",
             "messages":[{"role":"user","content":"Hi"}],"metadata":{"user_id":"u-1"}}
            """#
        )
    }

    @Test func imagesFromDataURLsAndHTTPSURLs() throws {
        let request = try translate(
            #"""
            {"messages":[{"role":"user","content":[
              {"type":"text","text":"Compare these."},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}},
              {"type":"image_url","image_url":{"url":"data:image/jpg;base64,/9j/4AAQ"}}
            ]}]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":[
              {"type":"text","text":"Compare these."},
              {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
              {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},
              {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}
            ]}]}
            """#
        )
    }

    @Test func toolDefinitions() throws {
        let request = try translate(
            #"""
            {"messages":[{"role":"user","content":"Weather?"}],"tools":[
              {"type":"function","function":{"name":"get_w","description":"Weather for a city",
                "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},
              {"type":"function","function":{"name":"now"}}
            ]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Weather?"}],"tools":[
              {"name":"get_w","description":"Weather for a city",
               "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true},
              {"name":"now","input_schema":{"type":"object","properties":{}}}
            ]}
            """#
        )
    }

    @Test(arguments: [
        // (tool_choice and parallel_tool_calls members, expected Anthropic tool_choice or nil)
        (#""tool_choice":"auto""#, #"{"type":"auto"}"# as String?),
        (#""tool_choice":"required""#, #"{"type":"any"}"#),
        (#""tool_choice":"none""#, #"{"type":"none"}"#),
        (#""tool_choice":{"type":"function","function":{"name":"get_w"}}"#, #"{"type":"tool","name":"get_w"}"#),
        (#""tool_choice":"auto","parallel_tool_calls":false"#, #"{"type":"auto","disable_parallel_tool_use":true}"#),
        (#""tool_choice":"required","parallel_tool_calls":false"#, #"{"type":"any","disable_parallel_tool_use":true}"#),
        (
            #""tool_choice":{"type":"function","function":{"name":"get_w"}},"parallel_tool_calls":false"#,
            #"{"type":"tool","name":"get_w","disable_parallel_tool_use":true}"#
        ),
        (#""tool_choice":"none","parallel_tool_calls":false"#, #"{"type":"none"}"#),
        (#""parallel_tool_calls":false"#, #"{"type":"auto","disable_parallel_tool_use":true}"#),
        (#""parallel_tool_calls":true"#, nil),
        (#""tool_choice":null"#, nil),
    ])
    func toolChoice(members: String, expected: String?) throws {
        let request = try translate(
            #"{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"get_w"}}],"#
                + members + "}"
        )
        #expect(
            request["tool_choice"].map(Golden.canonical)
                == (try expected.map { Golden.canonical(try Golden.object($0)) })
        )
        #expect(request["parallel_tool_calls"] == nil)
    }

    @Test func toolChoiceWithoutToolsIsDropped() throws {
        let request = try translate(#"{"messages":[{"role":"user","content":"Hi"}],"tool_choice":"none","tools":[]}"#)
        try expectJSON(request, #"{"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}"#)
    }

    @Test func assistantToolCallsAndConsecutiveToolResultsRoundTrip() throws {
        let request = try translate(
            #"""
            {"messages":[
              {"role":"user","content":"Weather in Oslo and Bergen?"},
              {"role":"assistant","content":"","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Oslo\",\"days\":2}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Bergen\"}"}},
                {"id":"toolu_3","type":"function","function":{"name":"now","arguments":""}}
              ]},
              {"role":"tool","tool_call_id":"toolu_1","content":"Sunny, 18°C"},
              {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"Rain"},{"type":"text","text":"12°C"}]},
              {"role":"tool","tool_call_id":"toolu_3","content":""},
              {"role":"user","content":"Thanks. Which is warmer?"},
              {"role":"assistant","content":null,"refusal":"I can't say."}
            ]}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,"messages":[
              {"role":"user","content":"Weather in Oslo and Bergen?"},
              {"role":"assistant","content":[
                {"type":"tool_use","id":"toolu_1","name":"get_w","input":{"city":"Oslo","days":2}},
                {"type":"tool_use","id":"toolu_2","name":"get_w","input":{"city":"Bergen"}},
                {"type":"tool_use","id":"toolu_3","name":"now","input":{}}
              ]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"Sunny, 18°C"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"Rain"},{"type":"text","text":"12°C"}]},
                {"type":"tool_result","tool_use_id":"toolu_3"},
                {"type":"text","text":"Thanks. Which is warmer?"}
              ]},
              {"role":"assistant","content":"I can't say."}
            ]}
            """#
        )
    }

    @Test(arguments: [
        (#""stop":"END""#, #"["END"]"# as String?),
        (#""stop":["END","\n\nHuman:"]"#, #"["END","\n\nHuman:"]"#),
        (#""stop":[]"#, nil),
        (#""stop":null"#, nil),
    ])
    func stopSequences(member: String, expected: String?) throws {
        let request = try translate(#"{"messages":[{"role":"user","content":"Hi"}],"# + member + "}")
        #expect(request["stop_sequences"] == (try expected.map { try JSONValue.parse($0) }))
        #expect(request["stop"] == nil)
    }

    @Test(arguments: [
        ("", "1024"),
        (#","max_tokens":50"#, "50"),
        (#","max_completion_tokens":70,"max_tokens":50"#, "70"),
        (#","max_completion_tokens":null,"max_tokens":50"#, "50"),
        (#","max_tokens":null"#, "1024"),
    ])
    func maxTokens(members: String, expected: String) throws {
        let request = try translate(#"{"messages":[{"role":"user","content":"Hi"}]"# + members + "}")
        #expect(request["max_tokens"] == .number(expected))
        #expect(request["max_completion_tokens"] == nil)
    }

    @Test func responseFormatJSONSchemaBecomesOutputConfigFormat() throws {
        let request = try translate(
            #"""
            {"messages":[{"role":"user","content":"Give me a city."}],"response_format":{"type":"json_schema",
             "json_schema":{"name":"city","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"}},
             "required":["name"],"additionalProperties":false}}}}
            """#
        )
        try expectJSON(
            request,
            #"""
            {"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Give me a city."}],
             "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"name":{"type":"string"}},
             "required":["name"],"additionalProperties":false}}}}
            """#
        )
    }

    @Test(arguments: [#"{"type":"json_object"}"#, #"{"type":"text"}"#])
    func responseFormatsWithoutEquivalentAreDropped(responseFormat: String) throws {
        let request = try translate(
            #"{"messages":[{"role":"user","content":"Hi"}],"response_format":"# + responseFormat + "}"
        )
        try expectJSON(request, #"{"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}"#)
    }

    @Test(arguments: [
        (#"{"n":2,"messages":[{"role":"user","content":"Hi"}]}"#, "n"),
        (#"{"model":"gpt-x"}"#, "messages"),
        (
            #"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}]}"#,
            "messages[0].tool_calls[0].function.arguments"
        ),
        (
            #"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"[1,2]"}}]}]}"#,
            "messages[0].tool_calls[0].function.arguments"
        ),
        (
            #"{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}]}"#,
            "messages[0].content[0]"
        ),
        (
            #"{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}"#,
            "messages[0].content[0]"
        ),
        (
            #"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]}"#,
            "messages[0].content[0].image_url.url"
        ),
        (
            #"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}]}]}"#,
            "messages[0].content[0].image_url.url"
        ),
        (#"{"messages":[{"role":"function","name":"f","content":"1"}]}"#, "messages[0]"),
        (#"{"messages":[{"role":"tool","content":"1"}]}"#, "messages[0].tool_call_id"),
        (
            #"{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"custom","custom":{"name":"grammar"}}]}"#,
            "tools[0]"
        ),
        (
            #"{"messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[]}}}"#,
            "tool_choice"
        ),
        (
            #"{"messages":[{"role":"user","content":"Hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}"#,
            "response_format.json_schema.schema"
        ),
    ])
    func untranslatableInputThrows(body: String, param: String) throws {
        let error = #expect(throws: TranslationError.self) { try translate(body) }
        #expect(error?.param == param)
    }

    @Test func nEqualToOneIsAccepted() throws {
        let request = try translate(#"{"n":1,"messages":[{"role":"user","content":"Hi"}]}"#)
        try expectJSON(request, #"{"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}"#)
    }

    @Test func invalidArgumentsMessage() throws {
        let body = try Golden.object(
            #"{"messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{"}}]}]}"#
        )
        #expect(
            throws: TranslationError(
                message: "tool call arguments are not valid JSON",
                param: "messages[0].tool_calls[0].function.arguments"
            )
        ) {
            try OpenAIChatToAnthropic.request(body, upstreamModel: "claude-x", defaultMaxTokens: 10)
        }
    }
}

@Suite("OpenAIChatToAnthropic.response")
struct OpenAIChatToAnthropicResponseTests {
    @Test func textAndToolUseWithCacheUsage() throws {
        let message = try Golden.object(
            #"""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
             "content":[{"type":"thinking","thinking":"hmm","signature":"sig"},
                        {"type":"text","text":"Checking"},{"type":"text","text":" now."},
                        {"type":"tool_use","id":"toolu_1","name":"get_w","input":{"city":"Oslo","days":2}},
                        {"type":"tool_use","id":"toolu_2","name":"now","input":{}}],
             "stop_reason":"tool_use","stop_sequence":null,
             "usage":{"input_tokens":12,"cache_creation_input_tokens":40,"cache_read_input_tokens":100,"output_tokens":30,
                      "output_tokens_details":{"thinking_tokens":7},"service_tier":"standard"}}
            """#
        )
        let completion = OpenAIChatToAnthropic.response(message, clientModel: "gpt-x", created: 1_700_000_000)
        try expectJSON(
            completion,
            #"""
            {"id":"msg_1","object":"chat.completion","created":1700000000,"model":"gpt-x",
             "choices":[{"index":0,"logprobs":null,"finish_reason":"tool_calls","message":{"role":"assistant",
               "content":"Checking now.","refusal":null,"tool_calls":[
                 {"id":"toolu_1","type":"function","function":{"name":"get_w","arguments":"{\"city\":\"Oslo\",\"days\":2}"}},
                 {"id":"toolu_2","type":"function","function":{"name":"now","arguments":"{}"}}]}}],
             "usage":{"prompt_tokens":152,"completion_tokens":30,"total_tokens":182,
               "prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":40},
               "completion_tokens_details":{"reasoning_tokens":7}}}
            """#
        )
    }

    @Test func textOnlyWithoutCacheFields() throws {
        let message = try Golden.object(
            #"""
            {"id":"msg_2","type":"message","role":"assistant","content":[{"type":"text","text":"Hello!"}],
             "stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}
            """#
        )
        try expectJSON(
            OpenAIChatToAnthropic.response(message, clientModel: "gpt-x", created: 42),
            #"""
            {"id":"msg_2","object":"chat.completion","created":42,"model":"gpt-x",
             "choices":[{"index":0,"logprobs":null,"finish_reason":"stop",
               "message":{"role":"assistant","content":"Hello!","refusal":null}}],
             "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,
               "prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},
               "completion_tokens_details":{"reasoning_tokens":0}}}
            """#
        )
    }

    /// Usage comes from the upstream: the OpenAI totals add its counts, which once overflowed.
    @Test func absurdUsageSaturatesInsteadOfTrapping() throws {
        let message = try Golden.object(
            #"""
            {"id":"msg_5","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],
             "stop_reason":"end_turn","usage":{"input_tokens":9223372036854775807,"cache_creation_input_tokens":-40,
               "cache_read_input_tokens":1,"output_tokens":5}}
            """#
        )
        try expectJSON(
            OpenAIChatToAnthropic.response(message, clientModel: "gpt-x", created: 42),
            #"""
            {"id":"msg_5","object":"chat.completion","created":42,"model":"gpt-x",
             "choices":[{"index":0,"logprobs":null,"finish_reason":"stop",
               "message":{"role":"assistant","content":"Hi","refusal":null}}],
             "usage":{"prompt_tokens":9223372036854775807,"completion_tokens":5,"total_tokens":9223372036854775807,
               "prompt_tokens_details":{"cached_tokens":1,"cache_write_tokens":0},
               "completion_tokens_details":{"reasoning_tokens":0}}}
            """#
        )
    }

    @Test(arguments: [
        ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
        ("something_new", "stop"),
    ])
    func finishReason(stopReason: String, finishReason: String) throws {
        let message = try Golden.object(
            #"{"id":"msg_3","content":[],"stop_reason":""# + stopReason
                + #"","usage":{"input_tokens":1,"output_tokens":0}}"#
        )
        let completion = OpenAIChatToAnthropic.response(message, clientModel: "gpt-x", created: 1)
        let choice = try #require(completion["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == .string(finishReason))
        #expect(choice["message"]?["content"] == .null)
    }

    @Test func publicEntryPointStampsTheCurrentTime() throws {
        let message = try Golden.object(
            #"{"id":"msg_4","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn"}"#
        )
        var completion = OpenAIChatToAnthropic.response(message, clientModel: "gpt-x")
        let created = try #require(completion.removeValue(forKey: "created")?.intValue)
        #expect(created > 1_750_000_000)
        var expected = OpenAIChatToAnthropic.response(message, clientModel: "gpt-x", created: 0)
        expected.removeValue(forKey: "created")
        #expect(completion == expected)
        #expect(completion["usage"] == nil)
    }
}
