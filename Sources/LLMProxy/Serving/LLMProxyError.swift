internal import Foundation
public import HTTPTypes
public import Policy

/// Why the LLM plane answered a request with an error of its own. Thrown inside the plane and
/// rendered once, at its edge (`LLMProxyService.render`), in the client's dialect. An upstream's
/// own error body in the client's dialect is not one of these: it passes through as it came.
public enum LLMProxyError: Error, Sendable, Equatable {
    /// No authenticated caller reached the route (the authentication middleware is not in front).
    case unauthenticated
    case requestTooLarge(limit: Int)
    /// The body is not a request the gateway can route or translate.
    case invalidRequest(String)
    case modelNotFound(model: String)
    /// The model has deployments, but none serves this endpoint.
    case noDeploymentServesEndpoint(model: String)
    case upstreamUnreachable(model: String, reason: String)
    case upstreamTimedOut(model: String, after: Duration)
    case upstreamResponseCutOff(model: String)
    case upstreamBodyNotJSON
    /// A status outside 100-599 (HTTP/2 carries `:status` as any number).
    case upstreamInvalidStatus(Int)
    /// The provider refused the gateway's own credentials: not the client's fault, and the
    /// provider's message may quote part of the key, so it is never forwarded.
    case providerRefusedCredentials(model: String, status: Int)
    /// The provider refused the request; its status and message, re-rendered for a client that
    /// speaks another dialect.
    case upstreamRefused(status: Int, message: String)
    /// The gateway stopped before the provider answered.
    case shuttingDown
    /// The caller's policy does not allow the model.
    case policyDenied(PolicyDecision)
    /// One of the caller's limits refused the call for now.
    case rateLimited(PolicyDecision)
    /// A content guard blocked the prompt: the provider never saw it. The decision names the
    /// guard and the detector, never the text it found.
    case contentBlocked(PolicyDecision)

    public var status: HTTPResponse.Status {
        switch self {
        case .unauthenticated: .unauthorized
        case .requestTooLarge: .contentTooLarge
        case .invalidRequest, .noDeploymentServesEndpoint: .badRequest
        case .modelNotFound: .notFound
        case .upstreamUnreachable, .upstreamResponseCutOff, .upstreamBodyNotJSON, .upstreamInvalidStatus,
            .providerRefusedCredentials:
            .badGateway
        case .upstreamTimedOut: .gatewayTimeout
        case .upstreamRefused(let status, _): (100...599).contains(status) ? .init(code: status) : .badGateway
        case .shuttingDown: .serviceUnavailable
        case .policyDenied, .contentBlocked: .forbidden
        case .rateLimited: .tooManyRequests
        }
    }

    public var kind: LLMClientErrorKind {
        switch self {
        case .unauthenticated: .authentication
        case .requestTooLarge: .requestTooLarge
        case .invalidRequest, .noDeploymentServesEndpoint: .invalidRequest
        case .modelNotFound: .notFound
        case .upstreamUnreachable, .upstreamTimedOut, .upstreamResponseCutOff, .upstreamBodyNotJSON,
            .upstreamInvalidStatus, .providerRefusedCredentials:
            .upstream
        case .upstreamRefused(let status, _):
            switch status {
            case 400, 422: .invalidRequest
            case 401: .authentication
            case 403: .permission
            case 404: .notFound
            case 413: .requestTooLarge
            case 429: .rateLimited
            case 529, 503: .overloaded
            default: status >= 500 ? .upstream : .invalidRequest
            }
        case .shuttingDown: .overloaded
        case .policyDenied, .contentBlocked: .permission
        case .rateLimited: .rateLimited
        }
    }

    public var message: String {
        switch self {
        case .unauthenticated:
            "The request was not authenticated."
        case .requestTooLarge(let limit):
            "The request body exceeds the gateway's limit of \(limit) bytes."
        case .invalidRequest(let message):
            message
        case .modelNotFound(let model):
            "The model '\(model)' does not exist or you do not have access to it."
        case .noDeploymentServesEndpoint(let model):
            "The model '\(model)' has no deployment that serves this endpoint."
        case .upstreamUnreachable(let model, let reason):
            "No deployment of '\(model)' could be reached (\(reason))."
        case .upstreamTimedOut(let model, let after):
            "No deployment of '\(model)' answered within \(after)."
        case .upstreamResponseCutOff(let model):
            "The upstream response for '\(model)' was cut off."
        case .upstreamBodyNotJSON:
            "The upstream answered with a body that is not JSON."
        case .upstreamInvalidStatus(let status):
            "The upstream answered with an invalid HTTP status (\(status))."
        case .providerRefusedCredentials(let model, let status):
            "The provider refused the gateway's credentials for '\(model)' (\(status)); check the provider's api_key."
        case .upstreamRefused(_, let message):
            message
        case .shuttingDown:
            "The gateway is shutting down; the request was interrupted. Retry it on another instance."
        case .policyDenied(let decision):
            "Denied by policy: \(decision.reason) (rule \(decision.rule))."
        case .rateLimited(let decision):
            "Rate limited: \(decision.reason) (rule \(decision.rule))."
        case .contentBlocked(let decision):
            "Blocked by a content guard: \(decision.reason) (rule \(decision.rule))."
        }
    }

    /// The OpenAI `code`, where the gateway sets one beyond the kind's own.
    var code: String? {
        switch self {
        case .modelNotFound: "model_not_found"
        case .policyDenied: "policy_denied"
        case .rateLimited: "rate_limit_exceeded"
        case .contentBlocked: "content_blocked"
        default: nil
        }
    }

    /// `Retry-After` and the OpenAI-style `x-ratelimit-*` headers of a limit's refusal.
    var headers: [(HTTPField.Name, String)] {
        guard case .rateLimited(let decision) = self else { return [] }
        var headers: [(HTTPField.Name, String)] = []
        if let seconds = decision.retryAfterSeconds { headers.append((.retryAfter, String(seconds))) }
        if let limit = decision.limit, limit.unit == .requests || limit.unit == .tokens,
            let limitName = HTTPField.Name("x-ratelimit-limit-\(limit.unit.rawValue)"),
            let remainingName = HTTPField.Name("x-ratelimit-remaining-\(limit.unit.rawValue)"),
            let resetName = HTTPField.Name("x-ratelimit-reset-\(limit.unit.rawValue)")
        {
            headers.append((limitName, String(limit.allowed)))
            headers.append((remainingName, "0"))
            headers.append((resetName, "\(decision.retryAfterSeconds ?? 1)s"))
        }
        return headers
    }

    /// The body the client gets, in its dialect.
    func body(dialect: LLMClientDialect) -> Data {
        LLMClientErrorBody.render(kind, message: message, dialect: dialect, code: code)
    }
}

extension LLMProxyError {
    /// The low-cardinality `error.type` a trace records: the policy's refusals by name, the rest
    /// by the HTTP status the client got.
    var traceErrorType: String {
        switch self {
        case .policyDenied: "policy_denied"
        case .rateLimited: "rate_limited"
        case .contentBlocked: "content_blocked"
        case .upstreamTimedOut: "timeout"
        case .upstreamUnreachable: "upstream_unreachable"
        case .shuttingDown: "shutting_down"
        default: String(status.code)
        }
    }
}
