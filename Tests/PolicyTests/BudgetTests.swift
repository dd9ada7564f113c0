import Foundation
import GatehouseCore
import Testing

@testable import Policy

@Suite("Budgets")
struct BudgetTests {
    static let december = Date(timeIntervalSince1970: 1_796_595_000)  // 2026-12-06T22:10:00Z

    @Test func periodsAreUTCDaysAndMonths() {
        #expect(BudgetPeriod.day.key(of: Self.december) == "2026-12-06")
        #expect(BudgetPeriod.month.key(of: Self.december) == "2026-12")
        #expect(BudgetPeriod.day.reset(after: Self.december) == Date(timeIntervalSince1970: 1_796_601_600))
        #expect(BudgetPeriod.month.reset(after: Self.december) == Date(timeIntervalSince1970: 1_798_761_600))
        #expect(BudgetPeriod.day.start(of: Self.december) == Date(timeIntervalSince1970: 1_796_515_200))
    }

    @Test func periodKeysAgreeWithTheCalendarAtBoundaries() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // Last and first seconds of days, months and years, a leap day, and a time of day past noon.
        let instants: [TimeInterval] = [
            1_798_761_599, 1_798_761_600, 1_709_164_800, 1_709_251_199, 951_782_400, 0, 1_796_595_000.75,
        ]
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let month = String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
            #expect(BudgetPeriod.month.key(of: date) == month)
            #expect(BudgetPeriod.day.key(of: date) == month + String(format: "-%02d", parts.day ?? 0))
        }
    }

    @Test func spendRollsOverWithItsPeriod() {
        let spend = BudgetSpend()
        spend.add(agent: "a", picoUSD: 5, at: Self.december)
        spend.add(agent: "a", picoUSD: 7, at: Self.december)
        #expect(spend.spent(agent: "a", period: .day, at: Self.december) == 12)
        let tomorrow = Self.december.addingTimeInterval(86_400)
        #expect(spend.spent(agent: "a", period: .day, at: tomorrow) == 0)
        #expect(spend.spent(agent: "a", period: .month, at: tomorrow) == 12)
        spend.add(agent: "a", picoUSD: 1, at: tomorrow)
        #expect(spend.spent(agent: "a", period: .day, at: tomorrow) == 1)
        #expect(spend.spent(agent: "a", period: .month, at: tomorrow) == 13)
    }

    @Test func aSpentBudgetRefusesModelCallsButNotToolCalls() throws {
        let set = try policySet([
            "a.yaml": "agents: [a]\nmodels:\n  allow: ['*']\ntools:\n  allow: ['*']\nbudgets:\n  daily_usd: 1\n"
        ])
        let spend = BudgetSpend()
        let engine = PolicyEngine(set, spend: spend)
        let model = PolicyInput(identity: caller("a"), action: .callModel("m"))
        guard case .admitted = engine.evaluate(model, estimatedTokens: 0) else {
            Issue.record("refused before any spend")
            return
        }
        spend.add(agent: "a", picoUSD: 1_000_000_000_000)
        guard case .refused(let refusal) = engine.evaluate(model, estimatedTokens: 0) else {
            Issue.record("the spent budget admitted a call")
            return
        }
        #expect(refusal.effect == .limit && refusal.rule == "a.yaml#budgets.daily_usd")
        #expect(refusal.reason.contains("daily budget of $1.00") && refusal.reason.contains("resets at"))
        #expect((refusal.retryAfterSeconds ?? 0) >= 1 && (refusal.retryAfterSeconds ?? .max) <= 86_400)
        guard case .admitted = engine.evaluate(callTool("a", "x__y", "{}"), estimatedTokens: 0) else {
            Issue.record("a budget refused a tool call")
            return
        }
        #expect(engine.budgetStatus(agent: "a").map(\.spentPicoUSD) == [1_000_000_000_000])
    }
}
