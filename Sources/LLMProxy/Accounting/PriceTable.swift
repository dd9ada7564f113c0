/// What a model costs, per million tokens, held as integer picodollars per token so that sums
/// are exact: $0.15 per million tokens is 150,000 pUSD per token.
public struct ModelPrice: Sendable, Equatable {
    public var inputPicoUSDPerToken: Int64
    public var outputPicoUSDPerToken: Int64
    /// Cached prompt tokens; the input price when the provider gives no discount.
    public var cachedInputPicoUSDPerToken: Int64
    /// Prompt tokens written to a cache; the input price when not set.
    public var cacheWritePicoUSDPerToken: Int64

    /// Prices in USD per million tokens, as providers publish them. Values are rounded to the
    /// picodollar per token (six decimals of a dollar per million), finer than any published price.
    public init(
        inputPerMillion: Double,
        outputPerMillion: Double,
        cachedInputPerMillion: Double? = nil,
        cacheWritePerMillion: Double? = nil
    ) {
        func pico(_ usdPerMillion: Double) -> Int64 { Int64((usdPerMillion * 1_000_000).rounded()) }
        self.inputPicoUSDPerToken = pico(inputPerMillion)
        self.outputPicoUSDPerToken = pico(outputPerMillion)
        self.cachedInputPicoUSDPerToken = pico(cachedInputPerMillion ?? inputPerMillion)
        self.cacheWritePicoUSDPerToken = pico(cacheWritePerMillion ?? inputPerMillion)
    }

    /// The cost of `usage` in picodollars (10⁻¹² USD). Token counts come from upstream bodies, so
    /// the arithmetic saturates instead of trapping on absurd numbers.
    public func costPicoUSD(_ usage: TokenUsage) -> Int64 {
        let input = Int64(max(usage.inputTokens, 0))
        let cached = min(Int64(max(usage.cachedInputTokens, 0)), input)
        let written = min(Int64(max(usage.cacheWriteInputTokens, 0)), input - cached)
        let uncached = input - cached - written
        return [
            Self.product(uncached, inputPicoUSDPerToken), Self.product(cached, cachedInputPicoUSDPerToken),
            Self.product(written, cacheWritePicoUSDPerToken),
            Self.product(Int64(max(usage.outputTokens, 0)), outputPicoUSDPerToken),
        ].reduce(0, Self.sum)
    }

    private static func product(_ tokens: Int64, _ price: Int64) -> Int64 {
        let (value, overflow) = tokens.multipliedReportingOverflow(by: price)
        return overflow ? .max : value
    }

    private static func sum(_ left: Int64, _ right: Int64) -> Int64 {
        let (value, overflow) = left.addingReportingOverflow(right)
        return overflow ? .max : value
    }
}

/// Prices by upstream model name. Configuration overrides and extends the shipped defaults.
public struct PriceTable: Sendable, Equatable {
    public var prices: [String: ModelPrice]

    public init(prices: [String: ModelPrice]) {
        self.prices = prices
    }

    /// The price for an upstream model: an exact entry, else the longest configured name that
    /// prefixes it (so `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`).
    public func price(forUpstreamModel model: String) -> ModelPrice? {
        if let exact = prices[model] { return exact }
        return prices.filter { model.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value
    }

    public func merging(_ overrides: [String: ModelPrice]) -> PriceTable {
        PriceTable(prices: prices.merging(overrides) { _, configured in configured })
    }

    /// List prices of common models (USD per million tokens: input, output, cached input).
    /// Configuration (`prices:`) overrides any of them.
    public static let shippedDefaults = PriceTable(prices: [
        "gpt-4o-mini": ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.60, cachedInputPerMillion: 0.075),
        "gpt-4o": ModelPrice(inputPerMillion: 2.50, outputPerMillion: 10.00, cachedInputPerMillion: 1.25),
        "gpt-4.1": ModelPrice(inputPerMillion: 2.00, outputPerMillion: 8.00, cachedInputPerMillion: 0.50),
        "gpt-4.1-mini": ModelPrice(inputPerMillion: 0.40, outputPerMillion: 1.60, cachedInputPerMillion: 0.10),
        "gpt-4.1-nano": ModelPrice(inputPerMillion: 0.10, outputPerMillion: 0.40, cachedInputPerMillion: 0.025),
        "o3": ModelPrice(inputPerMillion: 2.00, outputPerMillion: 8.00, cachedInputPerMillion: 0.50),
        "o4-mini": ModelPrice(inputPerMillion: 1.10, outputPerMillion: 4.40, cachedInputPerMillion: 0.275),
        "text-embedding-3-small": ModelPrice(inputPerMillion: 0.02, outputPerMillion: 0),
        "text-embedding-3-large": ModelPrice(inputPerMillion: 0.13, outputPerMillion: 0),
        "claude-haiku-4-5": ModelPrice(
            inputPerMillion: 1,
            outputPerMillion: 5,
            cachedInputPerMillion: 0.10,
            cacheWritePerMillion: 1.25
        ),
        "claude-sonnet-4-5": ModelPrice(
            inputPerMillion: 3,
            outputPerMillion: 15,
            cachedInputPerMillion: 0.30,
            cacheWritePerMillion: 3.75
        ),
        "claude-opus-4-1": ModelPrice(
            inputPerMillion: 15,
            outputPerMillion: 75,
            cachedInputPerMillion: 1.50,
            cacheWritePerMillion: 18.75
        ),
    ])
}
