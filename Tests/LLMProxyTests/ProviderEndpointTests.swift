import AsyncHTTPClient
import GatehouseCore
import NIOCore
import Testing

@testable import LLMProxy

@Suite struct ProviderEndpointTests {
    private func request(
        _ kind: ProviderDefinition.Kind,
        baseURL: String,
        operation: UpstreamOperation,
        model: String = "gpt-4o-mini",
        forwarded: [(String, String)] = [],
        headers: [ProviderDefinition.Header] = []
    ) -> HTTPClientRequest {
        ProviderEndpoint.request(
            provider: ProviderDefinition(
                name: "p",
                kind: kind,
                baseURL: baseURL,
                apiKey: Secret("provider-key"),
                headers: headers
            ),
            deployment: Deployment(provider: "p", model: model),
            operation: operation,
            body: ByteBuffer(string: "{}"),
            isStreaming: false,
            forwardedHeaders: forwarded
        )
    }

    @Test func openAICompatibleProvidersGetBearerAndTheVersionedBase() {
        let built = request(.openAI, baseURL: "http://127.0.0.1:9/v1/", operation: .chatCompletions)
        #expect(built.url == "http://127.0.0.1:9/v1/chat/completions")
        #expect(built.method == .POST)
        #expect(built.headers["authorization"] == ["Bearer provider-key"])
        #expect(built.headers["x-api-key"].isEmpty)
        #expect(built.headers["content-type"] == ["application/json"])
        #expect(request(.openAI, baseURL: "https://h/v1", operation: .embeddings).url == "https://h/v1/embeddings")
        #expect(request(.openAI, baseURL: "https://h/v1", operation: .responses).url == "https://h/v1/responses")
    }

    @Test func azureUsesTheDeploymentPathApiVersionAndApiKey() {
        let built = request(
            .azure(apiVersion: "2024-10-21"),
            baseURL: "https://res.openai.azure.com",
            operation: .chatCompletions,
            model: "my deployment"
        )
        #expect(
            built.url
                == "https://res.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21"
        )
        #expect(built.headers["api-key"] == ["provider-key"])
        #expect(built.headers["authorization"].isEmpty)
    }

    @Test func anthropicGetsXApiKeyAndAVersionAndForwardsOnlyItsOwnHeaders() {
        let defaulted = request(.anthropic(version: "2023-06-01"), baseURL: "http://127.0.0.1:9", operation: .messages)
        #expect(defaulted.url == "http://127.0.0.1:9/v1/messages")
        #expect(defaulted.headers["x-api-key"] == ["provider-key"])
        #expect(defaulted.headers["anthropic-version"] == ["2023-06-01"])
        let forwarded = request(
            .anthropic(version: "2023-06-01"),
            baseURL: "http://127.0.0.1:9",
            operation: .messages,
            forwarded: [
                ("anthropic-version", "2026-10-21"), ("anthropic-beta", "a,b"), ("authorization", "Bearer agent-key"),
            ]
        )
        #expect(forwarded.headers["anthropic-version"] == ["2026-10-21"])
        #expect(forwarded.headers["anthropic-beta"] == ["a,b"])
        #expect(forwarded.headers["authorization"].isEmpty)
    }

    @Test func configuredHeadersAreAdded() {
        let built = request(
            .openAI,
            baseURL: "https://h/v1",
            operation: .chatCompletions,
            headers: [.init(name: "openai-project", value: Secret("proj"))]
        )
        #expect(built.headers["openai-project"] == ["proj"])
    }
}
