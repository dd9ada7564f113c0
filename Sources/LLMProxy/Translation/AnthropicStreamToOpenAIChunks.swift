internal import GatehouseJSON
public import GatehouseSSE

/// Anthropic upstream stream → OpenAI chat.completion.chunk stream for an OpenAI client.
///
/// Pure: feed it the upstream's events in order and send what it returns. Every chunk carries the
/// `id` of `message_start` (the Anthropic `msg_…` id, kept as it is) and one `created`. Thinking,
/// signature and citation deltas, non-text non-tool blocks, `ping` and unknown events produce
/// nothing. An `event: error` becomes `data: {"error":{…}}` and ends the stream without `[DONE]`.
public struct AnthropicStreamToOpenAIChunks: Sendable {
    private let clientModel: String
    private let includeUsage: Bool
    private let created: Int
    private var completionID: String
    private var usage = UsageTranslation.Anthropic()
    private var hasSentRole = false
    private var hasSentFinishReason = false
    /// Anthropic block `index` → OpenAI `tool_calls[].index`: the OpenAI index counts tool calls
    /// only, while the block index also counts text and thinking blocks.
    private var toolCallIndexByBlockIndex: [Int: Int] = [:]
    private var nextToolCallIndex = 0

    /// True once the terminal output ([DONE] or an error event) has been produced.
    public private(set) var isFinished = false

    /// `includeUsage`: whether the client asked for stream_options.include_usage (emit the choices:[] usage chunk before [DONE] only then).
    public init(clientModel: String, includeUsage: Bool) {
        self.init(clientModel: clientModel, includeUsage: includeUsage, created: ResponseIdentity.currentUnixTime())
    }

    init(clientModel: String, includeUsage: Bool, created: Int) {
        self.clientModel = clientModel
        self.includeUsage = includeUsage
        self.created = created
        self.completionID = ResponseIdentity.generatedID(prefix: "chatcmpl-")
    }

    /// One upstream SSE event in → zero or more client events out (each data is a JSON chunk, or `[DONE]`).
    public mutating func translate(_ event: SSEEvent) -> [SSEEvent] {
        guard !isFinished else { return [] }
        let parsed = (try? JSONValue.parse(event.data))?.objectValue
        let type = event.event ?? parsed?["type"]?.stringValue
        // An error must end the stream even when its body is unreadable; anything else unreadable is skipped.
        guard let payload = parsed ?? (type == "error" ? JSONObject() : nil) else { return [] }
        var output: [SSEEvent] = []
        switch type {
        case "message_start":
            let message = payload["message"]?.objectValue
            if !hasSentRole, let id = message?["id"]?.stringValue { completionID = id }
            if let startUsage = message?["usage"]?.objectValue { usage.overwrite(with: startUsage) }
            sendRoleIfNeeded(into: &output)
        case "content_block_start":
            guard let block = payload["content_block"]?.objectValue else { break }
            switch block["type"]?.stringValue {
            case "text":
                // Anthropic opens text blocks empty; a non-empty start is still text the client must see.
                if let text = block["text"]?.stringValue, !text.isEmpty { sendContent(text, into: &output) }
            case "tool_use":
                guard let blockIndex = payload["index"]?.intValue else { break }
                let toolCallIndex = nextToolCallIndex
                nextToolCallIndex += 1
                toolCallIndexByBlockIndex[blockIndex] = toolCallIndex
                // id, type and name go out once: the SDK concatenates repeated string fields.
                let call = JSONObject([
                    "index": JSONValue(toolCallIndex),
                    "id": .string(block["id"]?.stringValue ?? ResponseIdentity.generatedID(prefix: "call_")),
                    "type": .string("function"),
                    "function": .object(
                        JSONObject([
                            "name": .string(block["name"]?.stringValue ?? ""), "arguments": .string(""),
                        ])
                    ),
                ])
                sendRoleIfNeeded(into: &output)
                output.append(chunk(delta: JSONObject(["tool_calls": .array([.object(call)])])))
            default:
                break
            }
        case "content_block_delta":
            let delta = payload["delta"]?.objectValue
            switch delta?["type"]?.stringValue {
            case "text_delta":
                if let text = delta?["text"]?.stringValue, !text.isEmpty { sendContent(text, into: &output) }
            case "input_json_delta":
                guard let blockIndex = payload["index"]?.intValue,
                    let toolCallIndex = toolCallIndexByBlockIndex[blockIndex],
                    let fragment = delta?["partial_json"]?.stringValue, !fragment.isEmpty
                else { break }
                let call = JSONObject([
                    "index": JSONValue(toolCallIndex),
                    "function": .object(JSONObject(["arguments": .string(fragment)])),
                ])
                sendRoleIfNeeded(into: &output)
                output.append(chunk(delta: JSONObject(["tool_calls": .array([.object(call)])])))
            default:
                break
            }
        case "message_delta":
            if let deltaUsage = payload["usage"]?.objectValue { usage.overwrite(with: deltaUsage) }
            if let stopReason = payload["delta"]?["stop_reason"]?.stringValue {
                sendFinishReasonIfNeeded(StopReasonMapping.openAIFinishReason(fromAnthropic: stopReason), into: &output)
            }
        case "message_stop":
            sendFinishReasonIfNeeded("stop", into: &output)
            if includeUsage {
                var usageChunk = chunkHeader()
                usageChunk["choices"] = .array([])
                usageChunk["usage"] = .object(usage.openAIUsage)
                output.append(SSEEvent(data: JSONValue.object(usageChunk).serializedString))
            }
            output.append(.openAIDone)
            isFinished = true
        case "error":
            let error = payload["error"]?.objectValue
            let body = JSONObject([
                "error": .object(
                    JSONObject([
                        "message": .string(error?["message"]?.stringValue ?? "upstream stream error"),
                        "type": .string(error?["type"]?.stringValue ?? "api_error"),
                        "code": .null,
                    ])
                )
            ])
            output.append(SSEEvent(data: JSONValue.object(body).serializedString))
            isFinished = true
        default:
            break
        }
        return output
    }

    private func chunkHeader() -> JSONObject {
        JSONObject([
            "id": .string(completionID),
            "object": .string("chat.completion.chunk"),
            "created": JSONValue(created),
            "model": .string(clientModel),
        ])
    }

    private func chunk(delta: JSONObject, finishReason: String? = nil) -> SSEEvent {
        var chunk = chunkHeader()
        let choice = JSONObject([
            "index": JSONValue(0),
            "delta": .object(delta),
            "finish_reason": finishReason.map(JSONValue.string) ?? .null,
        ])
        chunk["choices"] = .array([.object(choice)])
        // With include_usage every chunk before the usage chunk says `usage: null`.
        if includeUsage { chunk["usage"] = .null }
        return SSEEvent(data: JSONValue.object(chunk).serializedString)
    }

    /// The first chunk carries the role; a stream missing `message_start` still gets it once, first.
    private mutating func sendRoleIfNeeded(into output: inout [SSEEvent]) {
        guard !hasSentRole else { return }
        hasSentRole = true
        output.append(chunk(delta: JSONObject(["role": .string("assistant"), "content": .string("")])))
    }

    private mutating func sendContent(_ text: String, into output: inout [SSEEvent]) {
        sendRoleIfNeeded(into: &output)
        output.append(chunk(delta: JSONObject(["content": .string(text)])))
    }

    /// Several `message_delta`s may come; the client gets one finish_reason, the first.
    private mutating func sendFinishReasonIfNeeded(_ finishReason: String, into output: inout [SSEEvent]) {
        guard !hasSentFinishReason else { return }
        hasSentFinishReason = true
        sendRoleIfNeeded(into: &output)
        output.append(chunk(delta: JSONObject(), finishReason: finishReason))
    }
}
