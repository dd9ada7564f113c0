internal import AsyncHTTPClient
internal import GatehouseCore
internal import NIOCore
internal import NIOHTTP1

/// The upstream operations the LLM plane performs.
enum UpstreamOperation: Sendable {
    case chatCompletions
    case responses
    case embeddings
    case messages

    var openAIPath: String {
        switch self {
        case .chatCompletions: "/chat/completions"
        case .responses: "/responses"
        case .embeddings: "/embeddings"
        case .messages: "/messages"
        }
    }
}

/// Builds the HTTP request for one provider: URL, credentials, protocol headers. Client
/// credentials never reach this point; only the provider's own key is attached.
enum ProviderEndpoint {
    /// Client headers forwarded to Anthropic on native calls (they select API behaviour).
    static let forwardedAnthropicHeaders = ["anthropic-version", "anthropic-beta"]

    static func request(
        provider: ProviderDefinition,
        deployment: Deployment,
        operation: UpstreamOperation,
        body: ByteBuffer,
        isStreaming: Bool,
        forwardedHeaders: [(String, String)]
    ) -> HTTPClientRequest {
        let base = provider.baseURL.hasSuffix("/") ? String(provider.baseURL.dropLast()) : provider.baseURL
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: isStreaming ? "text/event-stream" : "application/json")
        let url: String
        switch provider.kind {
        case .openAI:
            url = base + operation.openAIPath
            headers.add(name: "authorization", value: "Bearer \(provider.apiKey.revealedValue)")
        case .azure(let apiVersion):
            let deploymentName = deployment.model.addingPercentEncodingForPath()
            url = "\(base)/openai/deployments/\(deploymentName)\(operation.openAIPath)?api-version=\(apiVersion)"
            headers.add(name: "api-key", value: provider.apiKey.revealedValue)
        case .anthropic(let version):
            url = base + "/v1/messages"
            headers.add(name: "x-api-key", value: provider.apiKey.revealedValue)
            var sentVersion = false
            for (name, value) in forwardedHeaders where forwardedAnthropicHeaders.contains(name) {
                headers.add(name: name, value: value)
                if name == "anthropic-version" { sentVersion = true }
            }
            if !sentVersion { headers.add(name: "anthropic-version", value: version) }
        }
        for header in provider.headers {
            headers.replaceOrAdd(name: header.name, value: header.value.revealedValue)
        }
        // The call's own span as the provider's parent, so a provider that traces joins the run.
        if let traceParent = forwardedHeaders.first(where: { $0.0 == "traceparent" }) {
            headers.replaceOrAdd(name: "traceparent", value: traceParent.1)
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(body)
        return request
    }
}

extension String {
    fileprivate func addingPercentEncodingForPath() -> String {
        var output = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return output
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
