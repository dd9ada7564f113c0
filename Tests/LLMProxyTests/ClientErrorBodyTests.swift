import Foundation
import LLMProxy
import Testing

@Suite("LLMClientDialect")
struct LLMClientDialectTests {
    @Test(arguments: [
        ("/v1/messages", LLMClientDialect.anthropic),
        ("/v1/messages/count_tokens", .anthropic),
        ("/v1/messages/", .anthropic),
        ("/v1/chat/completions", .openAI),
        ("/v1/responses", .openAI),
        ("/v1/embeddings", .openAI),
        ("/v1/models", .openAI),
        ("/v1/messagesx", .openAI),
        ("/v2/messages", .openAI),
        ("/v1/Messages", .openAI),
        ("/", .openAI),
        ("", .openAI),
    ])
    func dialectForPath(path: String, expected: LLMClientDialect) {
        #expect(LLMClientDialect(path: Substring(path)) == expected)
    }
}

/// Parses `data` as one JSON object.
private func object(_ data: Data) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: data)
    return try #require(parsed as? [String: Any], "not a JSON object: \(String(decoding: data, as: UTF8.self))")
}

@Suite("LLMClientErrorBody")
struct LLMClientErrorBodyTests {
    @Test(arguments: [
        // (kind, OpenAI type, OpenAI code)
        (LLMClientErrorKind.authentication, "invalid_request_error", "invalid_api_key" as String?),
        (.permission, "permission_error", nil),
        (.notFound, "invalid_request_error", "not_found"),
        (.invalidRequest, "invalid_request_error", nil),
        (.requestTooLarge, "invalid_request_error", "request_too_large"),
        (.rateLimited, "rate_limit_exceeded", "rate_limit_exceeded"),
        (.overloaded, "server_error", nil),
        (.upstream, "server_error", nil),
        (.internal, "server_error", nil),
    ])
    func openAIShape(kind: LLMClientErrorKind, type: String, code: String?) throws {
        let body = try object(LLMClientErrorBody.render(kind, message: "Something failed.", dialect: .openAI))
        #expect(Set(body.keys) == ["error"])
        let error = try #require(body["error"] as? [String: Any])
        #expect(Set(error.keys) == ["message", "type", "param", "code"])
        #expect(error["message"] as? String == "Something failed.")
        #expect(error["type"] as? String == type)
        #expect(error["param"] is NSNull)
        if let code {
            #expect(error["code"] as? String == code)
        } else {
            #expect(error["code"] is NSNull)
        }
    }

    @Test(arguments: [
        // (kind, Anthropic type)
        (LLMClientErrorKind.authentication, "authentication_error"),
        (.permission, "permission_error"),
        (.notFound, "not_found_error"),
        (.invalidRequest, "invalid_request_error"),
        (.requestTooLarge, "request_too_large"),
        (.rateLimited, "rate_limit_error"),
        (.overloaded, "overloaded_error"),
        (.upstream, "api_error"),
        (.internal, "api_error"),
    ])
    func anthropicShape(kind: LLMClientErrorKind, type: String) throws {
        let body = try object(LLMClientErrorBody.render(kind, message: "Something failed.", dialect: .anthropic))
        #expect(Set(body.keys) == ["type", "error"])
        #expect(body["type"] as? String == "error")
        let error = try #require(body["error"] as? [String: Any])
        #expect(Set(error.keys) == ["type", "message"])
        #expect(error["type"] as? String == type)
        #expect(error["message"] as? String == "Something failed.")
    }

    @Test func exactBytes() {
        let openAI = LLMClientErrorBody.render(.authentication, message: "Invalid API key.", dialect: .openAI)
        #expect(
            String(decoding: openAI, as: UTF8.self)
                == #"{"error":{"code":"invalid_api_key","message":"Invalid API key.","param":null,"type":"invalid_request_error"}}"#
        )
        let anthropic = LLMClientErrorBody.render(.authentication, message: "Invalid API key.", dialect: .anthropic)
        #expect(
            String(decoding: anthropic, as: UTF8.self)
                == #"{"error":{"message":"Invalid API key.","type":"authentication_error"},"type":"error"}"#
        )
    }

    static let awkwardMessages = [
        #"the model "gpt-x" does not exist"#,
        "line one\nline two\r\n\ttabbed",
        #"back\slash and /v1/messages"#,
        "control \u{0} \u{1f} and unicode é ✓ 🔑",
        "",
    ]

    @Test(arguments: [LLMClientDialect.openAI, .anthropic], awkwardMessages)
    func messageIsEscaped(dialect: LLMClientDialect, message: String) throws {
        let data = LLMClientErrorBody.render(.invalidRequest, message: message, dialect: dialect)
        // Escaped: no raw control character reaches the body.
        #expect(!data.contains(where: { $0 < 0x20 }))
        let body = try object(data)
        let error = try #require(body["error"] as? [String: Any])
        #expect(error["message"] as? String == message)
    }

    @Test func quotesAndNewlinesAreEscapedInTheBytes() {
        let data = LLMClientErrorBody.render(.invalidRequest, message: "a \"b\"\nc", dialect: .openAI)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""message":"a \"b\"\nc""#))
    }
}
