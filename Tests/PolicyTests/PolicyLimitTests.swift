import GatehouseCore
import Testing

@testable import Policy

@Suite("Policy limits")
struct PolicyLimitTests {
    static let files = [
        "a.yaml": """
        agents: [a]
        models:
          allow: ["*"]
        tools:
          allow: ["*"]
        limits:
          - id: ping
            tool: quota__ping
            requests: 10
            per: 1m
          - id: agent-wide
            requests: 12
            per: 1m
          - id: parallel
            server: slow
            concurrent: 2
          - id: tpm
            model: small
            tokens: 400
            per: 1m
        """
    ]

    @Test func aWindowAdmitsExactlyItsLimitThenSaysWhenToRetry() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let start = ContinuousClock.now
        var admitted = 0
        var refusals: [PolicyDecision] = []
        for _ in 0..<50 {
            switch engine.evaluate(callTool("a", "quota__ping", "{}"), estimatedTokens: 0, now: start) {
            case .admitted: admitted += 1
            case .refused(let decision): refusals.append(decision)
            }
        }
        #expect(admitted == 10)
        #expect(refusals.allSatisfy { $0.effect == .limit && $0.rule == "a.yaml#ping" && $0.retryAfterSeconds == 60 })
        // The refused calls were not counted against the agent-wide limit: 2 more calls pass.
        for _ in 0..<2 {
            guard case .admitted = engine.evaluate(callTool("a", "other__x", "{}"), estimatedTokens: 0, now: start)
            else {
                Issue.record("agent-wide limit counted refused calls")
                return
            }
        }
        guard case .refused(let wide) = engine.evaluate(callTool("a", "other__x", "{}"), estimatedTokens: 0, now: start)
        else {
            Issue.record("agent-wide limit did not hold")
            return
        }
        #expect(wide.rule == "a.yaml#agent-wide")
        // A minute later the window has room again.
        guard
            case .admitted = engine.evaluate(
                callTool("a", "quota__ping", "{}"),
                estimatedTokens: 0,
                now: start + .seconds(60)
            )
        else {
            Issue.record("window did not slide")
            return
        }
    }

    @Test func concurrentCallsFromManyTasksPassExactlyTheLimit() async throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    if case .admitted = engine.evaluate(callTool("a", "quota__ping", "{}"), estimatedTokens: 0) {
                        return true
                    }
                    return false
                }
            }
            var count = 0
            for await passed in group where passed { count += 1 }
            return count
        }
        #expect(admitted == 10)
    }

    @Test func concurrencySlotsComeBackWhenTheTicketFinishesOrIsDropped() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        func enter() -> PolicyTicket? {
            if case .admitted(let ticket) = engine.evaluate(callTool("a", "slow__x", "{}"), estimatedTokens: 0) {
                return ticket
            }
            return nil
        }
        var first = enter()
        let second = enter()
        #expect(first != nil && second != nil)
        #expect(enter() == nil)
        second?.finish(usedTokens: nil)
        #expect(enter() != nil)  // dropped at once: its slot comes back too
        first = nil
        #expect(enter() != nil)
    }

    @Test func tokenReservationsStopOvershootAndSettleWithRealUsage() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let model = PolicyInput(identity: caller("a"), action: .callModel("small"))
        var tickets: [PolicyTicket] = []
        while case .admitted(let ticket) = engine.evaluate(model, estimatedTokens: 150) { tickets.append(ticket) }
        #expect(tickets.count == 3)  // 0, 150, 300 are under 400; 450 is not
        for ticket in tickets { ticket.finish(usedTokens: 50) }
        let usage = engine.counters.tokenUsage(
            key: CounterKey(agent: "a", limit: "model:small|tokens/60s", item: "small"),
            window: .seconds(60),
            now: .now
        )
        #expect(usage.used == 150 && usage.reserved == 0)
        let inFlight = engine.evaluate(model, estimatedTokens: 300)
        guard case .admitted = inFlight, case .refused(let refusal) = engine.evaluate(model, estimatedTokens: 1) else {
            Issue.record("expected a refusal once used + reserved reached the limit")
            return
        }
        #expect(refusal.limit == .init(unit: .tokens, allowed: 400))
    }

    @Test func listsNeverCount() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let list = PolicyInput(
            identity: caller("a"),
            action: .listTool(ToolTarget(server: "quota", name: "quota__ping"))
        )
        for _ in 0..<100 { #expect(engine.decide(list).isAllowed) }
        var admitted = 0
        for _ in 0..<20 {
            if case .admitted = engine.evaluate(callTool("a", "quota__ping", "{}"), estimatedTokens: 0) {
                admitted += 1
            }
        }
        #expect(admitted == 10)
    }

    @Test func countersSurviveAReload() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        for _ in 0..<10 { _ = engine.evaluate(callTool("a", "quota__ping", "{}"), estimatedTokens: 0) }
        engine.replace(with: try policySet(Self.files))
        guard case .refused = engine.evaluate(callTool("a", "quota__ping", "{}"), estimatedTokens: 0) else {
            Issue.record("a reload reset the count")
            return
        }
    }
}
