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
    /// The part of `outputTokens` spent on reasoning, when the provider says (OpenAI's
    /// `reasoning_tokens`); traces report it, costs need not (it is already in `outputTokens`).
    public var reasoningOutputTokens: Int

    public init(
        inputTokens: Int = 0,
        outputTokens: Int = 0,
        cachedInputTokens: Int = 0,
        cacheWriteInputTokens: Int = 0,
        reasoningOutputTokens: Int = 0
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteInputTokens = cacheWriteInputTokens
        self.reasoningOutputTokens = reasoningOutputTokens
    }

    public static let zero = TokenUsage()

    /// OpenAI chat `usage` (`prompt_tokens`, `completion_tokens`, details) or embeddings usage.
    public static func fromOpenAIChat(_ usage: JSONValue) -> TokenUsage? {
        guard let object = usage.objectValue, let prompt = count(object["prompt_tokens"]) else { return nil }
        let details = object["prompt_tokens_details"]
        return TokenUsage(
            inputTokens: prompt,
            outputTokens: count(object["completion_tokens"]) ?? 0,
            cachedInputTokens: count(details?["cached_tokens"]) ?? 0,
            cacheWriteInputTokens: count(details?["cache_write_tokens"]) ?? 0,
            reasoningOutputTokens: count(object["completion_tokens_details"]?["reasoning_tokens"]) ?? 0
        )
    }

    /// OpenAI Responses `usage` (`input_tokens`, `output_tokens`, details).
    public static func fromOpenAIResponses(_ usage: JSONValue) -> TokenUsage? {
        guard let object = usage.objectValue, let input = count(object["input_tokens"]) else { return nil }
        let details = object["input_tokens_details"]
        return TokenUsage(
            inputTokens: input,
            outputTokens: count(object["output_tokens"]) ?? 0,
            cachedInputTokens: count(details?["cached_tokens"]) ?? 0,
            cacheWriteInputTokens: count(details?["cache_write_tokens"]) ?? 0,
            reasoningOutputTokens: count(object["output_tokens_details"]?["reasoning_tokens"]) ?? 0
        )
    }

    /// Anthropic `usage`. In a stream, `message_delta` usage is cumulative and may omit fields:
    /// pass the previous value as `base` so absent fields keep it (never sum).
    public static func fromAnthropic(_ usage: JSONValue, base: AnthropicUsageFields = .init()) -> AnthropicUsageFields {
        var fields = base
        guard let object = usage.objectValue else { return fields }
        if let value = count(object["input_tokens"]) { fields.input = value }
        if let value = count(object["output_tokens"]) { fields.output = value }
        if let value = count(object["cache_creation_input_tokens"]) { fields.cacheCreation = value }
        if let value = count(object["cache_read_input_tokens"]) { fields.cacheRead = value }
        return fields
    }

    /// A token count as a provider wrote it, negatives read as 0: totals, metrics and costs add
    /// these up, and a counter must never go backwards.
    static func count(_ value: JSONValue?) -> Int? {
        value?.intValue.map { max($0, 0) }
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
        TokenUsage(
            inputTokens: .saturatingSum(input, cacheCreation, cacheRead),
            outputTokens: output,
            cachedInputTokens: cacheRead,
            cacheWriteInputTokens: cacheCreation
        )
    }
}

extension Int {
    /// The sum, pinned at `.max` (or `.min`) instead of trapping: token counts come from upstream
    /// bodies, and a provider that reports absurd numbers must not stop the gateway.
    static func saturatingSum(_ values: Int...) -> Int {
        var total = 0
        for value in values {
            let (sum, overflow) = total.addingReportingOverflow(value)
            total = overflow ? (value > 0 ? .max : .min) : sum
        }
        return total
    }
}
