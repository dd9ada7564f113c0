internal import GatehouseJSON
internal import NIOCore
internal import Policy

/// Which strings of an LLM request or answer content guards read: `GuardedJSON.messageContent`,
/// and also skipping the members that carry opaque payloads (base64 files, encrypted reasoning,
/// file ids), which a redaction must never rewrite.
enum LLMGuardedText {
    static let reading = GuardedJSON(
        skipping: GuardedJSON.messageContent.skipping.union(["file_data", "file_id", "encrypted_content"])
    )
}

/// The part of a client request that is what the client says to the model, per API: chat
/// `messages`; Anthropic `system` and `messages`; Responses `instructions` and `input`; embeddings
/// `input`. Tool definitions, settings and everything else are not prompt text.
struct PromptText {
    /// The guarded members, as one object in the order of `members(for:)`.
    let value: JSONValue

    struct Invalid: Error {
        let member: String
    }

    static func members(for api: ClientAPI) -> [String] {
        switch api {
        case .chatCompletions: ["messages"]
        case .messages: ["system", "messages"]
        case .responses: ["instructions", "input"]
        case .embeddings: ["input"]
        }
    }

    /// Reads the prompt members of a request. A member the gateway cannot parse is an error, not
    /// a pass: a provider with a laxer parser might read text the guard never saw.
    static func read(_ envelope: RequestEnvelope, api: ClientAPI) -> Result<PromptText, Invalid> {
        var object = JSONObject()
        for name in members(for: api) {
            guard let member = envelope.object.member(name) else { continue }
            guard let value = envelope.body.jsonValue(at: member.valueRange) else {
                return .failure(Invalid(member: name))
            }
            object[name] = value
        }
        return .success(PromptText(value: .object(object)))
    }

    /// The request's bytes with the prompt members replaced by their redacted values; every
    /// other byte stays as the client sent it.
    static func body(_ envelope: RequestEnvelope, replacingWith redacted: JSONValue) -> ByteBuffer {
        guard let members = redacted.objectValue else { return envelope.body }
        var editor = JSONBodyEditor(body: envelope.body, object: envelope.object)
        for member in members.members where envelope.object.member(member.key) != nil {
            editor.set(member.key, rawValue: member.value.serialized())
        }
        return editor.edited()
    }
}

/// The answer text of a non-streaming completion in the client's dialect: chat
/// `choices[].message` (content, refusal, tool-call arguments), Anthropic `content[]` (text,
/// `tool_use` input), Responses `output[]` (message text, function-call arguments).
enum CompletionText {
    /// What the guards read; nil for an answer with no text (embeddings) or an unknown shape.
    static func content(of body: JSONObject, api: ClientAPI) -> JSONValue? {
        switch api {
        case .chatCompletions:
            guard let choices = body["choices"]?.arrayValue else { return nil }
            return .array(choices.map { $0["message"] ?? .null })
        case .messages:
            return body["content"]
        case .responses:
            return body["output"]
        case .embeddings:
            return nil
        }
    }

    /// The answer with its text replaced by what the guards returned (`content(of:)`'s shape).
    static func replacingContent(of body: JSONObject, api: ClientAPI, with redacted: JSONValue) -> JSONObject {
        var body = body
        switch api {
        case .chatCompletions:
            guard let choices = body["choices"]?.arrayValue, let messages = redacted.arrayValue,
                messages.count == choices.count
            else { return body }
            body["choices"] = .array(
                zip(choices, messages).map { choice, message in
                    guard var object = choice.objectValue else { return choice }
                    object["message"] = message
                    // Log probabilities spell out the original tokens; they would undo the mask.
                    if object["logprobs"] != nil { object["logprobs"] = .null }
                    return .object(object)
                }
            )
        case .messages:
            body["content"] = redacted
        case .responses:
            body["output"] = redacted
        case .embeddings:
            break
        }
        return body
    }

    /// A blocked answer, in the shape the dialect uses when a provider filters its own output:
    /// chat `finish_reason: "content_filter"` with empty content; Anthropic `stop_reason:
    /// "refusal"` with no content blocks; Responses `status: "incomplete"` for `content_filter`
    /// with no output. Ids, model and usage stay, so the client still sees what the call cost.
    static func filtered(_ body: JSONObject, api: ClientAPI) -> JSONObject {
        var body = body
        switch api {
        case .chatCompletions:
            let choices = body["choices"]?.arrayValue ?? [.object(JSONObject(["index": JSONValue(0)]))]
            body["choices"] = .array(
                choices.enumerated().map { position, choice in
                    .object(
                        JSONObject([
                            "index": choice["index"] ?? JSONValue(position),
                            "message": .object(
                                JSONObject([
                                    "role": .string("assistant"), "content": .string(""), "refusal": .null,
                                ])
                            ),
                            "logprobs": .null,
                            "finish_reason": .string("content_filter"),
                        ])
                    )
                }
            )
        case .messages:
            body["content"] = .array([])
            body["stop_reason"] = .string("refusal")
            body["stop_sequence"] = .null
        case .responses:
            body["status"] = .string("incomplete")
            body["incomplete_details"] = .object(JSONObject(["reason": .string("content_filter")]))
            body["output"] = .array([])
            // A convenience copy of the text some servers add; the SDK rebuilds it from `output`.
            if body["output_text"] != nil { body["output_text"] = .string("") }
        case .embeddings:
            break
        }
        return body
    }
}
