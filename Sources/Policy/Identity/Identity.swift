/// Who is calling: the agent a request was authenticated as, and how.
///
/// Every later layer (routing, limits, budgets, traces) reads the agent from here. The credential
/// itself is never kept: only the kind and a label that is safe to log.
public struct Identity: Sendable, Hashable {
    /// The agent's configured name, as written in `agents[].name`.
    public let agentName: String
    /// How the caller proved who it is.
    public let method: AuthenticationMethod

    public init(agentName: String, method: AuthenticationMethod) {
        self.agentName = agentName
        self.method = method
    }
}

/// The ways a caller can prove its identity. API keys come first; managed keys, JWT and OAuth
/// add cases without changing what the rest of the gateway reads (`Identity.agentName`).
public enum AuthenticationMethod: Sendable, Hashable {
    /// A static key from configuration; `keyIndex` is its position in the agent's `api_keys`
    /// list, which names the key in logs without revealing it.
    case configuredAPIKey(keyIndex: Int)
}

/// Where a request carried its credential.
public enum PresentedCredential: Sendable, Equatable {
    /// `Authorization: Bearer KEY` (OpenAI clients, MCP clients).
    case bearer(Substring)
    /// `x-api-key: KEY` (Anthropic clients).
    case apiKeyHeader(Substring)

    var key: Substring {
        switch self {
        case .bearer(let key), .apiKeyHeader(let key): key
        }
    }

    /// Reads the credential from the two headers clients use, `Authorization` first.
    /// Returns nil when neither is present (or `Authorization` uses another scheme and no `x-api-key` exists).
    public static func from(authorization: Substring?, apiKeyHeader: Substring?) -> PresentedCredential? {
        if let authorization {
            let trimmed = authorization.drop(while: { $0 == " " })
            let scheme = trimmed.prefix(while: { $0 != " " })
            if scheme.lowercased() == "bearer" {
                let token = trimmed.dropFirst(scheme.count).drop(while: { $0 == " " })
                let end = token.lastIndex(where: { $0 != " " }).map { token.index(after: $0) } ?? token.startIndex
                let key = token[..<end]
                if !key.isEmpty { return .bearer(key) }
            }
        }
        if let apiKeyHeader {
            let key = apiKeyHeader.trimmingSpaces()
            if !key.isEmpty { return .apiKeyHeader(key) }
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        let start = drop(while: { $0 == " " })
        guard let last = start.lastIndex(where: { $0 != " " }) else {
            return start[start.startIndex..<start.startIndex]
        }
        return start[...last]
    }
}
