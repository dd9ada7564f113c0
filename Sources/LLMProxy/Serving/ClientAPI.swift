/// The client-facing APIs of the LLM plane, and what each needs from an upstream.
enum ClientAPI: Sendable {
    case chatCompletions
    case messages
    case responses
    case embeddings

    var dialect: LLMClientDialect { self == .messages ? .anthropic : .openAI }

    var usageEndpoint: UsageRecord.Endpoint {
        switch self {
        case .chatCompletions: .chatCompletions
        case .messages: .messages
        case .responses: .responses
        case .embeddings: .embeddings
        }
    }

    /// How to reach `provider` for this API: natively, by translation, or not at all.
    func plan(for provider: ProviderDefinition) -> UpstreamPlan? {
        switch (self, provider.kind.speaksAnthropic) {
        case (.chatCompletions, false): UpstreamPlan(operation: .chatCompletions, wire: .openAIChat, translation: .none)
        case (.chatCompletions, true):
            UpstreamPlan(operation: .messages, wire: .anthropicMessages, translation: .chatToAnthropic)
        case (.messages, true): UpstreamPlan(operation: .messages, wire: .anthropicMessages, translation: .none)
        case (.messages, false):
            UpstreamPlan(operation: .chatCompletions, wire: .openAIChat, translation: .anthropicToChat)
        case (.responses, false): UpstreamPlan(operation: .responses, wire: .openAIResponses, translation: .none)
        case (.embeddings, false): UpstreamPlan(operation: .embeddings, wire: .openAIEmbeddings, translation: .none)
        case (.responses, true), (.embeddings, true): nil
        }
    }
}

struct UpstreamPlan: Sendable {
    enum Translation: Sendable {
        case none
        /// OpenAI chat client, Anthropic upstream.
        case chatToAnthropic
        /// Anthropic client, OpenAI-compatible upstream.
        case anthropicToChat
    }

    let operation: UpstreamOperation
    let wire: UpstreamWireFormat
    let translation: Translation
}
