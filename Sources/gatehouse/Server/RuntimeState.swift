internal import Atomics
internal import LLMProxy
internal import Policy

/// Everything a request needs from the current configuration, derived once per load.
/// Immutable: a reload builds a new one and swaps it in; requests in flight keep the one they read.
final class RuntimeSnapshot: Sendable, AtomicReference {
    let configuration: GatehouseConfiguration
    let source: ConfigSource
    let authenticator: APIKeyAuthenticator
    /// The configured agents: a managed key of an agent no longer configured authenticates nobody.
    let agentNames: Set<String>
    let llm: LLMRuntime

    init(configuration: GatehouseConfiguration, source: ConfigSource, upstreamClient: UpstreamClient) {
        self.configuration = configuration
        self.source = source
        self.authenticator = APIKeyAuthenticator(agents: configuration.agents)
        self.agentNames = Set(configuration.agents.map(\.name))
        self.llm = LLMRuntime(configuration: configuration.llm, client: upstreamClient)
    }
}

/// The current snapshot, read lock-free by every request (one atomic load), replaced by reloads.
final class RuntimeState: Sendable {
    private let current: ManagedAtomic<RuntimeSnapshot>

    init(_ snapshot: RuntimeSnapshot) {
        self.current = ManagedAtomic(snapshot)
    }

    var snapshot: RuntimeSnapshot { current.load(ordering: .acquiring) }

    func replace(with snapshot: RuntimeSnapshot) {
        current.store(snapshot, ordering: .releasing)
    }
}
