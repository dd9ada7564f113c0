internal import Foundation
internal import GatehouseCore
internal import HTTPTypes
internal import Hummingbird
internal import LLMProxy
internal import MCPHost

/// An error the gateway answers itself, rendered at the edge in the dialect of the route it hit.
struct GatewayError: Error, Sendable {
    enum Kind: Sendable {
        case unauthenticated
        case notFound
        case bodyTooLarge
        case badRequest
        case `internal`
    }

    let kind: Kind
    let message: String
    /// The `WWW-Authenticate` challenge of a 401, when there is more to say than `Bearer`.
    var challenge: String?

    init(kind: Kind, message: String, challenge: String? = nil) {
        self.kind = kind
        self.message = message
        self.challenge = challenge
    }

    var status: HTTPResponse.Status {
        switch kind {
        case .unauthenticated: .unauthorized
        case .notFound: .notFound
        case .bodyTooLarge: .contentTooLarge
        case .badRequest: .badRequest
        case .internal: .internalServerError
        }
    }
}

/// The protocol a route speaks, which decides the shape of its error bodies.
enum RouteDialect {
    case openAI
    case anthropic
    case jsonRPC
    /// Gatehouse's own endpoints (admin, health): the OpenAI shape, the most widely parsed one.
    case gateway

    init(path: Substring) {
        if path == "/mcp" || path.hasPrefix("/mcp/") {
            self = .jsonRPC
        } else if path.hasPrefix("/v1/") {
            self = LLMClientDialect(path: path) == .anthropic ? .anthropic : .openAI
        } else {
            self = .gateway
        }
    }

    /// True for the routes that serve agents and therefore need an agent's credential.
    static func isProxyPath(_ path: Substring) -> Bool {
        path.hasPrefix("/v1/") || path == "/v1" || path == "/mcp" || path.hasPrefix("/mcp/")
    }

    func render(_ error: GatewayError) -> Response {
        let body: Data
        switch self {
        case .jsonRPC:
            let code: JSONRPCErrorCode
            switch error.kind {
            case .unauthenticated: code = .unauthorized
            case .bodyTooLarge: code = .requestTooLarge
            case .notFound: code = .methodNotFound
            case .badRequest: code = .invalidRequest
            case .internal: code = .internalError
            }
            body = JSONRPCErrorBody.render(code: code, message: error.message)
        case .openAI, .anthropic, .gateway:
            let kind: LLMClientErrorKind
            switch error.kind {
            case .unauthenticated: kind = .authentication
            case .notFound: kind = .notFound
            case .bodyTooLarge: kind = .requestTooLarge
            case .badRequest: kind = .invalidRequest
            case .internal: kind = .internal
            }
            body = LLMClientErrorBody.render(
                kind,
                message: error.message,
                dialect: self == .anthropic ? .anthropic : .openAI
            )
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if error.kind == .unauthenticated, self != .gateway {
            headers[.wwwAuthenticate] = error.challenge ?? "Bearer"
        }
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
