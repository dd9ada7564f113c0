internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseCore
internal import GatehouseJSON
internal import HTTPTypes
public import Hummingbird
public import Logging
internal import NIOCore
internal import NIOHTTP1
public import Policy

/// Serves the LLM endpoints: decodes only what routing needs, picks deployments, fails over,
/// forwards or translates the body and the stream, and accounts for every token.
public struct LLMProxyService: Sendable {
    let runtime: @Sendable () -> LLMRuntime
    let usageSink: any UsageSink
    let logger: Logger
    let shutdownAllowance: Duration
    let policy: any PolicyDecisionPoint

    /// `shutdownAllowance`: how long a stream still open when shutdown begins may go on before it
    /// ends itself cleanly (the executable's drain leaves itself a moment after that).
    public init(
        runtime: @escaping @Sendable () -> LLMRuntime,
        usageSink: any UsageSink,
        logger: Logger,
        shutdownAllowance: Duration = .milliseconds(2500),
        policy: any PolicyDecisionPoint = AllowAllPolicy()
    ) {
        self.policy = policy
        self.runtime = runtime
        self.usageSink = usageSink
        self.logger = logger
        self.shutdownAllowance = shutdownAllowance
    }

    /// Mounts `/v1/chat/completions`, `/v1/messages`, `/v1/responses`, `/v1/embeddings`, `/v1/models`.
    public func register<Context: RequestContext & LLMRequestContextProtocol>(on router: Router<Context>) {
        router.post("/v1/chat/completions") { request, context in
            await handle(.chatCompletions, request: request, context: context)
        }
        router.post("/v1/messages") { request, context in
            await handle(.messages, request: request, context: context)
        }
        router.post("/v1/responses") { request, context in
            await handle(.responses, request: request, context: context)
        }
        router.post("/v1/embeddings") { request, context in
            await handle(.embeddings, request: request, context: context)
        }
        router.get("/v1/models") { _, context in
            listModels(for: context.agentRequest)
        }
    }

    // MARK: - Models

    /// The models the caller's policy lets it use.
    func listModels(for caller: AgentRequest?) -> Response {
        let created = JSONValue(Int(Date().timeIntervalSince1970))
        var names = runtime().router.modelNames
        if policy.isActive {
            guard let caller else { return Self.render(.unauthenticated, dialect: .openAI) }
            names = names.filter {
                policy.decide(PolicyInput(identity: caller.identity, action: .listModel($0))).isAllowed
            }
        }
        let data = names.map { name in
            JSONValue.object(
                JSONObject([
                    "id": .string(name), "object": .string("model"), "created": created,
                    "owned_by": .string("gatehouse"),
                ])
            )
        }
        let body = JSONValue.object(JSONObject(["object": .string("list"), "data": .array(data)]))
        return Self.json(body.serialized(), status: .ok)
    }

    // MARK: - Exchange

    /// One client request, from its body to the response (or the stream that will follow): the
    /// plane's one edge, where its errors become a response in the client's dialect.
    func handle<Context: RequestContext & LLMRequestContextProtocol>(
        _ api: ClientAPI,
        request: Request,
        context: Context
    ) async -> Response {
        do {
            return try await respond(api, request: request, context: context)
        } catch {
            return Self.render(error, dialect: api.dialect)
        }
    }

    private func respond<Context: RequestContext & LLMRequestContextProtocol>(
        _ api: ClientAPI,
        request: Request,
        context: Context
    ) async throws(LLMProxyError) -> Response {
        guard let caller = context.agentRequest else { throw .unauthenticated }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.requestBodyLimit)
        } catch {
            throw .requestTooLarge(limit: context.requestBodyLimit)
        }
        let envelope: RequestEnvelope
        switch RequestEnvelope.read(body, api: api) {
        case .success(let read): envelope = read
        case .failure(let problem): throw .invalidRequest(problem.message)
        }
        let runtime = self.runtime()
        guard let route = runtime.router.route(named: envelope.model) else {
            throw .modelNotFound(model: envelope.model)
        }
        let ticket = try await admit(caller, envelope: envelope, logger: context.logger)
        let exchange = Exchange(
            api: api,
            envelope: envelope,
            route: route,
            runtime: runtime,
            caller: caller,
            shutdownAllowance: shutdownAllowance,
            forwardedHeaders: Self.forwardableHeaders(request.headers),
            usageSink: usageSink,
            ticket: ticket,
            logger: context.logger
        )
        return try await exchange.run()
    }

    /// The policy's answer for the model; an admitted call holds its ticket (token reservation,
    /// concurrency slot) until its usage is recorded.
    private func admit(
        _ caller: AgentRequest,
        envelope: RequestEnvelope,
        logger: Logger
    ) async throws(LLMProxyError) -> PolicyTicket {
        let input = PolicyInput(
            identity: caller.identity,
            action: .callModel(envelope.model),
            requestID: caller.requestID
        )
        switch await policy.admit(input, estimatedTokens: TokenEstimate.likely(envelope)) {
        case .admitted(let ticket):
            return ticket
        case .refused(let decision):
            logger.info(
                "LLM call refused by policy",
                metadata: [
                    "model": "\(envelope.model)", "decision": "\(decision.effect.rawValue)", "rule": "\(decision.rule)",
                ]
            )
            throw decision.effect == .limit ? .rateLimited(decision) : .policyDenied(decision)
        }
    }

    static func forwardableHeaders(_ headers: HTTPFields) -> [(String, String)] {
        ProviderEndpoint.forwardedAnthropicHeaders.compactMap { name in
            guard let fieldName = HTTPField.Name(name), let value = headers[fieldName] else { return nil }
            return (name, value)
        }
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// The plane's errors as the client's SDK expects them: status and body in its dialect.
    static func render(_ error: LLMProxyError, dialect: LLMClientDialect) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in error.headers { headers[name] = value }
        return Response(
            status: error.status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: error.body(dialect: dialect)))
        )
    }
}

/// The fields of a client request that routing reads, and the body as it came.
struct RequestEnvelope: Sendable {
    let body: ByteBuffer
    let object: TopLevelJSONObject
    let model: String
    let isStreaming: Bool
    /// Whether the client itself asked for the final usage chunk (OpenAI chat).
    let clientRequestedUsage: Bool

    struct Problem: Error {
        let message: String
    }

    static func read(_ body: ByteBuffer, api: ClientAPI) -> Result<RequestEnvelope, Problem> {
        guard let object = try? TopLevelJSONObject(scanning: body) else {
            return .failure(Problem(message: "The request body must be a JSON object."))
        }
        guard let modelMember = object.member("model"),
            case .string(let model)? = body.jsonValue(at: modelMember.valueRange),
            !model.isEmpty
        else {
            return .failure(Problem(message: "The request needs a 'model' string."))
        }
        // Embeddings never stream; a stray `stream` there is forwarded untouched and ignored.
        let isStreaming =
            api != .embeddings && object.member("stream").flatMap { body.jsonValue(at: $0.valueRange) } == .bool(true)
        let streamOptions = object.member("stream_options").flatMap { body.jsonValue(at: $0.valueRange) }
        return .success(
            RequestEnvelope(
                body: body,
                object: object,
                model: model,
                isStreaming: isStreaming,
                clientRequestedUsage: streamOptions?["include_usage"] == .bool(true)
            )
        )
    }
}
