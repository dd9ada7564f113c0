import GatehouseJSON
import LLMProxy
import NIOCore
import Testing

@Suite("ModelPrice")
struct ModelPriceTests {
    @Test func pricesArePicodollarsPerToken() {
        let price = ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60, cachedInputPerMillion: 0.075)
        #expect(price.inputPicoUSDPerToken == 150_000)
        #expect(price.outputPicoUSDPerToken == 600_000)
        #expect(price.cachedInputPicoUSDPerToken == 75_000)
        #expect(price.cacheWritePicoUSDPerToken == 150_000)
    }

    @Test func unsetCachePricesFallBackToTheInputPrice() {
        let price = ModelPrice(inputPerMillion: 2.50, outputPerMillion: 10)
        #expect(price.cachedInputPicoUSDPerToken == 2_500_000)
        #expect(price.cacheWritePicoUSDPerToken == 2_500_000)
    }

    @Test(arguments: [
        (0.275, Int64(275_000)),
        (0.1, 100_000),
        (0.025, 25_000),
        (18.75, 18_750_000),
        (0.0000004, 0),
        (0.0000006, 1),
    ])
    func decimalPricesRoundToTheNearestPicodollar(perMillion: Double, picoPerToken: Int64) {
        #expect(ModelPrice(inputPerMillion: perMillion, outputPerMillion: 0).inputPicoUSDPerToken == picoPerToken)
    }

    @Test func costOfInputAndOutput() {
        let price = ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60)
        #expect(price.costPicoUSD(TokenUsage(inputTokens: 1000, outputTokens: 500)) == 450_000_000)
        #expect(price.costPicoUSD(.zero) == 0)
    }

    @Test func cachedInputIsPricedAtTheCachedRate() {
        let price = ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60, cachedInputPerMillion: 0.075)
        // 600 × 150,000 + 400 × 75,000 + 10 × 600,000
        let usage = TokenUsage(inputTokens: 1000, outputTokens: 10, cachedInputTokens: 400)
        #expect(price.costPicoUSD(usage) == 126_000_000)
    }

    @Test func cacheWritesArePricedAtTheCacheWriteRate() {
        let price = ModelPrice(
            inputPerMillion: 3,
            outputPerMillion: 15,
            cachedInputPerMillion: 0.30,
            cacheWritePerMillion: 3.75
        )
        // 500 × 3,000,000 + 200 × 300,000 + 300 × 3,750,000 + 100 × 15,000,000
        let usage = TokenUsage(inputTokens: 1000, outputTokens: 100, cachedInputTokens: 200, cacheWriteInputTokens: 300)
        #expect(price.costPicoUSD(usage) == 4_185_000_000)
    }

    @Test func cachedCountsLargerThanTheInputAreClamped() {
        let price = ModelPrice(
            inputPerMillion: 3,
            outputPerMillion: 15,
            cachedInputPerMillion: 0.30,
            cacheWritePerMillion: 3.75
        )
        #expect(price.costPicoUSD(TokenUsage(inputTokens: 100, cachedInputTokens: 500)) == 30_000_000)
        // 60 cached at 300,000, the remaining 40 written at 3,750,000.
        let usage = TokenUsage(inputTokens: 100, cachedInputTokens: 60, cacheWriteInputTokens: 90)
        #expect(price.costPicoUSD(usage) == 168_000_000)
    }

    @Test func costsOfLongCallsAreExact() {
        // A million-token call at Opus list prices: $15 in, $75 out.
        let price = PriceTable.shippedDefaults.price(forUpstreamModel: "claude-opus-4-1")
        let cost = price?.costPicoUSD(TokenUsage(inputTokens: 1_000_000, outputTokens: 1_000_000))
        #expect(cost == 90_000_000_000_000)
    }

    /// Token counts come from upstream bytes; a provider reporting nonsense must not crash the gateway.
    @Test func absurdTokenCountsDoNotTrap() async {
        await #expect(processExitsWith: .success) {
            let price = ModelPrice(inputPerMillion: 15, outputPerMillion: 75)
            _ = price.costPicoUSD(TokenUsage(inputTokens: 1, outputTokens: 1_000_000_000_000))
        }
    }
}

@Suite("PriceTable")
struct PriceTableTests {
    private let mini = ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60, cachedInputPerMillion: 0.075)
    private let fourO = ModelPrice(inputPerMillion: 2.50, outputPerMillion: 10.00, cachedInputPerMillion: 1.25)

    @Test(arguments: [
        ("gpt-4o", "gpt-4o" as String?),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gpt-4", nil),
        ("unknown-model", nil),
        ("", nil),
    ])
    func findsExactOrLongestPrefix(upstreamModel: String, expectedKey: String?) {
        let table = PriceTable.shippedDefaults
        #expect(table.price(forUpstreamModel: upstreamModel) == expectedKey.flatMap { table.prices[$0] })
    }

    @Test func exactMatchWinsOverAPrefix() {
        let table = PriceTable(prices: ["gpt-4o": fourO, "gpt-4o-mini": mini])
        #expect(table.price(forUpstreamModel: "gpt-4o") == fourO)
        #expect(table.price(forUpstreamModel: "gpt-4o-mini") == mini)
        #expect(table.price(forUpstreamModel: "gpt-4o-mini-x") == mini)
        #expect(table.price(forUpstreamModel: "gpt-4o-x") == fourO)
    }

    @Test func mergingOverridesAndExtends() {
        let custom = ModelPrice(inputPerMillion: 1, outputPerMillion: 2)
        let table = PriceTable(prices: ["gpt-4o": fourO, "gpt-4o-mini": mini])
        let merged = table.merging(["gpt-4o": custom, "my-model": custom])
        #expect(merged.prices == ["gpt-4o": custom, "gpt-4o-mini": mini, "my-model": custom])
        #expect(table.prices == ["gpt-4o": fourO, "gpt-4o-mini": mini])
        #expect(merged.price(forUpstreamModel: "gpt-4o-2024-08-06") == custom)
    }

    @Test func shippedDefaultsHoldPublishedPrices() {
        let sonnet = PriceTable.shippedDefaults.prices["claude-sonnet-4-5"]
        #expect(sonnet?.inputPicoUSDPerToken == 3_000_000)
        #expect(sonnet?.outputPicoUSDPerToken == 15_000_000)
        #expect(sonnet?.cachedInputPicoUSDPerToken == 300_000)
        #expect(sonnet?.cacheWritePicoUSDPerToken == 3_750_000)
        #expect(PriceTable.shippedDefaults.prices["text-embedding-3-small"]?.inputPicoUSDPerToken == 20_000)
    }
}

@Suite("TokenUsage")
struct TokenUsageTests {
    @Test func openAIChatUsage() throws {
        let usage = try JSONValue.parse(
            #"{"prompt_tokens":1200,"completion_tokens":45,"total_tokens":1245,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}"#
        )
        #expect(
            TokenUsage.fromOpenAIChat(usage)
                == TokenUsage(inputTokens: 1200, outputTokens: 45, cachedInputTokens: 1024, cacheWriteInputTokens: 0)
        )
    }

    @Test func openAIEmbeddingsUsage() throws {
        let usage = try JSONValue.parse(#"{"prompt_tokens":8,"total_tokens":8}"#)
        #expect(TokenUsage.fromOpenAIChat(usage) == TokenUsage(inputTokens: 8))
    }

    @Test func openAICompatibleCacheWriteDetails() throws {
        let usage = try JSONValue.parse(
            #"{"prompt_tokens":100,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":20,"cache_write_tokens":30}}"#
        )
        #expect(
            TokenUsage.fromOpenAIChat(usage)
                == TokenUsage(inputTokens: 100, outputTokens: 1, cachedInputTokens: 20, cacheWriteInputTokens: 30)
        )
    }

    @Test(arguments: [
        "null", "[]", "{}", #"{"completion_tokens":5}"#, #"{"prompt_tokens":"5"}"#, #"{"prompt_tokens":1.5}"#,
    ])
    func openAIChatWithoutPromptTokensIsNil(text: String) throws {
        #expect(TokenUsage.fromOpenAIChat(try JSONValue.parse(text)) == nil)
    }

    @Test func openAIResponsesUsage() throws {
        let usage = try JSONValue.parse(
            #"{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}"#
        )
        #expect(
            TokenUsage.fromOpenAIResponses(usage)
                == TokenUsage(inputTokens: 36, outputTokens: 87, cachedInputTokens: 4, cacheWriteInputTokens: 0)
        )
        #expect(TokenUsage.fromOpenAIResponses(try JSONValue.parse(#"{"prompt_tokens":3}"#)) == nil)
    }

    @Test func anthropicUsageFields() throws {
        let usage = try JSONValue.parse(
            #"{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":50,"output_tokens":1,"service_tier":"standard"}"#
        )
        let fields = TokenUsage.fromAnthropic(usage)
        #expect(fields == AnthropicUsageFields(input: 472, output: 1, cacheCreation: 100, cacheRead: 50))
        #expect(
            fields.tokenUsage
                == TokenUsage(inputTokens: 622, outputTokens: 1, cachedInputTokens: 50, cacheWriteInputTokens: 100)
        )
    }

    @Test func anthropicDeltaOverwritesTheFieldsItCarriesAndKeepsTheOthers() throws {
        let start = TokenUsage.fromAnthropic(
            try JSONValue.parse(
                #"{"input_tokens":25,"cache_creation_input_tokens":5,"cache_read_input_tokens":10,"output_tokens":1}"#
            )
        )
        let first = TokenUsage.fromAnthropic(try JSONValue.parse(#"{"output_tokens":5}"#), base: start)
        #expect(first == AnthropicUsageFields(input: 25, output: 5, cacheCreation: 5, cacheRead: 10))
        let second = TokenUsage.fromAnthropic(try JSONValue.parse(#"{"output_tokens":15}"#), base: first)
        #expect(second == AnthropicUsageFields(input: 25, output: 15, cacheCreation: 5, cacheRead: 10))
        let nulls = TokenUsage.fromAnthropic(
            try JSONValue.parse(#"{"input_tokens":null,"output_tokens":16,"cache_read_input_tokens":null}"#),
            base: second
        )
        #expect(nulls == AnthropicUsageFields(input: 25, output: 16, cacheCreation: 5, cacheRead: 10))
        #expect(TokenUsage.fromAnthropic(.null, base: second) == second)
    }

    /// A provider's negative counts read as 0, so totals and counters never go backwards.
    @Test func negativeCountsReadAsZero() throws {
        let chat = try JSONValue.parse(
            #"{"prompt_tokens":-5,"completion_tokens":-1,"prompt_tokens_details":{"cached_tokens":-2,"cache_write_tokens":-3}}"#
        )
        #expect(TokenUsage.fromOpenAIChat(chat) == .zero)
        let responses = try JSONValue.parse(#"{"input_tokens":-9,"output_tokens":4}"#)
        #expect(TokenUsage.fromOpenAIResponses(responses) == TokenUsage(outputTokens: 4))
        let anthropic = try JSONValue.parse(
            #"{"input_tokens":-1,"cache_creation_input_tokens":-9223372036854775808,"cache_read_input_tokens":-1,"output_tokens":3}"#
        )
        #expect(TokenUsage.fromAnthropic(anthropic) == AnthropicUsageFields(output: 3))
    }

    @Test func anthropicTotalsSaturateAtTheLargestCount() {
        let fields = AnthropicUsageFields(input: .max, output: 1, cacheCreation: 1, cacheRead: .max)
        #expect(
            fields.tokenUsage
                == TokenUsage(inputTokens: .max, outputTokens: 1, cachedInputTokens: .max, cacheWriteInputTokens: 1)
        )
    }

    @Test func anthropicTotalsIncludeBothCacheParts() {
        #expect(
            AnthropicUsageFields(input: 3, output: 7, cacheCreation: 11, cacheRead: 13).tokenUsage
                == TokenUsage(inputTokens: 27, outputTokens: 7, cachedInputTokens: 13, cacheWriteInputTokens: 11)
        )
        #expect(AnthropicUsageFields().tokenUsage == .zero)
    }
}

@Suite("ResponseUsageReader")
struct ResponseUsageReaderTests {
    @Test func openAIChatCompletion() {
        let body = ByteBuffer(
            string: #"""
                {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",\#
                "choices":[{"index":0,"message":{"role":"assistant","content":"{\"usage\":1}"},"finish_reason":"stop"}],\#
                "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}
                """#
        )
        #expect(
            ResponseUsageReader.usage(in: body, format: .openAIChat) == TokenUsage(inputTokens: 19, outputTokens: 10)
        )
    }

    @Test func openAIEmbeddings() {
        let body = ByteBuffer(
            string:
                #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#
        )
        #expect(ResponseUsageReader.usage(in: body, format: .openAIEmbeddings) == TokenUsage(inputTokens: 5))
    }

    @Test func openAIResponses() {
        let body = ByteBuffer(
            string:
                #"{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}"#
        )
        #expect(
            ResponseUsageReader.usage(in: body, format: .openAIResponses)
                == TokenUsage(inputTokens: 36, outputTokens: 87, cachedInputTokens: 4)
        )
    }

    @Test func anthropicMessages() {
        let body = ByteBuffer(
            string:
                #"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"output_tokens":6}}"#
        )
        #expect(
            ResponseUsageReader.usage(in: body, format: .anthropicMessages)
                == TokenUsage(inputTokens: 512, outputTokens: 6, cachedInputTokens: 300, cacheWriteInputTokens: 200)
        )
    }

    @Test(arguments: [
        #"{"id":"x","choices":[]}"#,
        #"{"usage":null}"#,
        #"{"nested":{"usage":{"prompt_tokens":1}}}"#,
        #"{"usage":{"prompt_tokens":1}"#,
        "not json",
        "",
    ])
    func bodiesWithoutTopLevelUsageGiveNil(text: String) {
        #expect(ResponseUsageReader.usage(in: ByteBuffer(string: text), format: .openAIChat) == nil)
    }

    @Test func readsBodiesWithAnAdvancedReaderIndex() {
        var body = ByteBuffer(string: "prefix")
        body.moveReaderIndex(forwardBy: 6)
        body.writeString(#"{"usage":{"prompt_tokens":2,"completion_tokens":3}}"#)
        #expect(
            ResponseUsageReader.usage(in: body, format: .openAIChat) == TokenUsage(inputTokens: 2, outputTokens: 3)
        )
    }
}

/// Raw event blocks, as the framer hands them over.
private func events(_ blocks: [String]) -> [ByteBuffer] {
    blocks.map { ByteBuffer(string: $0) }
}

/// Observations for each block, and the observer after the last one.
private func observe(
    _ blocks: [String],
    format: UpstreamWireFormat
) -> ([StreamUsageObserver.Observation], StreamUsageObserver) {
    var observer = StreamUsageObserver(format: format)
    let observations = events(blocks).map { observer.observe($0) }
    return (observations, observer)
}

/// An OpenAI chat stream requested with `stream_options.include_usage` (chunks carry `"usage":null`).
let openAIChatStream: [String] = [
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}"#
        + "\n\n",
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}"#
        + "\n\n",
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#
        + "\n\n",
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#
        + "\n\n",
    "data: [DONE]\n\n",
]

@Suite("StreamUsageObserver")
struct StreamUsageObserverTests {
    @Test func openAIChatStreamWithUsageChunk() {
        let (observations, observer) = observe(openAIChatStream, format: .openAIChat)
        #expect(observations == [.ordinary, .ordinary, .ordinary, .usageOnlyChunk, .terminal])
        #expect(observer.usage == TokenUsage(inputTokens: 9, outputTokens: 12))
        #expect(observer.sawTerminalEvent)
    }

    @Test func openAIChatStreamCutBeforeDoneIsNotTerminal() {
        let (observations, observer) = observe(Array(openAIChatStream.prefix(3)), format: .openAIChat)
        #expect(observations == [.ordinary, .ordinary, .ordinary])
        #expect(observer.usage == nil)
        #expect(!observer.sawTerminalEvent)
    }

    @Test func usageOnAChunkWithChoicesIsRecordedButTheChunkIsOrdinary() {
        let (observations, observer) = observe(
            [
                #"data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#
                    + "\n\n"
            ],
            format: .openAIChat
        )
        #expect(observations == [.ordinary])
        #expect(observer.usage == TokenUsage(inputTokens: 4, outputTokens: 2))
    }

    @Test func anthropicStreamOverwritesCumulativeUsage() {
        let stream = [
            "event: message_start\n"
                + #"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}"#
                + "\n\n",
            "event: content_block_start\n"
                + #"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"# + "\n\n",
            "event: ping\n" + #"data: {"type": "ping"}"# + "\n\n",
            "event: content_block_delta\n"
                + #"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#
                + "\n\n",
            "event: content_block_stop\n" + #"data: {"type":"content_block_stop","index":0}"# + "\n\n",
            "event: message_delta\n"
                + #"data: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{"output_tokens":5}}"#
                + "\n\n",
            "event: message_delta\n"
                + #"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#
                + "\n\n",
            "event: message_stop\n" + #"data: {"type":"message_stop"}"# + "\n\n",
        ]
        var observer = StreamUsageObserver(format: .anthropicMessages)
        var observations: [StreamUsageObserver.Observation] = []
        var usages: [TokenUsage?] = []
        for event in events(stream) {
            observations.append(observer.observe(event))
            usages.append(observer.usage)
        }
        #expect(
            observations == [.ordinary, .ordinary, .ordinary, .ordinary, .ordinary, .ordinary, .ordinary, .terminal]
        )
        let atStart = TokenUsage(inputTokens: 35, outputTokens: 1, cachedInputTokens: 10)
        #expect(
            usages == [
                atStart, atStart, atStart, atStart, atStart,
                TokenUsage(inputTokens: 35, outputTokens: 5, cachedInputTokens: 10),
                TokenUsage(inputTokens: 35, outputTokens: 15, cachedInputTokens: 10),
                TokenUsage(inputTokens: 35, outputTokens: 15, cachedInputTokens: 10),
            ]
        )
        #expect(observer.sawTerminalEvent)
    }

    @Test func anthropicDeltaCarryingEveryFieldReplacesThem() {
        let stream = [
            "event: message_start\n"
                + #"data: {"type":"message_start","message":{"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#
                + "\n\n",
            "event: message_delta\n"
                + #"data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":70}}"#
                + "\n\n",
        ]
        let (observations, observer) = observe(stream, format: .anthropicMessages)
        #expect(observations == [.ordinary, .ordinary])
        #expect(observer.usage == TokenUsage(inputTokens: 25, outputTokens: 70))
        #expect(!observer.sawTerminalEvent)
    }

    @Test func anthropicErrorEventIsTerminal() {
        let stream = [
            "event: error\n"
                + #"data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"# + "\n\n"
        ]
        let (observations, observer) = observe(stream, format: .anthropicMessages)
        #expect(observations == [.terminal])
        #expect(observer.usage == nil)
        #expect(observer.sawTerminalEvent)
    }

    /// `event:message_stop` without the space is the same field under the SSE spec.
    @Test func anthropicEventNamesWithoutASpaceAreRecognised() {
        let stream = [
            "event:message_start\n"
                + #"data:{"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}"# + "\n\n",
            "event:message_stop\n" + #"data:{"type":"message_stop"}"# + "\n\n",
        ]
        let (observations, observer) = observe(stream, format: .anthropicMessages)
        #expect(observations == [.ordinary, .terminal])
        #expect(observer.usage == TokenUsage(inputTokens: 3, outputTokens: 1))
    }

    @Test func openAIResponsesCompletedIsTerminalWithUsage() {
        let stream = [
            "event: response.created\n"
                + #"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","usage":null}}"#
                + "\n\n",
            "event: response.output_text.delta\n"
                + #"data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
                + "\n\n",
            "event: response.completed\n"
                + #"data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":4},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}}"#
                + "\n\n",
        ]
        let (observations, observer) = observe(stream, format: .openAIResponses)
        #expect(observations == [.ordinary, .ordinary, .terminal])
        #expect(observer.usage == TokenUsage(inputTokens: 36, outputTokens: 87, cachedInputTokens: 4))
        #expect(observer.sawTerminalEvent)
    }

    @Test(arguments: ["response.incomplete", "response.failed"])
    func openAIResponsesOtherEndingsAreTerminal(name: String) {
        let stream = [
            "event: \(name)\n"
                + #"data: {"type":"\#(name)","response":{"status":"x","usage":{"input_tokens":2,"output_tokens":1}}}"#
                + "\n\n"
        ]
        let (observations, observer) = observe(stream, format: .openAIResponses)
        #expect(observations == [.terminal])
        #expect(observer.usage == TokenUsage(inputTokens: 2, outputTokens: 1))
    }

    @Test func openAIResponsesDataOnlyCompletedIsTerminal() {
        let stream = [
            #"data: {"type":"response.completed","response":{"usage":{"input_tokens":1,"output_tokens":2}}}"# + "\n\n"
        ]
        let (observations, observer) = observe(stream, format: .openAIResponses)
        #expect(observations == [.terminal])
        #expect(observer.usage == TokenUsage(inputTokens: 1, outputTokens: 2))
    }

    @Test func commentsAreOrdinaryInEveryFormat() {
        for format in [UpstreamWireFormat.openAIChat, .anthropicMessages, .openAIResponses, .openAIEmbeddings] {
            let (observations, observer) = observe([": keep-alive\n\n"], format: format)
            #expect(observations == [.ordinary])
            #expect(observer.usage == nil)
            #expect(!observer.sawTerminalEvent)
        }
    }
}
