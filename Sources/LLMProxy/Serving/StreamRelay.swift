internal import GatehouseJSON
internal import GatehouseSSE
internal import NIOCore

/// Carries one upstream event stream to the client, event by event: as it came (passthrough),
/// or translated between the OpenAI and Anthropic stream formats. Pure: raw events in, bytes to
/// write out, usage observed on the side.
struct StreamRelay: Sendable {
    enum Mode: Sendable {
        /// Forward each event's original bytes; drop the usage-only chunk the gateway asked for
        /// when the client did not.
        case passthrough(dropUsageOnlyChunk: Bool)
        case anthropicToChat(AnthropicStreamToOpenAIChunks)
        case chatToAnthropic(OpenAIChunksToAnthropicStream)
    }

    private var mode: Mode
    private(set) var observer: StreamUsageObserver
    private(set) var isFinished = false

    init(mode: Mode, upstreamFormat: UpstreamWireFormat) {
        self.mode = mode
        self.observer = StreamUsageObserver(format: upstreamFormat)
    }

    mutating func process(_ raw: ByteBuffer) -> [ByteBuffer] {
        let observation = observer.observe(raw)
        switch mode {
        case .passthrough(let dropUsageOnlyChunk):
            if observation == .terminal { isFinished = true }
            if observation == .usageOnlyChunk && dropUsageOnlyChunk { return [] }
            return [raw]
        case .anthropicToChat(var translator):
            let output = translate(raw, with: &translator)
            mode = .anthropicToChat(translator)
            return output
        case .chatToAnthropic(var translator):
            let output = translate(raw, with: &translator)
            mode = .chatToAnthropic(translator)
            return output
        }
    }

    private mutating func translate(_ raw: ByteBuffer, with translator: inout some SSEStreamTranslator) -> [ByteBuffer]
    {
        guard let event = SSEEvent.parse(raw) else { return [] }
        let output = translator.translate(event)
        isFinished = translator.isFinished
        return output.map { ByteBuffer(bytes: $0.encoded()) }
    }

    /// What a well-formed client stream still needs when the upstream ended.
    mutating func finish() -> [ByteBuffer] {
        guard case .chatToAnthropic(var translator) = mode else { return [] }
        let output = translator.finish()
        isFinished = true
        mode = .chatToAnthropic(translator)
        return output.map { ByteBuffer(bytes: $0.encoded()) }
    }

    /// The event that ends a client stream when the upstream failed after the first byte: the
    /// client's own error frame, never a fake success tail.
    static func errorEvent(message: String, dialect: LLMClientDialect) -> ByteBuffer {
        switch dialect {
        case .openAI:
            let error = JSONValue.object(
                JSONObject([
                    "error": .object(
                        JSONObject([
                            "message": .string(message), "type": .string("server_error"), "param": .null,
                            "code": .string("upstream_error"),
                        ])
                    )
                ])
            )
            return ByteBuffer(bytes: SSEEvent(data: error.serializedString).encoded())
        case .anthropic:
            let error = JSONValue.object(
                JSONObject([
                    "type": .string("error"),
                    "error": .object(JSONObject(["type": .string("api_error"), "message": .string(message)])),
                ])
            )
            return ByteBuffer(bytes: SSEEvent(event: "error", data: error.serializedString).encoded())
        }
    }
}

/// The two stream translators, seen the same way by the relay.
protocol SSEStreamTranslator: Sendable {
    mutating func translate(_ event: SSEEvent) -> [SSEEvent]
    var isFinished: Bool { get }
}

extension AnthropicStreamToOpenAIChunks: SSEStreamTranslator {}
extension OpenAIChunksToAnthropicStream: SSEStreamTranslator {}
