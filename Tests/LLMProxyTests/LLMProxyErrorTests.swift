import Foundation
import HTTPTypes
import Testing

@testable import LLMProxy

@Suite("LLMProxyError")
struct LLMProxyErrorTests {
    @Test(arguments: [
        (LLMProxyError.unauthenticated, HTTPResponse.Status.unauthorized, "authentication_error"),
        (.requestTooLarge(limit: 1024), .contentTooLarge, "request_too_large"),
        (.invalidRequest("bad"), .badRequest, "invalid_request_error"),
        (.modelNotFound(model: "m"), .notFound, "not_found_error"),
        (.noDeploymentServesEndpoint(model: "m"), .badRequest, "invalid_request_error"),
        (.upstreamUnreachable(model: "m", reason: "refused"), .badGateway, "api_error"),
        (.upstreamTimedOut(model: "m", after: .seconds(3)), .gatewayTimeout, "api_error"),
        (.upstreamResponseCutOff(model: "m"), .badGateway, "api_error"),
        (.upstreamBodyNotJSON, .badGateway, "api_error"),
        (.upstreamInvalidStatus(1000), .badGateway, "api_error"),
        (.providerRefusedCredentials(model: "m", status: 401), .badGateway, "api_error"),
        (.upstreamRefused(status: 429, message: "slow down"), .tooManyRequests, "rate_limit_error"),
        (.upstreamRefused(status: 529, message: "busy"), .init(code: 529), "overloaded_error"),
        (.upstreamRefused(status: 418, message: "teapot"), .init(code: 418), "invalid_request_error"),
        (.upstreamRefused(status: 2000, message: "odd"), .badGateway, "api_error"),
        (.shuttingDown, .serviceUnavailable, "overloaded_error"),
    ])
    func statusAndAnthropicType(error: LLMProxyError, status: HTTPResponse.Status, anthropicType: String) throws {
        #expect(error.status == status)
        let body = try object(error.body(dialect: .anthropic))
        #expect(body["type"] as? String == "error")
        let detail = try #require(body["error"] as? [String: Any])
        #expect(detail["type"] as? String == anthropicType)
        #expect(detail["message"] as? String == error.message)
    }

    @Test func openAIBodiesCarryTheMessageTypeAndCode() throws {
        let notFound = try #require(
            try object(LLMProxyError.modelNotFound(model: "gpt-9").body(dialect: .openAI))["error"] as? [String: Any]
        )
        #expect(notFound["message"] as? String == "The model 'gpt-9' does not exist or you do not have access to it.")
        #expect(notFound["type"] as? String == "invalid_request_error")
        #expect(notFound["code"] as? String == "model_not_found")

        let refused = try #require(
            try object(LLMProxyError.providerRefusedCredentials(model: "gpt-4o", status: 403).body(dialect: .openAI))[
                "error"
            ]
                as? [String: Any]
        )
        #expect(
            refused["message"] as? String
                == "The provider refused the gateway's credentials for 'gpt-4o' (403); check the provider's api_key."
        )
        #expect(refused["type"] as? String == "server_error")
    }

    private func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
