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
            if let value = usage["input_tokens"]?.intValue { inputTokens = value }
            if let value = usage["cache_creation_input_tokens"]?.intValue { cacheCreationInputTokens = value }
            if let value = usage["cache_read_input_tokens"]?.intValue { cacheReadInputTokens = value }
            if let value = usage["output_tokens"]?.intValue { outputTokens = value }
            if let value = usage["output_tokens_details"]?["thinking_tokens"]?.intValue { thinkingTokens = value }
        }

        /// The OpenAI `usage` object: `prompt_tokens` is the total input, cached parts included.
        var openAIUsage: JSONObject {
            let promptTokens = inputTokens + cacheCreationInputTokens + cacheReadInputTokens
            return JSONObject([
                "prompt_tokens": JSONValue(promptTokens),
                "completion_tokens": JSONValue(outputTokens),
                "total_tokens": JSONValue(promptTokens + outputTokens),
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
            promptTokens = usage["prompt_tokens"]?.intValue ?? 0
            completionTokens = usage["completion_tokens"]?.intValue ?? 0
            let details = usage["prompt_tokens_details"]
            cachedTokens = details?["cached_tokens"]?.intValue ?? 0
            cacheWriteTokens = details?["cache_write_tokens"]?.intValue
        }

        /// Anthropic counts uncached input separately; clamp so an inconsistent upstream never yields a negative count.
        var uncachedInputTokens: Int { max(0, promptTokens - cachedTokens - (cacheWriteTokens ?? 0)) }

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
