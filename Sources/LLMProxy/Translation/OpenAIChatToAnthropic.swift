public import GatehouseJSON

/// An OpenAI Chat Completions client in front of an Anthropic Messages upstream (wire reference §7).
///
/// The request is rebuilt from the fields below, because Anthropic rejects keys it does not know.
/// Dropped, having no Anthropic equivalent: `stream_options` (the caller reads `include_usage`
/// itself), `metadata`, message `name`, image `detail`, assistant `audio`, `response_format`
/// `json_object` (the prompt already asks for JSON), `reasoning_effort`, `logprobs`/`top_logprobs`,
/// `logit_bias`, `seed`, `frequency_penalty`/`presence_penalty`, `audio`/`modalities`, `prediction`,
/// `web_search_options`, `service_tier`, `store`, `verbosity`, `prompt_cache_key` and any unknown key.
/// `temperature` and `top_p` pass through; upstreams on `anthropic-version: 2026-10-21` refuse them,
/// so a provider on that version must remove them.
///
/// Refused with ``TranslationError``: `n` other than 1, roles other than system, developer, user,
/// assistant and tool (legacy `function`), assistant `function_call`, audio and file parts, custom
/// tools and the allowed-tools `tool_choice`, and tool-call arguments that are not a JSON object.
public enum OpenAIChatToAnthropic {
    /// OpenAI chat request body → Anthropic Messages request body for `upstreamModel`.
    /// `defaultMaxTokens` is used when the client set neither max_completion_tokens nor max_tokens.
    /// Keeps `stream`. Throws TranslationError for untranslatable input (n > 1, bad tool-call arguments JSON, unsupported content part…).
    public static func request(
        _ body: JSONObject,
        upstreamModel: String,
        defaultMaxTokens: Int
    ) throws(TranslationError) -> JSONObject {
        if let n = body["n"], !n.isNull, n.intValue != 1 {
            throw TranslationError(message: "n must be 1: this model returns one choice per request", param: "n")
        }
        guard let messages = body["messages"]?.arrayValue else {
            throw TranslationError(message: "messages must be an array", param: "messages")
        }

        var systemBlocks: [JSONValue] = []
        var turns: [(role: String, blocks: [JSONValue])] = []
        // Anthropic merges adjacent same-role turns anyway; doing it here also puts consecutive
        // tool results into the one user turn that must follow the assistant's tool_use blocks.
        func append(_ blocks: [JSONValue], role: String) {
            if let last = turns.indices.last, turns[last].role == role {
                turns[last].blocks += blocks
            } else {
                turns.append((role, blocks))
            }
        }
        for (index, value) in messages.enumerated() {
            let param = "messages[\(index)]"
            guard let message = value.objectValue else {
                throw TranslationError(message: "each message must be an object", param: param)
            }
            switch message["role"]?.stringValue {
            case "system", "developer":
                systemBlocks += try textOnlyBlocks(message["content"], param: "\(param).content")
            case "user":
                append(try userBlocks(message["content"], param: "\(param).content"), role: "user")
            case "assistant":
                append(try assistantBlocks(message, param: param), role: "assistant")
            case "tool":
                append([.object(try toolResultBlock(message, param: param))], role: "user")
            case let role:
                throw TranslationError(
                    message: "message role '\(role ?? "missing")' cannot be translated",
                    param: param
                )
            }
        }

        var result = JSONObject()
        result["model"] = .string(upstreamModel)
        result["max_tokens"] = try maxTokens(body, defaultMaxTokens: defaultMaxTokens)
        if !systemBlocks.isEmpty { result["system"] = contentValue(systemBlocks) }
        result["messages"] = .array(
            turns.filter { !$0.blocks.isEmpty }.map { turn in
                .object(JSONObject(["role": .string(turn.role), "content": contentValue(turn.blocks)]))
            }
        )
        if let stopSequences = try stopSequences(body["stop"]) { result["stop_sequences"] = stopSequences }
        for key in ["temperature", "top_p"] {
            if let value = body[key], !value.isNull { result[key] = value }
        }
        if let stream = body["stream"], !stream.isNull { result["stream"] = stream }
        if let user = body["safety_identifier"]?.stringValue ?? body["user"]?.stringValue {
            result["metadata"] = .object(JSONObject(["user_id": .string(user)]))
        }
        let tools = try anthropicTools(body["tools"])
        if !tools.isEmpty {
            result["tools"] = .array(tools)
            if let toolChoice = try anthropicToolChoice(
                body["tool_choice"],
                parallelToolCalls: body["parallel_tool_calls"]?.boolValue
            ) {
                result["tool_choice"] = .object(toolChoice)
            }
        }
        if let format = try outputFormat(body["response_format"]) {
            result["output_config"] = .object(JSONObject(["format": .object(format)]))
        }
        return result
    }

    /// Anthropic Messages response body → OpenAI chat.completion body; `clientModel` is the model name the client asked for.
    public static func response(_ message: JSONObject, clientModel: String) -> JSONObject {
        response(message, clientModel: clientModel, created: ResponseIdentity.currentUnixTime())
    }

    /// Text blocks are joined without a separator (Anthropic splits one answer into several blocks
    /// around citations); tool_use blocks become tool_calls; thinking, redacted_thinking and server
    /// tool blocks are dropped. A refusal keeps its text in `content` and ends with `content_filter`.
    static func response(_ message: JSONObject, clientModel: String, created: Int) -> JSONObject {
        var text: String?
        var toolCalls: [JSONValue] = []
        for block in message["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text":
                if let blockText = block["text"]?.stringValue { text = (text ?? "") + blockText }
            case "tool_use":
                toolCalls.append(.object(openAIToolCall(fromToolUse: block.objectValue ?? JSONObject())))
            default:
                break
            }
        }

        var assistant = JSONObject()
        assistant["role"] = .string("assistant")
        assistant["content"] = text.map(JSONValue.string) ?? .null
        assistant["refusal"] = .null
        if !toolCalls.isEmpty { assistant["tool_calls"] = .array(toolCalls) }

        let stopReason = message["stop_reason"]?.stringValue ?? "end_turn"
        var choice = JSONObject()
        choice["index"] = JSONValue(0)
        choice["message"] = .object(assistant)
        choice["logprobs"] = .null
        choice["finish_reason"] = .string(StopReasonMapping.openAIFinishReason(fromAnthropic: stopReason))

        var completion = JSONObject()
        completion["id"] = .string(message["id"]?.stringValue ?? ResponseIdentity.generatedID(prefix: "chatcmpl-"))
        completion["object"] = .string("chat.completion")
        completion["created"] = JSONValue(created)
        completion["model"] = .string(clientModel)
        completion["choices"] = .array([.object(choice)])
        if let usage = message["usage"]?.objectValue {
            var counts = UsageTranslation.Anthropic()
            counts.overwrite(with: usage)
            completion["usage"] = .object(counts.openAIUsage)
        }
        return completion
    }

    /// `{id, type: "function", function: {name, arguments}}` with the input serialised back to a string.
    static func openAIToolCall(fromToolUse block: JSONObject) -> JSONObject {
        let input = block["input"] ?? .object(JSONObject())
        return JSONObject([
            "id": .string(block["id"]?.stringValue ?? ""),
            "type": .string("function"),
            "function": .object(
                JSONObject([
                    "name": .string(block["name"]?.stringValue ?? ""),
                    "arguments": .string(input.serializedString),
                ])
            ),
        ])
    }

    // MARK: - Request pieces

    /// A single text block is sent as a plain string, the form every Anthropic-compatible upstream accepts.
    private static func contentValue(_ blocks: [JSONValue]) -> JSONValue {
        if blocks.count == 1, let block = blocks[0].objectValue, block.keys == ["type", "text"],
            let text = block["text"]?.stringValue
        {
            return .string(text)
        }
        return .array(blocks)
    }

    private static func textBlock(_ text: String) -> JSONValue {
        .object(JSONObject(["type": .string("text"), "text": .string(text)]))
    }

    /// Anthropic refuses empty text blocks, which OpenAI clients send freely (`content: ""` beside tool_calls).
    private static func appendText(_ text: String, to blocks: inout [JSONValue]) {
        if !text.isEmpty { blocks.append(textBlock(text)) }
    }

    private static func textOnlyBlocks(_ content: JSONValue?, param: String) throws(TranslationError) -> [JSONValue] {
        var blocks: [JSONValue] = []
        switch content {
        case .string(let text):
            appendText(text, to: &blocks)
        case .array(let parts):
            for (index, part) in parts.enumerated() {
                guard part["type"]?.stringValue == "text", let text = part["text"]?.stringValue else {
                    throw TranslationError(
                        message: "only text parts are allowed in this message",
                        param: "\(param)[\(index)]"
                    )
                }
                appendText(text, to: &blocks)
            }
        case .null, nil:
            break
        default:
            throw TranslationError(message: "content must be a string or an array of parts", param: param)
        }
        return blocks
    }

    private static func userBlocks(_ content: JSONValue?, param: String) throws(TranslationError) -> [JSONValue] {
        var blocks: [JSONValue] = []
        switch content {
        case .string(let text):
            appendText(text, to: &blocks)
        case .array(let parts):
            for (index, part) in parts.enumerated() {
                let partParam = "\(param)[\(index)]"
                switch part["type"]?.stringValue {
                case "text":
                    guard let text = part["text"]?.stringValue else {
                        throw TranslationError(message: "text part needs text", param: partParam)
                    }
                    appendText(text, to: &blocks)
                case "image_url":
                    let urlParam = "\(partParam).image_url.url"
                    // Clients send both `{"image_url":{"url":…}}` and the older `{"image_url":"…"}`.
                    guard let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue else {
                        throw TranslationError(message: "image_url part needs a url", param: urlParam)
                    }
                    let source = try ImageSourceTranslation.anthropicSource(fromImageURL: url, param: urlParam)
                    blocks.append(.object(JSONObject(["type": .string("image"), "source": .object(source)])))
                case let type:
                    throw TranslationError(
                        message: "content part type '\(type ?? "missing")' cannot be sent to this model",
                        param: partParam
                    )
                }
            }
        case .null, nil:
            break
        default:
            throw TranslationError(message: "content must be a string or an array of parts", param: param)
        }
        return blocks
    }

    private static func assistantBlocks(_ message: JSONObject, param: String) throws(TranslationError) -> [JSONValue] {
        var blocks: [JSONValue] = []
        switch message["content"] {
        case .string(let text):
            appendText(text, to: &blocks)
        case .array(let parts):
            for (index, part) in parts.enumerated() {
                switch part["type"]?.stringValue {
                case "text":
                    appendText(part["text"]?.stringValue ?? "", to: &blocks)
                case "refusal":
                    appendText(part["refusal"]?.stringValue ?? "", to: &blocks)
                case let type:
                    throw TranslationError(
                        message: "assistant content part type '\(type ?? "missing")' cannot be translated",
                        param: "\(param).content[\(index)]"
                    )
                }
            }
        case .null, nil:
            break
        default:
            throw TranslationError(message: "content must be a string or an array of parts", param: "\(param).content")
        }
        // An earlier refusal is history the model should see; Anthropic only has text for it.
        if let refusal = message["refusal"]?.stringValue { appendText(refusal, to: &blocks) }
        if let functionCall = message["function_call"], !functionCall.isNull {
            throw TranslationError(
                message: "function_call is not supported; use tool_calls",
                param: "\(param).function_call"
            )
        }
        for (index, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
            blocks.append(.object(try toolUseBlock(call, param: "\(param).tool_calls[\(index)]")))
        }
        return blocks
    }

    private static func toolUseBlock(_ call: JSONValue, param: String) throws(TranslationError) -> JSONObject {
        guard call["type"]?.stringValue ?? "function" == "function", let function = call["function"]?.objectValue else {
            throw TranslationError(message: "only function tool calls can be translated", param: param)
        }
        guard let id = call["id"]?.stringValue, let name = function["name"]?.stringValue else {
            throw TranslationError(message: "tool calls need an id and a function name", param: param)
        }
        let argumentsParam = "\(param).function.arguments"
        let arguments = function["arguments"]?.stringValue ?? ""
        let input: JSONObject
        if arguments.allSatisfy(\.isWhitespace) {
            // Clients send "" for a call without arguments.
            input = JSONObject()
        } else {
            guard let parsed = try? JSONValue.parse(arguments) else {
                throw TranslationError(message: "tool call arguments are not valid JSON", param: argumentsParam)
            }
            guard let object = parsed.objectValue else {
                throw TranslationError(message: "tool call arguments must be a JSON object", param: argumentsParam)
            }
            input = object
        }
        return JSONObject([
            "type": .string("tool_use"), "id": .string(id), "name": .string(name), "input": .object(input),
        ])
    }

    private static func toolResultBlock(_ message: JSONObject, param: String) throws(TranslationError) -> JSONObject {
        guard let toolCallID = message["tool_call_id"]?.stringValue else {
            throw TranslationError(message: "tool messages need tool_call_id", param: "\(param).tool_call_id")
        }
        var block = JSONObject(["type": .string("tool_result"), "tool_use_id": .string(toolCallID)])
        switch message["content"] {
        case .string(let text):
            if !text.isEmpty { block["content"] = .string(text) }
        case .array:
            let blocks = try textOnlyBlocks(message["content"], param: "\(param).content")
            if !blocks.isEmpty { block["content"] = contentValue(blocks) }
        case .null, nil:
            break
        default:
            throw TranslationError(message: "content must be a string or an array of parts", param: "\(param).content")
        }
        return block
    }

    private static func maxTokens(_ body: JSONObject, defaultMaxTokens: Int) throws(TranslationError) -> JSONValue {
        for key in ["max_completion_tokens", "max_tokens"] {
            switch body[key] {
            case .number(let literal):
                return .number(literal)
            case .null, nil:
                continue
            default:
                throw TranslationError(message: "\(key) must be an integer", param: key)
            }
        }
        return JSONValue(defaultMaxTokens)
    }

    private static func stopSequences(_ stop: JSONValue?) throws(TranslationError) -> JSONValue? {
        switch stop {
        case .string(let text):
            return .array([.string(text)])
        case .array(let items):
            guard items.allSatisfy({ $0.stringValue != nil }) else {
                throw TranslationError(message: "stop must be a string or an array of strings", param: "stop")
            }
            return items.isEmpty ? nil : .array(items)
        case .null, nil:
            return nil
        default:
            throw TranslationError(message: "stop must be a string or an array of strings", param: "stop")
        }
    }

    private static func anthropicTools(_ tools: JSONValue?) throws(TranslationError) -> [JSONValue] {
        guard let tools = tools?.arrayValue else { return [] }
        var result: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            let param = "tools[\(index)]"
            guard tool["type"]?.stringValue ?? "function" == "function", let function = tool["function"]?.objectValue,
                let name = function["name"]?.stringValue
            else {
                throw TranslationError(message: "only function tools with a name can be translated", param: param)
            }
            var anthropicTool = JSONObject()
            anthropicTool["name"] = .string(name)
            if let description = function["description"]?.stringValue {
                anthropicTool["description"] = .string(description)
            }
            anthropicTool["input_schema"] =
                function["parameters"]?.objectValue.map(JSONValue.object)
                ?? .object(JSONObject(["type": .string("object"), "properties": .object(JSONObject())]))
            if let strict = function["strict"]?.boolValue { anthropicTool["strict"] = .bool(strict) }
            result.append(.object(anthropicTool))
        }
        return result
    }

    /// `parallel_tool_calls: false` becomes `disable_parallel_tool_use`, which lives on the tool_choice;
    /// `none` cannot carry it, and needs none.
    private static func anthropicToolChoice(
        _ toolChoice: JSONValue?,
        parallelToolCalls: Bool?
    ) throws(TranslationError) -> JSONObject? {
        var choice: JSONObject
        switch toolChoice {
        case .string("auto"), .null, nil:
            choice = JSONObject(["type": .string("auto")])
        case .string("required"):
            choice = JSONObject(["type": .string("any")])
        case .string("none"):
            return JSONObject(["type": .string("none")])
        case .object(let object) where object["type"]?.stringValue == "function":
            guard let name = object["function"]?["name"]?.stringValue else {
                throw TranslationError(message: "tool_choice function needs a name", param: "tool_choice")
            }
            choice = JSONObject(["type": .string("tool"), "name": .string(name)])
        default:
            throw TranslationError(message: "this tool_choice cannot be translated", param: "tool_choice")
        }
        if parallelToolCalls == false {
            choice["disable_parallel_tool_use"] = .bool(true)
        } else if toolChoice == nil || toolChoice == .null {
            return nil
        }
        return choice
    }

    private static func outputFormat(_ responseFormat: JSONValue?) throws(TranslationError) -> JSONObject? {
        switch responseFormat?["type"]?.stringValue {
        case "json_schema":
            guard let schema = responseFormat?["json_schema"]?["schema"]?.objectValue else {
                throw TranslationError(
                    message: "response_format json_schema needs a schema",
                    param: "response_format.json_schema.schema"
                )
            }
            return JSONObject(["type": .string("json_schema"), "schema": .object(schema)])
        case "text", "json_object", nil:
            return nil
        case let type?:
            throw TranslationError(
                message: "response_format type '\(type)' cannot be translated",
                param: "response_format"
            )
        }
    }
}
