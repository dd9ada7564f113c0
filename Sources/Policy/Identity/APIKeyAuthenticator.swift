public import GatehouseCore

/// An agent as configured: its name and the static API keys it may present.
public struct AgentDefinition: Sendable, Equatable {
    public let name: String
    public let apiKeys: [Secret]

    public init(name: String, apiKeys: [Secret]) {
        self.name = name
        self.apiKeys = apiKeys
    }
}

/// Why a request could not be authenticated. The message is safe to send to the client:
/// it never contains the presented key.
public enum AuthenticationFailure: Error, Sendable, Equatable {
    case missingCredential
    case invalidCredential
    case revokedCredential
    case expiredCredential
    /// A bearer token that is not acceptable; the reason never quotes the token.
    case invalidToken(String)

    public var message: String {
        switch self {
        case .missingCredential:
            "Missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'."
        case .invalidCredential:
            "Invalid API key."
        case .revokedCredential:
            "This API key has been revoked."
        case .expiredCredential:
            "This API key has expired."
        case .invalidToken(let reason):
            "Invalid bearer token: \(reason)."
        }
    }
}

/// Resolves a presented API key to the agent that owns it.
///
/// Every configured key is compared, in constant time, on every call, so neither the position of
/// a matching key nor the length of a shared prefix shows in the response time.
public struct APIKeyAuthenticator: Sendable {
    private struct Entry: Sendable {
        let agentName: String
        let keyIndex: Int
        let key: Secret
    }

    private let entries: [Entry]

    public init(agents: [AgentDefinition]) {
        var entries: [Entry] = []
        for agent in agents {
            for (index, key) in agent.apiKeys.enumerated() where !key.isEmpty {
                entries.append(Entry(agentName: agent.name, keyIndex: index, key: key))
            }
        }
        self.entries = entries
    }

    /// The number of keys that can authenticate; zero means every proxy request is refused.
    public var activeKeyCount: Int { entries.count }

    public func authenticate(_ credential: PresentedCredential?) -> Result<Identity, AuthenticationFailure> {
        guard let credential else { return .failure(.missingCredential) }
        let presented = Array(credential.key.utf8)
        var match: Entry?
        for entry in entries where entry.key.matches(presented) && match == nil {
            match = entry
        }
        guard let match else { return .failure(.invalidCredential) }
        return .success(Identity(agentName: match.agentName, method: .configuredAPIKey(keyIndex: match.keyIndex)))
    }
}
