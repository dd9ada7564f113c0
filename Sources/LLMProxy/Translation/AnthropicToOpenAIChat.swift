public import GatehouseJSON

/// An Anthropic Messages client in front of an OpenAI Chat Completions upstream (wire reference §7).
///
/// The request is rebuilt from the fields below. Dropped, having no OpenAI equivalent:
/// `cache_control` markers, text `citations`, `is_error` on tool results, echoed `thinking` and
/// `redacted_thinking` blocks, server tool blocks in assistant turns (`server_tool_use`,
/// `*_tool_result`), `top_k`, `thinking`, `output_config.effort`, `service_tier`, `container`,
/// `mcp_servers` and any unknown key. `metadata.user_id` becomes `user` (still accepted by OpenAI
/// and by every compatible server, unlike `safety_identifier`).
///
/// Refused with ``TranslationError``: a missing `max_tokens` or `messages`, server tools (a tool
/// with a `type` other than `custom`), `document` and other non-text, non-image user blocks, file
/// image sources, and images inside tool results (OpenAI tool messages hold text only).
public enum AnthropicToOpenAIChat {
    /// Anthropic Messages request body → OpenAI chat request body for `upstreamModel`. When `stream` is true it sets
    /// `stream_options: {include_usage: true}` (usage is needed to build message_delta).
    public static func request(_ body: JSONObject, upstreamModel: String) throws(TranslationError) -> JSONObject {
        guard let maxTokens = body["max_tokens"], case .number = maxTokens else {
            throw TranslationError(message: "max_tokens: Field required", param: "max_tokens")
        }
        guard let messages = body["messages"]?.arrayValue else {
            throw TranslationError(message: "messages: Field required", param: "messages")
        }

        var openAIMessages: [JSONValue] = []
        if let system = try systemMessage(body["system"]) { openAIMessages.append(.object(system)) }
        for (index, value) in messages.enumerated() {
            let param = "messages.\(index)"
            guard let message = value.objectValue else {
                throw TranslationError(message: "each message must be an object", param: param)
            }
            let content = message["content"]
            switch message["role"]?.stringValue {
            case "user":
                openAIMessages += try userMessages(content, param: "\(param).content").map(JSONValue.object)
            case "assistant":
                openAIMessages.append(.object(try assistantMessage(content, param: "\(param).content")))
            case "system":
                // OpenAI keeps system messages where they stand, so this one keeps its position.
                if let system = try systemMessage(content) { openAIMessages.append(.object(system)) }
            case let role:
                throw TranslationError(
                    message: "message role '\(role ?? "missing")' is not supported",
                    param: "\(param).role"
                )
            }
        }

        var result = JSONObject()
        result["model"] = .string(upstreamModel)
        result["messages"] = .array(openAIMessages)
        result["max_completion_tokens"] = maxTokens
        if let stopSequences = body["stop_sequences"]?.arrayValue, !stopSequences.isEmpty {
            result["stop"] = .array(stopSequences)
        }
        for key in ["temperature", "top_p"] {
            if let value = body[key], !value.isNull { result[key] = value }
        }
        if let stream = body["stream"], !stream.isNull {
            result["stream"] = stream
            if stream.boolValue == true {
                result["stream_options"] = .object(JSONObject(["include_usage": .bool(true)]))
            }
        }
        if let user = body["metadata"]?["user_id"]?.stringValue { result["user"] = .string(user) }
        let tools = try openAITools(body["tools"])
        if !tools.isEmpty {
            result["tools"] = .array(tools)
            let toolChoice = body["tool_choice"]?.objectValue
            switch toolChoice?["type"]?.stringValue {
            case "auto": result["tool_choice"] = .string("auto")
            case "any": result["tool_choice"] = .string("required")
            case "none": result["tool_choice"] = .string("none")
            case "tool":
                guard let name = toolChoice?["name"]?.stringValue else {
                    throw TranslationError(message: "tool_choice.name: Field required", param: "tool_choice.name")
                }
                result["tool_choice"] = .object(
                    JSONObject([
                        "type": .string("function"), "function": .object(JSONObject(["name": .string(name)])),
                    ])
                )
            case nil: break
            case let type?:
                throw TranslationError(
                    message: "tool_choice type '\(type)' is not supported",
                    param: "tool_choice.type"
                )
            }
            if toolChoice?["disable_parallel_tool_use"]?.boolValue == true {
                result["parallel_tool_calls"] = .bool(false)
            }
        }
        if let format = body["output_config"]?["format"]?.objectValue {
            result["response_format"] = .object(try responseFormat(format))
        }
        return result
    }

    /// OpenAI chat.completion body → Anthropic Messages response body.
    ///
    /// The first choice is used. `message.refusal` becomes a text block with `stop_reason: refusal`;
    /// tool calls make the stop reason `tool_use` whatever `finish_reason` said (some compatible
    /// servers answer `stop`), because Anthropic clients loop on it. Arguments that are not a JSON
    /// object become `{}`: a response cannot be refused, and `input` must be an object.
    public static func response(_ completion: JSONObject, clientModel: String) -> JSONObject {
        let choice = completion["choices"]?.arrayValue?.first?.objectValue
        let message = choice?["message"]?.objectValue
        var content: [JSONValue] = []
        switch message?["content"] {
        case .string(let text) where !text.isEmpty:
            content.append(textBlock(text))
        case .array(let parts):
            for part in parts {
                if let text = part["text"]?.stringValue, !text.isEmpty { content.append(textBlock(text)) }
            }
        default:
            break
        }
        let refusal = message?["refusal"]?.stringValue
        if let refusal, !refusal.isEmpty { content.append(textBlock(refusal)) }
        var hasToolUse = false
        for call in message?["tool_calls"]?.arrayValue ?? [] {
            let function = call["function"]?.objectValue
            let arguments = function?["arguments"]?.stringValue ?? ""
            let input = (try? JSONValue.parse(arguments))?.objectValue ?? JSONObject()
            content.append(
                .object(
                    JSONObject([
                        "type": .string("tool_use"),
                        "id": .string(call["id"]?.stringValue ?? ResponseIdentity.generatedID(prefix: "toolu_")),
                        "name": .string(function?["name"]?.stringValue ?? ""),
                        "input": .object(input),
                    ])
                )
            )
            hasToolUse = true
        }

        let stopReason: String
        if let refusal, !refusal.isEmpty {
            stopReason = "refusal"
        } else if hasToolUse {
            stopReason = "tool_use"
        } else {
            stopReason = StopReasonMapping.anthropicStopReason(
                fromOpenAI: choice?["finish_reason"]?.stringValue ?? "stop"
            )
        }

        var result = JSONObject()
        result["id"] = .string(completion["id"]?.stringValue ?? ResponseIdentity.generatedID(prefix: "msg_"))
        result["type"] = .string("message")
        result["role"] = .string("assistant")
        result["model"] = .string(clientModel)
        result["content"] = .array(content)
        result["stop_reason"] = .string(stopReason)
        result["stop_sequence"] = .null
        result["usage"] = .object(
            UsageTranslation.OpenAI(completion["usage"]?.objectValue ?? JSONObject()).anthropicUsage
        )
        return result
    }

    // MARK: - Request pieces

    /// A text block and an OpenAI text part have the same shape.
    private static func textBlock(_ text: String) -> JSONValue {
        .object(JSONObject(["type": .string("text"), "text": .string(text)]))
    }

    /// One text part travels as a plain string, the form every OpenAI-compatible server accepts.
    private static func contentValue(_ parts: [JSONValue]) -> JSONValue {
        if parts.count == 1, let part = parts[0].objectValue, part["type"]?.stringValue == "text",
            let text = part["text"]?.stringValue
        {
            return .string(text)
        }
        return .array(parts)
    }

    /// Text of a string or of text blocks; `cache_control` and `citations` are dropped.
    private static func textParts(_ content: JSONValue?, param: String) throws(TranslationError) -> [JSONValue] {
        switch content {
        case .string(let text):
            return [textBlock(text)]
        case .array(let blocks):
            var parts: [JSONValue] = []
            for (index, block) in blocks.enumerated() {
                guard block["type"]?.stringValue == "text", let text = block["text"]?.stringValue else {
                    throw TranslationError(message: "only text blocks are supported here", param: "\(param).\(index)")
                }
                parts.append(textBlock(text))
            }
            return parts
        case .null, nil:
            return []
        default:
            throw TranslationError(message: "content must be a string or an array of blocks", param: param)
        }
    }

    private static func systemMessage(_ system: JSONValue?) throws(TranslationError) -> JSONObject? {
        let parts = try textParts(system, param: "system")
        guard !parts.isEmpty else { return nil }
        return JSONObject(["role": .string("system"), "content": contentValue(parts)])
    }

    /// One Anthropic user turn → its tool results as `tool` messages (which OpenAI wants right after
    /// the assistant's tool_calls), then a user message with the remaining text and images.
    private static func userMessages(_ content: JSONValue?, param: String) throws(TranslationError) -> [JSONObject] {
        guard case .array(let blocks) = content else {
            return [
                JSONObject(["role": .string("user"), "content": contentValue(try textParts(content, param: param))])
            ]
        }
        var toolMessages: [JSONObject] = []
        var parts: [JSONValue] = []
        for (index, block) in blocks.enumerated() {
            let blockParam = "\(param).\(index)"
            switch block["type"]?.stringValue {
            case "text":
                parts.append(textBlock(block["text"]?.stringValue ?? ""))
            case "image":
                let url = try ImageSourceTranslation.imageURL(
                    fromAnthropicSource: block["source"]?.objectValue,
                    param: "\(blockParam).source"
                )
                parts.append(
                    .object(
                        JSONObject([
                            "type": .string("image_url"), "image_url": .object(JSONObject(["url": .string(url)])),
                        ])
                    )
                )
            case "tool_result":
                guard let toolUseID = block["tool_use_id"]?.stringValue else {
                    throw TranslationError(message: "tool_use_id: Field required", param: "\(blockParam).tool_use_id")
                }
                let resultParts = try textParts(block["content"], param: "\(blockParam).content")
                toolMessages.append(
                    JSONObject([
                        "role": .string("tool"),
                        "tool_call_id": .string(toolUseID),
                        "content": resultParts.isEmpty ? .string("") : contentValue(resultParts),
                    ])
                )
            case let type:
                throw TranslationError(
                    message: "content block type '\(type ?? "missing")' cannot be sent to this model",
                    param: blockParam
                )
            }
        }
        if parts.isEmpty { return toolMessages }
        return toolMessages + [JSONObject(["role": .string("user"), "content": contentValue(parts)])]
    }

    private static func assistantMessage(_ content: JSONValue?, param: String) throws(TranslationError) -> JSONObject {
        var text: String?
        var toolCalls: [JSONValue] = []
        switch content {
        case .string(let string):
            text = string
        case .array(let blocks):
            for (index, block) in blocks.enumerated() {
                switch block["type"]?.stringValue {
                case "text":
                    text = (text ?? "") + (block["text"]?.stringValue ?? "")
                case "tool_use":
                    guard let object = block.objectValue, object["id"]?.stringValue != nil,
                        object["name"]?.stringValue != nil
                    else {
                        throw TranslationError(message: "tool_use blocks need id and name", param: "\(param).\(index)")
                    }
                    toolCalls.append(.object(OpenAIChatToAnthropic.openAIToolCall(fromToolUse: object)))
                case "thinking", "redacted_thinking", "server_tool_use":
                    break
                case let type? where type.hasSuffix("_tool_result"):
                    break
                case let type:
                    throw TranslationError(
                        message: "content block type '\(type ?? "missing")' cannot be sent to this model",
                        param: "\(param).\(index)"
                    )
                }
            }
        case .null, nil:
            break
        default:
            throw TranslationError(message: "content must be a string or an array of blocks", param: param)
        }
        var message = JSONObject(["role": .string("assistant")])
        message["content"] = text.map(JSONValue.string) ?? (toolCalls.isEmpty ? .string("") : .null)
        if !toolCalls.isEmpty { message["tool_calls"] = .array(toolCalls) }
        return message
    }

    private static func openAITools(_ tools: JSONValue?) throws(TranslationError) -> [JSONValue] {
        guard let tools = tools?.arrayValue else { return [] }
        var result: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            let param = "tools.\(index)"
            guard tool["type"]?.stringValue ?? "custom" == "custom" else {
                throw TranslationError(
                    message: "server tool '\(tool["type"]?.stringValue ?? "")' cannot be used with this model",
                    param: "\(param).type"
                )
            }
            guard let name = tool["name"]?.stringValue else {
                throw TranslationError(message: "name: Field required", param: "\(param).name")
            }
            var function = JSONObject()
            function["name"] = .string(name)
            if let description = tool["description"]?.stringValue { function["description"] = .string(description) }
            function["parameters"] =
                tool["input_schema"]?.objectValue.map(JSONValue.object)
                ?? .object(JSONObject(["type": .string("object"), "properties": .object(JSONObject())]))
            if let strict = tool["strict"]?.boolValue { function["strict"] = .bool(strict) }
            result.append(.object(JSONObject(["type": .string("function"), "function": .object(function)])))
        }
        return result
    }

    /// `output_config.format` → `response_format`. OpenAI requires a schema name; Anthropic has none,
    /// so it is always `output`. `strict` stays unset: not every schema Anthropic accepts meets
    /// OpenAI's strict-mode rules.
    private static func responseFormat(_ format: JSONObject) throws(TranslationError) -> JSONObject {
        guard format["type"]?.stringValue == "json_schema", let schema = format["schema"]?.objectValue else {
            throw TranslationError(
                message: "output_config.format must be {type: json_schema, schema}",
                param: "output_config.format"
            )
        }
        return JSONObject([
            "type": .string("json_schema"),
            "json_schema": .object(JSONObject(["name": .string("output"), "schema": .object(schema)])),
        ])
    }
}
