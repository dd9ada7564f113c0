internal import Synchronization

/// Resolves client-facing model names (and aliases) to routes, and orders a route's deployments
/// for one request: lowest priority first; within a priority, a weighted random order; deployments
/// cooling down after a failure go last (still tried when nothing else is left).
public final class ModelRouter: Sendable {
    public struct Target: Sendable, Equatable {
        public let deployment: Deployment
        public let provider: ProviderDefinition
        /// Index into the router's health table.
        let healthIndex: Int
    }

    public struct ResolvedRoute: Sendable {
        public let route: ModelRoute
        let targets: [Target]
    }

    private let routesByName: [String: ResolvedRoute]
    /// Client-facing names in configuration order, for `/v1/models`.
    public let modelNames: [String]
    private let health: [DeploymentHealth]

    public init(configuration: LLMProxyConfiguration) {
        let providers = Dictionary(
            configuration.providers.map { ($0.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var routes: [String: ResolvedRoute] = [:]
        var health: [DeploymentHealth] = []
        for route in configuration.models {
            var targets: [Target] = []
            for deployment in route.deployments {
                guard let provider = providers[deployment.provider] else { continue }  // validated by config
                targets.append(Target(deployment: deployment, provider: provider, healthIndex: health.count))
                health.append(DeploymentHealth())
            }
            let resolved = ResolvedRoute(route: route, targets: targets)
            routes[route.name] = resolved
            for alias in route.aliases where routes[alias] == nil { routes[alias] = resolved }
        }
        self.routesByName = routes
        self.modelNames = configuration.models.map(\.name)
        self.health = health
    }

    public func route(named name: String) -> ResolvedRoute? {
        routesByName[name]
    }

    /// The order in which to try `route`'s deployments for one request.
    public func attemptOrder(
        for route: ResolvedRoute,
        now: ContinuousClock.Instant = .now,
        random: inout some RandomNumberGenerator
    ) -> [Target] {
        var ready: [Target] = []
        var coolingDown: [Target] = []
        for priority in Set(route.targets.map(\.deployment.priority)).sorted() {
            let group = route.targets.filter { $0.deployment.priority == priority }
            for target in Self.weightedOrder(group, random: &random) {
                if health[target.healthIndex].isCoolingDown(at: now) {
                    coolingDown.append(target)
                } else {
                    ready.append(target)
                }
            }
        }
        return ready + coolingDown
    }

    /// Marks a deployment as failing until `until`; later requests try others first.
    public func coolDown(_ target: Target, until: ContinuousClock.Instant) {
        health[target.healthIndex].coolDown(until: until)
    }

    public func markHealthy(_ target: Target) {
        health[target.healthIndex].clear()
    }

    /// Weighted random order without replacement: each pick is proportional to the remaining weights.
    static func weightedOrder(_ targets: [Target], random: inout some RandomNumberGenerator) -> [Target] {
        guard targets.count > 1 else { return targets }
        var remaining = targets
        var ordered: [Target] = []
        ordered.reserveCapacity(targets.count)
        while !remaining.isEmpty {
            let total = remaining.reduce(0) { $0 + max($1.deployment.weight, 0) }
            guard total > 0 else {
                ordered.append(contentsOf: remaining)
                break
            }
            var pick = Int.random(in: 0..<total, using: &random)
            let index =
                remaining.firstIndex { target in
                    pick -= max(target.deployment.weight, 0)
                    return pick < 0
                } ?? 0
            ordered.append(remaining.remove(at: index))
        }
        return ordered
    }
}

/// A deployment's cool-down deadline, read lock-free on every request.
final class DeploymentHealth: Sendable {
    /// Nanoseconds on the continuous clock's epoch offset; 0 means healthy.
    private let coolingDownUntil = Atomic<Int64>(0)
    private static let epoch = ContinuousClock.now

    func isCoolingDown(at now: ContinuousClock.Instant) -> Bool {
        let until = coolingDownUntil.load(ordering: .relaxed)
        return until != 0 && Self.nanoseconds(now) < until
    }

    func coolDown(until: ContinuousClock.Instant) {
        coolingDownUntil.store(max(Self.nanoseconds(until), 1), ordering: .relaxed)
    }

    func clear() {
        if coolingDownUntil.load(ordering: .relaxed) != 0 { coolingDownUntil.store(0, ordering: .relaxed) }
    }

    private static func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        (instant - epoch).saturatingNanoseconds
    }
}

extension Duration {
    /// Whole nanoseconds, pinned to `Int64`'s range rather than trapping (which a duration
    /// beyond about 292 years would).
    fileprivate var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (total, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !sumOverflow else { return seconds < 0 ? .min : .max }
        return total
    }
}
