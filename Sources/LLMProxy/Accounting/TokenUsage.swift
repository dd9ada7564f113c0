public import GatehouseJSON

/// Tokens one call consumed, in one vocabulary for every provider.
///
/// `inputTokens` is the whole prompt, cached parts included (OpenAI's `prompt_tokens`; Anthropic's
/// `input_tokens + cache_creation_input_tokens + cache_read_input_tokens`); `cachedInputTokens` and
/// `cacheWriteInputTokens` are the parts of it read from and written to a prompt cache.
public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedInputTokens: Int
    public var cacheWriteInputTokens: Int

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0, cacheWriteInputTokens: Int = 0)
    {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteInputTokens = cacheWriteInputTokens
    }

    public static let zero = TokenUsage()

    /// OpenAI chat `usage` (`prompt_tokens`, `completion_tokens`, details) or embeddings usage.
    public static func fromOpenAIChat(_ usage: JSONValue) -> TokenUsage? {
        guard let object = usage.objectValue, let prompt = object["prompt_tokens"]?.intValue else { return nil }
        let details = object["prompt_tokens_details"]
        return TokenUsage(
            inputTokens: prompt,
            outputTokens: object["completion_tokens"]?.intValue ?? 0,
            cachedInputTokens: details?["cached_tokens"]?.intValue ?? 0,
            cacheWriteInputTokens: details?["cache_write_tokens"]?.intValue ?? 0
        )
    }

    /// OpenAI Responses `usage` (`input_tokens`, `output_tokens`, details).
    public static func fromOpenAIResponses(_ usage: JSONValue) -> TokenUsage? {
        guard let object = usage.objectValue, let input = object["input_tokens"]?.intValue else { return nil }
        let details = object["input_tokens_details"]
        return TokenUsage(
            inputTokens: input,
            outputTokens: object["output_tokens"]?.intValue ?? 0,
            cachedInputTokens: details?["cached_tokens"]?.intValue ?? 0,
            cacheWriteInputTokens: details?["cache_write_tokens"]?.intValue ?? 0
        )
    }

    /// Anthropic `usage`. In a stream, `message_delta` usage is cumulative and may omit fields:
    /// pass the previous value as `base` so absent fields keep it (never sum).
    public static func fromAnthropic(_ usage: JSONValue, base: AnthropicUsageFields = .init()) -> AnthropicUsageFields {
        var fields = base
        guard let object = usage.objectValue else { return fields }
        if let value = object["input_tokens"]?.intValue { fields.input = value }
        if let value = object["output_tokens"]?.intValue { fields.output = value }
        if let value = object["cache_creation_input_tokens"]?.intValue { fields.cacheCreation = value }
        if let value = object["cache_read_input_tokens"]?.intValue { fields.cacheRead = value }
        return fields
    }
}

/// Anthropic's usage fields as sent, before they are folded into a `TokenUsage`.
public struct AnthropicUsageFields: Sendable, Equatable {
    public var input = 0
    public var output = 0
    public var cacheCreation = 0
    public var cacheRead = 0

    public init(input: Int = 0, output: Int = 0, cacheCreation: Int = 0, cacheRead: Int = 0) {
        self.input = input
        self.output = output
        self.cacheCreation = cacheCreation
        self.cacheRead = cacheRead
    }

    /// Anthropic's `input_tokens` excludes cached parts; the total prompt is the sum of the three.
    public var tokenUsage: TokenUsage {
        // Saturating: the three counts come from the upstream.
        let (partial, firstOverflow) = input.addingReportingOverflow(cacheCreation)
        let (total, secondOverflow) = partial.addingReportingOverflow(cacheRead)
        return TokenUsage(
            inputTokens: firstOverflow || secondOverflow ? .max : total,
            outputTokens: output,
            cachedInputTokens: cacheRead,
            cacheWriteInputTokens: cacheCreation
        )
    }
}
