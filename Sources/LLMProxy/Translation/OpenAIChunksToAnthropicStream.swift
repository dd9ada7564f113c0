internal import GatehouseJSON
public import GatehouseSSE

/// OpenAI upstream chunk stream → Anthropic named-event stream for an Anthropic client.
///
/// Pure: feed it the upstream's events in order and send what it returns. The upstream request
/// must ask for `stream_options.include_usage` (``AnthropicToOpenAIChat/request(_:upstreamModel:)``
/// does), because the final `message_delta` carries the usage. Every output event has its `event:`
/// name, which the Anthropic SDK requires. Only choice 0 is read: an Anthropic request never asks
/// for more. `delta.refusal` is sent as text and ends with `stop_reason: refusal`; other delta
/// fields (`audio`, `reasoning_content` of compatible servers, `function_call`) are dropped.
public struct OpenAIChunksToAnthropicStream: Sendable {
    private enum OpenBlock: Sendable, Equatable {
        case none
        case text(blockIndex: Int)
        case toolUse(blockIndex: Int)
    }

    private struct ToolBlock: Sendable {
        var toolCallID: String?
        var blockIndex: Int
    }

    private let clientModel: String
    private var hasStarted = false
    private var openBlock = OpenBlock.none
    private var nextBlockIndex = 0
    /// OpenAI `tool_calls[].index` → the Anthropic block that call became.
    private var toolBlocks: [Int: ToolBlock] = [:]
    private var sawRefusal = false
    /// Set by `finish_reason`; `message_delta` waits for the usage chunk, which comes after it.
    private var heldStopReason: String?
    private var usage: UsageTranslation.OpenAI?

    /// True once the terminal output (`message_stop` or an error event) has been produced.
    public private(set) var isFinished = false

    public init(clientModel: String) {
        self.clientModel = clientModel
    }

    /// One upstream SSE event in → zero or more named Anthropic events out.
    public mutating func translate(_ event: SSEEvent) -> [SSEEvent] {
        guard !isFinished else { return [] }
        if event.isOpenAIDone { return finishMessage() }
        guard let chunk = (try? JSONValue.parse(event.data))?.objectValue else { return [] }
        if let error = chunk["error"], Self.isTruthy(error) {
            isFinished = true
            return [Self.errorEvent(fromOpenAIError: error)]
        }

        var output: [SSEEvent] = []
        startIfNeeded(id: chunk["id"]?.stringValue, into: &output)
        let choices = chunk["choices"]?.arrayValue ?? []
        if let choice = choices.first(where: { ($0["index"]?.intValue ?? 0) == 0 })?.objectValue {
            let delta = choice["delta"]?.objectValue
            if let text = delta?["content"]?.stringValue, !text.isEmpty { appendText(text, into: &output) }
            if let refusal = delta?["refusal"]?.stringValue, !refusal.isEmpty {
                sawRefusal = true
                appendText(refusal, into: &output)
            }
            for call in delta?["tool_calls"]?.arrayValue ?? [] {
                appendToolCallFragment(call, into: &output)
            }
            if let finishReason = choice["finish_reason"]?.stringValue {
                closeOpenBlock(into: &output)
                heldStopReason =
                    sawRefusal ? "refusal" : StopReasonMapping.anthropicStopReason(fromOpenAI: finishReason)
            }
        }
        if let chunkUsage = chunk["usage"]?.objectValue {
            usage = UsageTranslation.OpenAI(chunkUsage)
            if heldStopReason != nil { output += finishMessage() }
        }
        return output
    }

    /// Call when the upstream ended: emits what a well-formed stream still needs (held message_delta + message_stop) if the
    /// upstream ended with [DONE]/finish_reason but nothing more; returns [] if already finished.
    ///
    /// An upstream that stopped before any `finish_reason` was cut off: the client gets an
    /// `api_error` event rather than a `message_stop` that would pass the truncated answer as whole.
    public mutating func finish() -> [SSEEvent] {
        guard !isFinished else { return [] }
        if heldStopReason != nil { return finishMessage() }
        isFinished = true
        return [
            Self.anthropicErrorEvent(
                type: "api_error",
                message: "the upstream stream ended before the response was complete"
            )
        ]
    }

    // MARK: - Events

    private static func event(_ name: String, _ body: JSONObject) -> SSEEvent {
        SSEEvent(event: name, data: JSONValue.object(body).serializedString)
    }

    private mutating func startIfNeeded(id: String?, into output: inout [SSEEvent]) {
        guard !hasStarted else { return }
        hasStarted = true
        // Input tokens are unknown until the usage chunk; the final message_delta reports them.
        let message = JSONObject([
            "id": .string(id ?? ResponseIdentity.generatedID(prefix: "msg_")),
            "type": .string("message"),
            "role": .string("assistant"),
            "model": .string(clientModel),
            "content": .array([]),
            "stop_reason": .null,
            "stop_sequence": .null,
            "usage": .object(JSONObject(["input_tokens": JSONValue(0), "output_tokens": JSONValue(0)])),
        ])
        output.append(
            Self.event("message_start", JSONObject(["type": .string("message_start"), "message": .object(message)]))
        )
    }

    private mutating func appendText(_ text: String, into output: inout [SSEEvent]) {
        let blockIndex: Int
        if case .text(let openIndex) = openBlock {
            blockIndex = openIndex
        } else {
            closeOpenBlock(into: &output)
            blockIndex = startBlock(JSONObject(["type": .string("text"), "text": .string("")]), into: &output)
            openBlock = .text(blockIndex: blockIndex)
        }
        let delta = JSONObject(["type": .string("text_delta"), "text": .string(text)])
        output.append(Self.blockDelta(index: blockIndex, delta: delta))
    }

    /// A new `index`, or a new `id` at a known index (some compatible servers number every call 0),
    /// starts a tool_use block; later fragments go to the block their index started.
    private mutating func appendToolCallFragment(_ call: JSONValue, into output: inout [SSEEvent]) {
        let toolCallIndex = call["index"]?.intValue ?? 0
        let toolCallID = call["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let function = call["function"]?.objectValue
        let blockIndex: Int
        if let known = toolBlocks[toolCallIndex], toolCallID == nil || toolCallID == known.toolCallID {
            blockIndex = known.blockIndex
        } else {
            closeOpenBlock(into: &output)
            let block = JSONObject([
                "type": .string("tool_use"),
                "id": .string(toolCallID ?? ResponseIdentity.generatedID(prefix: "toolu_")),
                "name": .string(function?["name"]?.stringValue ?? ""),
                "input": .object(JSONObject()),
            ])
            blockIndex = startBlock(block, into: &output)
            toolBlocks[toolCallIndex] = ToolBlock(toolCallID: toolCallID, blockIndex: blockIndex)
            openBlock = .toolUse(blockIndex: blockIndex)
        }
        if let fragment = function?["arguments"]?.stringValue, !fragment.isEmpty {
            let delta = JSONObject(["type": .string("input_json_delta"), "partial_json": .string(fragment)])
            output.append(Self.blockDelta(index: blockIndex, delta: delta))
        }
    }

    private mutating func startBlock(_ block: JSONObject, into output: inout [SSEEvent]) -> Int {
        let blockIndex = nextBlockIndex
        nextBlockIndex += 1
        output.append(
            Self.event(
                "content_block_start",
                JSONObject([
                    "type": .string("content_block_start"), "index": JSONValue(blockIndex),
                    "content_block": .object(block),
                ])
            )
        )
        return blockIndex
    }

    private static func blockDelta(index: Int, delta: JSONObject) -> SSEEvent {
        event(
            "content_block_delta",
            JSONObject(["type": .string("content_block_delta"), "index": JSONValue(index), "delta": .object(delta)])
        )
    }

    private mutating func closeOpenBlock(into output: inout [SSEEvent]) {
        let blockIndex: Int
        switch openBlock {
        case .none: return
        case .text(let index), .toolUse(let index): blockIndex = index
        }
        openBlock = .none
        output.append(
            Self.event(
                "content_block_stop",
                JSONObject(["type": .string("content_block_stop"), "index": JSONValue(blockIndex)])
            )
        )
    }

    /// The held `message_delta` and `message_stop`. Without a usage chunk the delta reports
    /// `output_tokens: 0` (the field is required) and accounting must estimate.
    private mutating func finishMessage() -> [SSEEvent] {
        var output: [SSEEvent] = []
        startIfNeeded(id: nil, into: &output)
        closeOpenBlock(into: &output)
        let deltaUsage = usage?.anthropicDeltaUsage ?? JSONObject(["output_tokens": JSONValue(0)])
        let messageDelta = JSONObject([
            "type": .string("message_delta"),
            "delta": .object(
                JSONObject(["stop_reason": .string(heldStopReason ?? "end_turn"), "stop_sequence": .null])
            ),
            "usage": .object(deltaUsage),
        ])
        output.append(Self.event("message_delta", messageDelta))
        output.append(Self.event("message_stop", JSONObject(["type": .string("message_stop")])))
        isFinished = true
        return output
    }

    // MARK: - Errors

    /// The OpenAI SDK raises on any truthy top-level `error`; read it the same way.
    private static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .bool(false): false
        case .string(let text): !text.isEmpty
        case .object(let object): !object.isEmpty
        case .array(let items): !items.isEmpty
        default: true
        }
    }

    private static func errorEvent(fromOpenAIError error: JSONValue) -> SSEEvent {
        let message = error["message"]?.stringValue ?? error.stringValue ?? "upstream stream error"
        return anthropicErrorEvent(type: anthropicErrorType(fromOpenAI: error["type"]?.stringValue), message: message)
    }

    private static func anthropicErrorEvent(type: String, message: String) -> SSEEvent {
        event(
            "error",
            JSONObject([
                "type": .string("error"),
                "error": .object(JSONObject(["type": .string(type), "message": .string(message)])),
            ])
        )
    }

    /// Anthropic type names pass as they are (compatible servers often use them); OpenAI's own
    /// names map to the nearest Anthropic type, and anything else is an `api_error`.
    static func anthropicErrorType(fromOpenAI type: String?) -> String {
        switch type {
        case "invalid_request_error", "authentication_error", "billing_error", "permission_error", "not_found_error",
            "conflict_error", "request_too_large", "rate_limit_error", "api_error", "timeout_error", "overloaded_error":
            type ?? "api_error"
        case "rate_limit_exceeded", "requests", "tokens": "rate_limit_error"
        case "insufficient_quota": "billing_error"
        default: "api_error"
        }
    }
}
