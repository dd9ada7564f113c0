public import Foundation

/// The error dialects of the two client APIs the LLM plane serves. A client SDK only surfaces a
/// useful exception when the body has its own provider's shape.
public enum LLMClientDialect: Sendable {
    /// OpenAI-compatible endpoints: `{"error":{"message","type","param","code"}}`.
    case openAI
    /// Anthropic Messages: `{"type":"error","error":{"type","message"}}`.
    case anthropic

    /// `/v1/messages` speaks Anthropic's dialect; every other LLM route speaks OpenAI's.
    public init(path: Substring) {
        self = path == "/v1/messages" || path.hasPrefix("/v1/messages/") ? .anthropic : .openAI
    }
}

/// What went wrong, in terms both dialects can express.
public enum LLMClientErrorKind: Sendable {
    case authentication
    case permission
    case notFound
    case invalidRequest
    case requestTooLarge
    case rateLimited
    case overloaded
    case upstream
    case `internal`

    var openAIType: String {
        switch self {
        case .authentication: "invalid_request_error"
        case .permission: "permission_error"
        case .notFound: "invalid_request_error"
        case .invalidRequest, .requestTooLarge: "invalid_request_error"
        case .rateLimited: "rate_limit_exceeded"
        case .overloaded, .upstream, .internal: "server_error"
        }
    }

    var openAICode: String? {
        switch self {
        case .authentication: "invalid_api_key"
        case .notFound: "not_found"
        case .requestTooLarge: "request_too_large"
        case .rateLimited: "rate_limit_exceeded"
        default: nil
        }
    }

    var anthropicType: String {
        switch self {
        case .authentication: "authentication_error"
        case .permission: "permission_error"
        case .notFound: "not_found_error"
        case .invalidRequest: "invalid_request_error"
        case .requestTooLarge: "request_too_large"
        case .rateLimited: "rate_limit_error"
        case .overloaded: "overloaded_error"
        case .upstream, .internal: "api_error"
        }
    }
}

/// Renders an error body in the client's dialect.
public enum LLMClientErrorBody {
    /// `code` overrides the OpenAI `code` the kind implies (for example `model_not_found`).
    public static func render(
        _ kind: LLMClientErrorKind,
        message: String,
        dialect: LLMClientDialect,
        code: String? = nil
    ) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch dialect {
        case .openAI:
            let body = OpenAIErrorEnvelope(
                error: .init(message: message, type: kind.openAIType, param: nil, code: code ?? kind.openAICode)
            )
            return (try? encoder.encode(body)) ?? Data()
        case .anthropic:
            let body = AnthropicErrorEnvelope(error: .init(type: kind.anthropicType, message: message))
            return (try? encoder.encode(body)) ?? Data()
        }
    }
}

struct OpenAIErrorEnvelope: Encodable {
    struct Detail: Encodable {
        let message: String
        let type: String
        let param: String?
        let code: String?

        func encode(to encoder: any Encoder) throws {
            // OpenAI sends `param` and `code` as explicit nulls; SDKs read them as present keys.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }

        enum CodingKeys: String, CodingKey { case message, type, param, code }
    }
    let error: Detail
}

struct AnthropicErrorEnvelope: Encodable {
    struct Detail: Encodable {
        let type: String
        let message: String
    }
    let type = "error"
    let error: Detail
}
