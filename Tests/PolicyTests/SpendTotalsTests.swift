import Policy
import Testing

@Suite struct SpendTotalsTests {
    @Test func callsAddUpPerAgentAndModelOnTopOfTheSeed() {
        var totals = SpendTotals(seed: [
            SpendTotal(agent: "a", model: "m", requests: 2, inputTokens: 20, outputTokens: 4, costPicoUSD: 1_000)
        ])
        totals.add(agent: "a", model: "m", inputTokens: 5, outputTokens: 1, costPicoUSD: 50)
        totals.add(agent: "b", model: "m", inputTokens: 7, outputTokens: 2, costPicoUSD: 70)
        totals.add(agent: "a", model: "l", inputTokens: 1, outputTokens: 1, costPicoUSD: 1)
        #expect(
            totals.all == [
                SpendTotal(agent: "a", model: "l", requests: 1, inputTokens: 1, outputTokens: 1, costPicoUSD: 1),
                SpendTotal(agent: "a", model: "m", requests: 3, inputTokens: 25, outputTokens: 5, costPicoUSD: 1_050),
                SpendTotal(agent: "b", model: "m", requests: 1, inputTokens: 7, outputTokens: 2, costPicoUSD: 70),
            ]
        )
    }

    @Test func negativeAmountsCountAsZeroAndSumsStopAtTheMaximum() {
        var totals = SpendTotals(seed: [
            SpendTotal(agent: "a", model: "m", requests: .max, inputTokens: .max - 1, outputTokens: 0, costPicoUSD: 0)
        ])
        totals.add(agent: "a", model: "m", inputTokens: 10, outputTokens: -3, costPicoUSD: -9)
        #expect(
            totals.all == [
                SpendTotal(agent: "a", model: "m", requests: .max, inputTokens: .max, outputTokens: 0, costPicoUSD: 0)
            ]
        )
    }
}
