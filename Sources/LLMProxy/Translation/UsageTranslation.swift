internal import GatehouseJSON

/// Token counts in each dialect and the arithmetic between them (wire reference §7). Anthropic's
/// `input_tokens` excludes the cached parts; OpenAI's `prompt_tokens` includes them.
enum UsageTranslation {
    /// Anthropic usage, as a response carries it or as a stream accumulates it.
    struct Anthropic: Sendable, Equatable {
        var inputTokens = 0
        var cacheCreationInputTokens = 0
        var cacheReadInputTokens = 0
        var outputTokens = 0
        var thinkingTokens = 0

        /// Every field present in `usage` replaces the current value and absent fields keep theirs:
        /// `message_delta` usage is cumulative, so summing would count tokens twice.
        mutating func overwrite(with usage: JSONObject) {
            if let value = TokenUsage.count(usage["input_tokens"]) { inputTokens = value }
            if let value = TokenUsage.count(usage["cache_creation_input_tokens"]) { cacheCreationInputTokens = value }
            if let value = TokenUsage.count(usage["cache_read_input_tokens"]) { cacheReadInputTokens = value }
            if let value = TokenUsage.count(usage["output_tokens"]) { outputTokens = value }
            if let value = TokenUsage.count(usage["output_tokens_details"]?["thinking_tokens"]) {
                thinkingTokens = value
            }
        }

        /// The OpenAI `usage` object: `prompt_tokens` is the total input, cached parts included.
        var openAIUsage: JSONObject {
            let promptTokens = Int.saturatingSum(inputTokens, cacheCreationInputTokens, cacheReadInputTokens)
            return JSONObject([
                "prompt_tokens": JSONValue(promptTokens),
                "completion_tokens": JSONValue(outputTokens),
                "total_tokens": JSONValue(Int.saturatingSum(promptTokens, outputTokens)),
                "prompt_tokens_details": .object(
                    JSONObject([
                        "cached_tokens": JSONValue(cacheReadInputTokens),
                        "cache_write_tokens": JSONValue(cacheCreationInputTokens),
                    ])
                ),
                "completion_tokens_details": .object(JSONObject(["reasoning_tokens": JSONValue(thinkingTokens)])),
            ])
        }
    }

    /// OpenAI usage, from a completion or the stream's `choices: []` usage chunk.
    struct OpenAI: Sendable, Equatable {
        var promptTokens = 0
        var completionTokens = 0
        var cachedTokens = 0
        /// nil when the upstream did not report cache writes (most OpenAI models never do).
        var cacheWriteTokens: Int?

        init(_ usage: JSONObject) {
            promptTokens = TokenUsage.count(usage["prompt_tokens"]) ?? 0
            completionTokens = TokenUsage.count(usage["completion_tokens"]) ?? 0
            let details = usage["prompt_tokens_details"]
            cachedTokens = TokenUsage.count(details?["cached_tokens"]) ?? 0
            cacheWriteTokens = TokenUsage.count(details?["cache_write_tokens"])
        }

        /// Anthropic counts uncached input separately; clamp so an inconsistent upstream never yields a negative count.
        var uncachedInputTokens: Int {
            let afterCacheReads = promptTokens - min(cachedTokens, promptTokens)
            return afterCacheReads - min(cacheWriteTokens ?? 0, afterCacheReads)
        }

        /// The full Anthropic `usage` of a Messages response.
        var anthropicUsage: JSONObject {
            JSONObject([
                "input_tokens": JSONValue(uncachedInputTokens),
                "cache_creation_input_tokens": JSONValue(cacheWriteTokens ?? 0),
                "cache_read_input_tokens": JSONValue(cachedTokens),
                "output_tokens": JSONValue(completionTokens),
            ])
        }

        /// The `message_delta` usage: `output_tokens` is the only required field there; the input
        /// counts ride along because `message_start` had to announce zeros.
        var anthropicDeltaUsage: JSONObject {
            var usage = JSONObject([
                "output_tokens": JSONValue(completionTokens),
                "input_tokens": JSONValue(uncachedInputTokens),
                "cache_read_input_tokens": JSONValue(cachedTokens),
            ])
            if let cacheWriteTokens { usage["cache_creation_input_tokens"] = JSONValue(cacheWriteTokens) }
            return usage
        }
    }
}
