/// Who is calling: the agent a request was authenticated as, and how.
///
/// Every later layer (routing, limits, budgets, traces) reads the agent from here. The credential
/// itself is never kept: only the kind and a label that is safe to log. Policy's authenticators
/// make it; the planes and tracing read it, so it lives here.
public struct Identity: Sendable, Hashable {
    /// The agent's configured name, as written in `agents[].name`.
    public let agentName: String
    /// How the caller proved who it is.
    public let method: AuthenticationMethod
    /// Groups the credential names (a JWT's groups claim), for policies written per group.
    public let groups: [String]

    public init(agentName: String, method: AuthenticationMethod, groups: [String] = []) {
        self.agentName = agentName
        self.method = method
        self.groups = groups
    }
}

/// The ways a caller can prove its identity. API keys come first; managed keys, JWT and OAuth
/// add cases without changing what the rest of the gateway reads (`Identity.agentName`).
public enum AuthenticationMethod: Sendable, Hashable {
    /// A static key from configuration; `keyIndex` is its position in the agent's `api_keys`
    /// list, which names the key in logs without revealing it.
    case configuredAPIKey(keyIndex: Int)
    /// A key made by `gatehouse keys create` or the admin API; `id` is its public part.
    case managedKey(id: String)
    /// A JWT bearer token; `subject` is its `sub` claim.
    case jwt(subject: String)
    /// A caller made up by `gatehouse policy test` and `policy explain`: no credential at all.
    case policyTest
}
