/// Where a request carried its credential.
public enum PresentedCredential: Sendable, Equatable {
    /// `Authorization: Bearer KEY` (OpenAI clients, MCP clients).
    case bearer(Substring)
    /// `x-api-key: KEY` (Anthropic clients).
    case apiKeyHeader(Substring)

    public var key: Substring {
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
