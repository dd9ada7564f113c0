public import GatehouseConfig
internal import GatehouseCore
public import Yams

/// The main configuration's `auth:` section: bearer tokens (JWT) and the OAuth protected-resource
/// metadata that tells MCP clients where to get them.
public struct AuthSettings: Sendable, Equatable {
    public var jwt: JWTSettings?
    /// The canonical URI of the MCP endpoint (`https://gateway.example.com/mcp`), as the
    /// metadata's `resource`; without it, derived from each request's Host.
    public var resource: String?
    public var authorizationServers: [String] = []
    public var scopesSupported: [String] = []

    public init() {}

    /// Whether `/.well-known/oauth-protected-resource` is served and 401s point at it.
    public var publishesResourceMetadata: Bool { !authorizationServers.isEmpty }

    public static let knownKeys = ["jwt", "resource", "authorization_servers", "scopes_supported"]
    public static let jwtKeys = [
        "issuer", "audiences", "jwks_file", "jwks_url", "hs256_secret", "agent_claim", "groups_claim", "leeway",
        "algorithms", "keys_max_age",
    ]

    public static func decode(_ node: Node, reader: inout ConfigReader) -> AuthSettings {
        var settings = AuthSettings()
        guard let entries = reader.mapping(node, path: "auth", allowedKeys: knownKeys) else { return settings }
        if let node = entries["resource"],
            let url = reader.baseURL(node, path: "auth.resource", example: "https://gateway.example.com/mcp")
        {
            settings.resource = url
        }
        if let node = entries["authorization_servers"] {
            settings.authorizationServers = urls(node, path: "auth.authorization_servers", reader: &reader)
        }
        if let node = entries["scopes_supported"], let items = reader.sequence(node, path: "auth.scopes_supported") {
            settings.scopesSupported = items.enumerated().compactMap {
                reader.nonEmptyString($1, path: "auth.scopes_supported[\($0)]")
            }
        }
        if let node = entries["jwt"] { settings.jwt = decodeJWT(node, reader: &reader) }
        return settings
    }

    private static func urls(_ node: Node, path: String, reader: inout ConfigReader) -> [String] {
        guard let items = reader.sequence(node, path: path) else { return [] }
        return items.enumerated().compactMap {
            reader.baseURL($1, path: "\(path)[\($0)]", example: "https://auth.example.com")
        }
    }

    private static func decodeJWT(_ node: Node, reader: inout ConfigReader) -> JWTSettings? {
        guard let entries = reader.mapping(node, path: "auth.jwt", allowedKeys: jwtKeys) else { return nil }
        var settings = JWTSettings()
        if let node = entries["issuer"] { settings.issuer = reader.nonEmptyString(node, path: "auth.jwt.issuer") }
        if let node = entries["audiences"], let items = reader.sequence(node, path: "auth.jwt.audiences") {
            settings.audiences = items.enumerated().compactMap {
                reader.nonEmptyString($1, path: "auth.jwt.audiences[\($0)]")
            }
        }
        if settings.audiences.isEmpty {
            reader.report(
                node,
                path: "auth.jwt.audiences",
                "tokens must be checked for their audience",
                hint: "list the URIs tokens for this gateway carry in 'aud', e.g. [https://gateway.example.com/mcp]"
            )
        }
        let sources = ["jwks_file", "jwks_url"].filter { entries[$0] != nil }
        if sources.count > 1 {
            reader.report(node, path: "auth.jwt", "set one of jwks_file or jwks_url, not both")
        } else if let node = entries["jwks_file"], let path = reader.nonEmptyString(node, path: "auth.jwt.jwks_file") {
            settings.keySource = .jwksFile(path)
        } else if let node = entries["jwks_url"],
            let url = reader.baseURL(
                node,
                path: "auth.jwt.jwks_url",
                example: "https://auth.example.com/.well-known/jwks.json"
            )
        {
            settings.keySource = .jwksURL(url)
        }
        if let node = entries["hs256_secret"], let secret = reader.secret(node, path: "auth.jwt.hs256_secret"),
            !secret.isEmpty
        {
            settings.hs256Secret = secret
        }
        if settings.keySource == nil && settings.hs256Secret == nil {
            reader.report(
                node,
                path: "auth.jwt",
                "no key to check tokens with",
                hint: "set jwks_file, jwks_url or hs256_secret"
            )
        }
        if let node = entries["agent_claim"], let claim = reader.nonEmptyString(node, path: "auth.jwt.agent_claim") {
            settings.agentClaim = claim
        }
        if let node = entries["groups_claim"] {
            settings.groupsClaim = reader.nonEmptyString(node, path: "auth.jwt.groups_claim")
        }
        if let node = entries["leeway"],
            let leeway = reader.duration(
                node,
                path: "auth.jwt.leeway",
                range: .zero...Duration.seconds(300),
                example: "30s"
            )
        {
            settings.leeway = leeway
        }
        if let node = entries["keys_max_age"],
            let age = reader.duration(
                node,
                path: "auth.jwt.keys_max_age",
                range: .seconds(10)...Duration.seconds(86_400),
                example: "10m"
            )
        {
            settings.keysMaxAge = age
        }
        if let node = entries["algorithms"], let items = reader.sequence(node, path: "auth.jwt.algorithms") {
            settings.algorithms = items.enumerated().compactMap {
                reader.choice($1, path: "auth.jwt.algorithms[\($0)]", options: JWTSettings.supportedAlgorithms)
            }
        }
        if settings.hs256Secret == nil { settings.algorithms.removeAll { $0 == "HS256" } }
        if settings.keySource == nil { settings.algorithms.removeAll { $0 != "HS256" } }
        return settings
    }
}
