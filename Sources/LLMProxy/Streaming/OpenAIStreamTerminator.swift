public import GatehouseSSE

extension SSEEvent {
    /// The OpenAI stream terminator, `data: [DONE]`.
    public static let openAIDone = SSEEvent(data: "[DONE]")

    public var isOpenAIDone: Bool { event == nil && data.hasPrefix("[DONE]") }
}
