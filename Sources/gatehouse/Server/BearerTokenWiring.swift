internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseConfig
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import NIOHTTP1
internal import Policy
internal import Synchronization

/// The JWT authenticator of the configuration in force (rebuilt when `auth` or the agents change).
final class BearerTokens: Sendable {
    private let current = Mutex<JWTAuthenticator?>(nil)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    var authenticator: JWTAuthenticator? { current.withLock { $0 } }

    /// Builds the authenticator for `configuration` and loads its keys; a key problem is logged
    /// (tokens then fail until the keys can be read), not fatal.
    func apply(_ configuration: GatehouseConfiguration) async {
        guard let settings = configuration.auth.jwt else {
            current.withLock { $0 = nil }
            return
        }
        let authenticator = await JWTAuthenticator(
            settings: settings,
            agents: Set(configuration.agents.map(\.name)),
            fetch: Self.fetchJWKS
        )
        if let problem = await authenticator.loadKeys() {
            logger.error(
                "JWT keys could not be loaded; bearer tokens fail until they can",
                metadata: ["error": "\(problem)"]
            )
        }
        current.withLock { $0 = authenticator }
    }

    static let maximumJWKSSize = 256 << 10

    /// A JWKS document over HTTP(S): 5 s at most, 256 KiB at most, no redirects followed.
    @Sendable static func fetchJWKS(_ url: String) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else { throw JWKSFetchError(status: Int(response.status.code)) }
        let body = try await response.body.collect(upTo: maximumJWKSSize)
        return Data(body.readableBytesView)
    }

    struct JWKSFetchError: Error, CustomStringConvertible {
        let status: Int
        var description: String { "the JWKS URL answered \(status)" }
    }
}

/// OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoints, so MCP clients find
/// the authorization servers whose tokens the gateway accepts.
struct ProtectedResourceRoutes {
    let state: RuntimeState

    private struct Metadata: Encodable {
        let resource: String
        let authorization_servers: [String]
        let bearer_methods_supported = ["header"]
        let scopes_supported: [String]?
        let resource_name = "Gatehouse"
    }

    func register(on router: Router<GatehouseRequestContext>) {
        for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
            router.get(RouterPath(path)) { request, _ in try metadata(request, endpoint: "/mcp") }
        }
        router.get("/.well-known/oauth-protected-resource/mcp/:server") { request, context in
            try metadata(request, endpoint: "/mcp/\(context.parameters.get("server") ?? "")")
        }
    }

    private func metadata(_ request: Request, endpoint: String) throws -> Response {
        let auth = state.snapshot.configuration.auth
        guard auth.publishesResourceMetadata else {
            throw GatewayError(
                kind: .notFound,
                message: "No protected resource metadata: auth.authorization_servers is not set."
            )
        }
        return try jsonResponse(
            Metadata(
                resource: Self.resource(for: endpoint, auth: auth, request: request),
                authorization_servers: auth.authorizationServers,
                scopes_supported: auth.scopesSupported.isEmpty ? nil : auth.scopesSupported
            )
        )
    }

    /// The canonical URI of an MCP endpoint: the configured resource (for `/mcp/{server}`, with
    /// the server appended), else the request's own origin.
    static func resource(for endpoint: String, auth: AuthSettings, request: Request) -> String {
        if let resource = auth.resource {
            let base = resource.hasSuffix("/") ? String(resource.dropLast()) : resource
            return endpoint == "/mcp" ? base : base + endpoint.dropFirst("/mcp".count)
        }
        return origin(of: request) + endpoint
    }

    /// Where clients find the metadata for `endpoint` (path-inserted, RFC 9728 §3.1).
    static func metadataURL(for endpoint: String, auth: AuthSettings, request: Request) -> String {
        if let resource = auth.resource, let url = URL(string: resource), let scheme = url.scheme, let host = url.host {
            let port = url.port.map { ":\($0)" } ?? ""
            let path = url.path.isEmpty || url.path == "/" ? "" : url.path
            let suffix = endpoint == "/mcp" ? path : path + endpoint.dropFirst("/mcp".count)
            return "\(scheme)://\(host)\(port)/.well-known/oauth-protected-resource\(suffix)"
        }
        return origin(of: request) + "/.well-known/oauth-protected-resource" + endpoint
    }

    private static func origin(of request: Request) -> String {
        let host = request.head.authority ?? "localhost"
        let safe = host.allSatisfy { $0.isLetter || $0.isNumber || ".-:[]".contains($0) } ? host : "localhost"
        return "http://\(safe)"
    }
}
