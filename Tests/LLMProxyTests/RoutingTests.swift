import GatehouseCore
import LLMProxy
import Testing

/// SplitMix64 (Steele, Lea and Flood, 2014): a seeded generator, so "random" orders are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func provider(_ name: String) -> ProviderDefinition {
    ProviderDefinition(name: name, kind: .openAI, baseURL: "http://127.0.0.1:9/v1", apiKey: Secret("sk-test"))
}

private func makeRouter(_ routes: [ModelRoute], providers: [String] = ["p1", "p2", "p3"]) -> ModelRouter {
    ModelRouter(configuration: LLMProxyConfiguration(providers: providers.map(provider), models: routes))
}

private func models(_ targets: [ModelRouter.Target]) -> [String] {
    targets.map(\.deployment.model)
}

@Suite("ModelRouter")
struct ModelRouterTests {
    @Test func ordersDeploymentsByPriority() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "fallback-2", priority: 2),
                    Deployment(provider: "p2", model: "primary", priority: 0),
                    Deployment(provider: "p3", model: "fallback-1", priority: 1),
                    Deployment(provider: "p1", model: "emergency", priority: 7),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 1)
        for _ in 0..<20 {
            #expect(
                models(router.attemptOrder(for: route, random: &random))
                    == ["primary", "fallback-1", "fallback-2", "emergency"]
            )
        }
    }

    @Test func weightsSplitFirstPicksThreeToOne() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "heavy", weight: 3),
                    Deployment(provider: "p2", model: "light", weight: 1),
                    Deployment(provider: "p3", model: "fallback", weight: 100, priority: 1),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 0x6A7E_0005)
        var heavyFirst = 0
        var badOrders = 0
        let rounds = 4000
        for _ in 0..<rounds {
            let order = models(router.attemptOrder(for: route, random: &random))
            if order.first == "heavy" { heavyFirst += 1 }
            if Set(order.prefix(2)) != ["heavy", "light"] || order.last != "fallback" || order.count != 3 {
                badOrders += 1
            }
        }
        let share = Double(heavyFirst) / Double(rounds)
        #expect(share > 0.70 && share < 0.80, "heavy was first in \(heavyFirst) of \(rounds) orders")
        #expect(badOrders == 0)
    }

    @Test func zeroWeightDeploymentsGoLastWithinTheirPriority() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "drained", weight: 0),
                    Deployment(provider: "p2", model: "live", weight: 1),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            #expect(models(router.attemptOrder(for: route, random: &random)) == ["live", "drained"])
        }
    }

    @Test func coolingDownTargetsMoveLastAndReturnWhenTheCoolDownEnds() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "a", priority: 0),
                    Deployment(provider: "p2", model: "b", priority: 1),
                    Deployment(provider: "p3", model: "c", priority: 2),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 3)
        let now = ContinuousClock.now
        let first = try #require(router.attemptOrder(for: route, now: now, random: &random).first)
        #expect(first.deployment.model == "a")

        router.coolDown(first, until: now + .seconds(10))
        #expect(models(router.attemptOrder(for: route, now: now, random: &random)) == ["b", "c", "a"])
        #expect(
            models(router.attemptOrder(for: route, now: now + .milliseconds(9_999), random: &random))
                == ["b", "c", "a"]
        )
        #expect(models(router.attemptOrder(for: route, now: now + .seconds(10), random: &random)) == ["a", "b", "c"])
        #expect(models(router.attemptOrder(for: route, now: now + .seconds(60), random: &random)) == ["a", "b", "c"])
    }

    /// The deadline is kept in Int64 nanoseconds; one past that range once overflowed.
    @Test func aCoolDownFarInTheFutureKeepsTheTargetLast() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "a", priority: 0),
                    Deployment(provider: "p2", model: "b", priority: 1),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 5)
        let now = ContinuousClock.now
        let first = try #require(router.attemptOrder(for: route, now: now, random: &random).first)
        router.coolDown(first, until: now + .seconds(1_000_000_000_000))
        #expect(models(router.attemptOrder(for: route, now: now + .seconds(86_400), random: &random)) == ["b", "a"])
    }

    @Test func coolingDownTargetsKeepTheirPriorityOrderAmongThemselves() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "a", priority: 0),
                    Deployment(provider: "p2", model: "b", priority: 1),
                    Deployment(provider: "p3", model: "c", priority: 2),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 4)
        let now = ContinuousClock.now
        let order = router.attemptOrder(for: route, now: now, random: &random)
        router.coolDown(order[1], until: now + .seconds(30))
        router.coolDown(order[0], until: now + .seconds(5))
        #expect(models(router.attemptOrder(for: route, now: now, random: &random)) == ["c", "a", "b"])
        #expect(models(router.attemptOrder(for: route, now: now + .seconds(6), random: &random)) == ["a", "c", "b"])
    }

    @Test func markHealthyRestoresATargetBeforeItsCoolDownEnds() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "a", priority: 0),
                    Deployment(provider: "p2", model: "b", priority: 1),
                ]
            )
        ])
        let route = try #require(router.route(named: "chat"))
        var random = SplitMix64(seed: 5)
        let now = ContinuousClock.now
        let first = try #require(router.attemptOrder(for: route, now: now, random: &random).first)
        router.coolDown(first, until: now + .seconds(300))
        #expect(models(router.attemptOrder(for: route, now: now, random: &random)) == ["b", "a"])
        router.markHealthy(first)
        #expect(models(router.attemptOrder(for: route, now: now, random: &random)) == ["a", "b"])
    }

    @Test func coolDownIsPerDeploymentNotPerProviderOrRoute() throws {
        let router = makeRouter([
            ModelRoute(
                name: "chat",
                deployments: [
                    Deployment(provider: "p1", model: "a", priority: 0),
                    Deployment(provider: "p1", model: "b", priority: 1),
                ]
            ),
            ModelRoute(name: "other", deployments: [Deployment(provider: "p1", model: "a")]),
        ])
        let chat = try #require(router.route(named: "chat"))
        let other = try #require(router.route(named: "other"))
        var random = SplitMix64(seed: 6)
        let now = ContinuousClock.now
        let first = try #require(router.attemptOrder(for: chat, now: now, random: &random).first)
        router.coolDown(first, until: now + .seconds(30))
        #expect(models(router.attemptOrder(for: chat, now: now, random: &random)) == ["b", "a"])
        let otherOrder = router.attemptOrder(for: other, now: now, random: &random)
        #expect(models(otherOrder) == ["a"])
        router.coolDown(try #require(otherOrder.first), until: now + .seconds(30))
        #expect(models(router.attemptOrder(for: chat, now: now, random: &random)) == ["b", "a"])
    }

    @Test func aliasesResolveToTheirRoute() throws {
        let router = makeRouter([
            ModelRoute(
                name: "fast",
                aliases: ["quick", "gpt-4o-mini"],
                deployments: [Deployment(provider: "p1", model: "m")]
            ),
            ModelRoute(name: "smart", aliases: ["quick"], deployments: [Deployment(provider: "p2", model: "n")]),
        ])
        #expect(router.route(named: "fast")?.route.name == "fast")
        #expect(router.route(named: "quick")?.route.name == "fast")
        #expect(router.route(named: "gpt-4o-mini")?.route.name == "fast")
        #expect(router.route(named: "smart")?.route.name == "smart")
        #expect(router.route(named: "unknown") == nil)
        #expect(router.route(named: "Fast") == nil)
        #expect(router.modelNames == ["fast", "smart"])
    }

    @Test func aRouteNameWinsOverAnotherRoutesAlias() throws {
        let router = makeRouter([
            ModelRoute(name: "first", aliases: ["second"], deployments: [Deployment(provider: "p1", model: "m")]),
            ModelRoute(name: "second", deployments: [Deployment(provider: "p2", model: "n")]),
        ])
        #expect(router.route(named: "second")?.route.name == "second")
    }

    @Test func deploymentsWithAMissingProviderAreSkipped() throws {
        let router = makeRouter(
            [
                ModelRoute(
                    name: "chat",
                    deployments: [
                        Deployment(provider: "gone", model: "x", priority: 0),
                        Deployment(provider: "p1", model: "kept", priority: 1),
                        Deployment(provider: "also-gone", model: "y", priority: 2),
                    ]
                ),
                ModelRoute(name: "empty", deployments: [Deployment(provider: "gone", model: "z")]),
            ],
            providers: ["p1"]
        )
        var random = SplitMix64(seed: 8)
        let chat = try #require(router.route(named: "chat"))
        let order = router.attemptOrder(for: chat, random: &random)
        #expect(models(order) == ["kept"])
        #expect(order.first?.provider.name == "p1")
        let empty = try #require(router.route(named: "empty"))
        #expect(router.attemptOrder(for: empty, random: &random).isEmpty)
    }
}

@Suite("FailoverPolicy")
struct FailoverPolicyTests {
    private static let defaultCoolDown = Duration.seconds(10)

    @Test(arguments: [
        (FailoverPolicy.AttemptFailure.connectionFailed, FailoverPolicy.Decision.tryNext(coolDown: .seconds(10))),
        (.timedOut, .tryNext(coolDown: .seconds(10))),
        (.status(400, retryAfter: nil), .answerClient),
        (.status(401, retryAfter: nil), .answerClient),
        (.status(403, retryAfter: nil), .answerClient),
        (.status(404, retryAfter: nil), .answerClient),
        (.status(408, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(409, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(413, retryAfter: nil), .answerClient),
        (.status(422, retryAfter: nil), .answerClient),
        (.status(429, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(429, retryAfter: .seconds(30)), .tryNext(coolDown: .seconds(30))),
        (.status(429, retryAfter: .milliseconds(250)), .tryNext(coolDown: .milliseconds(250))),
        (.status(429, retryAfter: .seconds(3600)), .tryNext(coolDown: .seconds(300))),
        (.status(429, retryAfter: .zero), .tryNext(coolDown: .zero)),
        (.status(400, retryAfter: .seconds(30)), .answerClient),
        (.status(500, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(502, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(503, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
        (.status(503, retryAfter: .seconds(2)), .tryNext(coolDown: .seconds(2))),
        (.status(529, retryAfter: nil), .tryNext(coolDown: .seconds(10))),
    ])
    func decides(failure: FailoverPolicy.AttemptFailure, expected: FailoverPolicy.Decision) {
        #expect(FailoverPolicy.decide(failure, defaultCoolDown: Self.defaultCoolDown) == expected)
    }

    @Test(arguments: [
        // (Retry-After, retry-after-ms, expected)
        ("5" as String?, nil as String?, Duration.seconds(5) as Duration?),
        ("0", nil, .zero),
        ("1.5", nil, .milliseconds(1500)),
        ("0.25", nil, .milliseconds(250)),
        (nil, "250", .milliseconds(250)),
        (nil, "12.9", .milliseconds(12)),
        ("5", "250", .milliseconds(250)),
        ("5", "soon", .seconds(5)),
        ("soon", nil, nil),
        ("Wed, 21 Oct 2015 07:28:00 GMT", nil, nil),
        ("-1", nil, nil),
        (nil, "-5", nil),
        ("", "", nil),
        (nil, nil, nil),
    ])
    func parsesRetryAfter(seconds: String?, milliseconds: String?, expected: Duration?) {
        #expect(FailoverPolicy.retryAfter(seconds: seconds, milliseconds: milliseconds) == expected)
    }

    /// Header values come from the upstream: an absurd one must not bring the gateway down.
    @Test func absurdRetryAfterValuesDoNotTrap() async {
        await #expect(processExitsWith: .success) {
            _ = FailoverPolicy.retryAfter(seconds: "1e30", milliseconds: nil)
            _ = FailoverPolicy.retryAfter(seconds: nil, milliseconds: "1e30")
            _ = FailoverPolicy.retryAfter(seconds: "inf", milliseconds: nil)
        }
    }

    @Test(arguments: [
        // (pass, base in milliseconds)
        (1, 250), (2, 500), (3, 1000), (4, 2000), (5, 4000), (6, 4000), (10, 4000),
    ])
    func backoffStaysWithinAQuarterOfTheBase(pass: Int, base: Int) {
        var random = SplitMix64(seed: UInt64(pass) * 1_000_003)
        let samples = (0..<500).map { _ in FailoverPolicy.backoff(beforePass: pass, random: &random) }
        let low = Duration.milliseconds(base - base / 4)
        let high = Duration.milliseconds(base + base / 4)
        #expect(samples.allSatisfy { $0 >= low && $0 <= high })
        // Jitter is applied in both directions, not a fixed wait.
        #expect(samples.contains { $0 < .milliseconds(base) })
        #expect(samples.contains { $0 > .milliseconds(base) })
    }

    @Test func backoffIsReproducibleWithTheSameSeed() {
        var first = SplitMix64(seed: 99)
        var second = SplitMix64(seed: 99)
        let a = (1...6).map { FailoverPolicy.backoff(beforePass: $0, random: &first) }
        let b = (1...6).map { FailoverPolicy.backoff(beforePass: $0, random: &second) }
        #expect(a == b)
    }
}
