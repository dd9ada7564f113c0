import Foundation
import GatehouseJSON
import NIOCore
import Policy
import Testing

@testable import LLMProxy

private func envelope(_ text: String, api: ClientAPI) throws -> RequestEnvelope {
    try RequestEnvelope.read(ByteBuffer(string: text), api: api).get()
}

private func object(_ text: String) throws -> JSONObject {
    try #require(try JSONValue.parse(text).objectValue)
}

@Suite("Guarded text")
struct GuardedTextTests {
    // MARK: Prompts

    @Test func chatPromptReadsMessagesWithToolCallArgumentsAndToolResults() throws {
        let request = try envelope(
            #"""
            {"model":"m","temperature":0.70,"messages":[
              {"role":"system","content":"be brief"},
              {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,QUtJQQ=="}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"q\":\"x\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"result"}],
             "tools":[{"type":"function","function":{"name":"f","description":"not prompt text"}}]}
            """#,
            api: .chatCompletions
        )
        let prompt = try PromptText.read(request, api: .chatCompletions).get()
        #expect(LLMGuardedText.reading.texts(in: prompt.value) == ["be brief", "look", #"{"q":"x"}"#, "result"])
    }

    @Test func anthropicPromptReadsSystemAndMessageBlocks() throws {
        let request = try envelope(
            #"""
            {"model":"m","max_tokens":10,"system":[{"type":"text","text":"sys"}],"messages":[
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"city":"Oslo"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"hi"}]}]}
            """#,
            api: .messages
        )
        let prompt = try PromptText.read(request, api: .messages).get()
        #expect(LLMGuardedText.reading.texts(in: prompt.value) == ["sys", "Oslo", "sunny", "hi"])
    }

    @Test func responsesAndEmbeddingsPrompts() throws {
        let responses = try envelope(
            #"{"model":"m","instructions":"rules","input":[{"role":"user","content":"q"},{"type":"function_call_output","call_id":"c","output":"out"}]}"#,
            api: .responses
        )
        #expect(
            LLMGuardedText.reading.texts(in: try PromptText.read(responses, api: .responses).get().value)
                == ["rules", "q", "out"]
        )
        let embeddings = try envelope(
            #"{"model":"e","input":["one","two"],"encoding_format":"base64"}"#,
            api: .embeddings
        )
        #expect(
            LLMGuardedText.reading.texts(in: try PromptText.read(embeddings, api: .embeddings).get().value) == [
                "one", "two",
            ]
        )
    }

    @Test func aPromptMemberTheGatewayCannotParseIsRefused() throws {
        // The top-level scan only skips values; a broken number inside must not pass unguarded.
        let request = try envelope(
            #"{"model":"m","messages":[{"role":"user","content":"x","n":1.2.3}]}"#,
            api: .chatCompletions
        )
        guard case .failure(let invalid) = PromptText.read(request, api: .chatCompletions) else {
            Issue.record("expected a failure")
            return
        }
        #expect(invalid.member == "messages")
    }

    @Test func redactedPromptKeepsEveryOtherByte() throws {
        let text =
            #"{"model":"m", "temperature":0.70, "messages":[{"role":"user","content":"key sk-1"}], "stream":true}"#
        let request = try envelope(text, api: .chatCompletions)
        let prompt = try PromptText.read(request, api: .chatCompletions).get()
        let masked = LLMGuardedText.reading.replacing(prompt.value, with: ["key [SECRET]"])
        let body = String(buffer: PromptText.body(request, replacingWith: masked))
        #expect(
            body
                == #"{"model":"m", "temperature":0.70, "messages":[{"role":"user","content":"key [SECRET]"}], "stream":true}"#
        )
    }

    // MARK: Completions

    @Test func chatCompletionTextAndItsRedaction() throws {
        let answer = try object(
            #"""
            {"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi a@b.c","tool_calls":[
              {"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"to\":\"a@b.c\"}"}}]},
              "logprobs":{"content":[{"token":"a@b.c"}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1}}
            """#
        )
        let content = try #require(CompletionText.content(of: answer, api: .chatCompletions))
        #expect(LLMGuardedText.reading.texts(in: content) == ["hi a@b.c", #"{"to":"a@b.c"}"#])
        let masked = LLMGuardedText.reading.replacing(content, with: ["hi [EMAIL]", #"{"to":"[EMAIL]"}"#])
        let redacted = CompletionText.replacingContent(of: answer, api: .chatCompletions, with: masked)
        let choice = redacted["choices"]?[0]
        #expect(choice?["message"]?["content"] == .string("hi [EMAIL]"))
        #expect(choice?["message"]?["tool_calls"]?[0]?["function"]?["arguments"] == .string(#"{"to":"[EMAIL]"}"#))
        #expect(choice?["logprobs"] == .null)
        #expect(choice?["finish_reason"] == .string("tool_calls"))
        #expect(redacted["usage"] == answer["usage"])
    }

    @Test func blockedAnswersTakeTheDialectsContentFilterShape() throws {
        let chat = CompletionText.filtered(
            try object(
                #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"p5."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
            ),
            api: .chatCompletions
        )
        #expect(
            JSONValue.object(chat).serializedString
                == #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"content_filter"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
        )
        let anthropic = CompletionText.filtered(
            try object(
                #"{"id":"msg","type":"message","content":[{"type":"text","text":"p5."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}"#
            ),
            api: .messages
        )
        #expect(
            JSONValue.object(anthropic).serializedString
                == #"{"id":"msg","type":"message","content":[],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}"#
        )
        let responses = CompletionText.filtered(
            try object(
                #"{"id":"resp","object":"response","status":"completed","incomplete_details":null,"output":[{"type":"message","content":[{"type":"output_text","text":"p5."}]}],"usage":{"input_tokens":3}}"#
            ),
            api: .responses
        )
        #expect(
            JSONValue.object(responses).serializedString
                == #"{"id":"resp","object":"response","status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[],"usage":{"input_tokens":3}}"#
        )
    }

    @Test func anthropicAndResponsesCompletionText() throws {
        let anthropic = try object(
            #"{"content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"f","input":{"x":"b"}},{"type":"thinking","thinking":"c","signature":"sig"}]}"#
        )
        #expect(
            LLMGuardedText.reading.texts(in: try #require(CompletionText.content(of: anthropic, api: .messages))) == [
                "a", "b", "c",
            ]
        )
        let responses = try object(
            #"{"output":[{"type":"reasoning","id":"r","encrypted_content":"opaque","summary":[]},{"type":"message","id":"m","content":[{"type":"output_text","text":"a","annotations":[]}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}"#
        )
        #expect(
            LLMGuardedText.reading.texts(in: try #require(CompletionText.content(of: responses, api: .responses))) == [
                "a", "{}",
            ]
        )
        #expect(CompletionText.content(of: try object(#"{"data":[]}"#), api: .embeddings) == nil)
    }

    // MARK: Errors

    @Test func blockedPromptErrorInBothDialects() throws {
        let decision = PolicyDecision(
            effect: .block,
            rule: "no-secrets-in-prompts",
            reason: "guard 'no-secrets-in-prompts' found openai_key in the prompt"
        )
        let error = LLMProxyError.contentBlocked(decision)
        #expect(error.status == .forbidden)
        let openAI =
            try #require(
                try JSONSerialization.jsonObject(with: error.body(dialect: .openAI)) as? [String: Any]
            )["error"] as? [String: Any]
        #expect(openAI?["code"] as? String == "content_blocked")
        #expect(openAI?["type"] as? String == "permission_error")
        #expect(
            openAI?["message"] as? String
                == "Blocked by a content guard: guard 'no-secrets-in-prompts' found openai_key in the prompt (rule no-secrets-in-prompts)."
        )
        let anthropic =
            try #require(
                try JSONSerialization.jsonObject(with: error.body(dialect: .anthropic)) as? [String: Any]
            )["error"] as? [String: Any]
        #expect(anthropic?["type"] as? String == "permission_error")
    }
}

extension JSONValue {
    /// Array element lookup for the tests; nil out of range or for anything but an array.
    fileprivate subscript(position: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(position) else { return nil }
        return items[position]
    }
}
