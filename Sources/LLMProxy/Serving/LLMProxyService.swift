internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseCore
internal import GatehouseJSON
public import GatehouseTracing
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
    let tracer: any TraceRecorder

    /// `shutdownAllowance`: how long a stream still open when shutdown begins may go on before it
    /// ends itself cleanly (the executable's drain leaves itself a moment after that).
    public init(
        runtime: @escaping @Sendable () -> LLMRuntime,
        usageSink: any UsageSink,
        logger: Logger,
        shutdownAllowance: Duration = .milliseconds(2500),
        policy: any PolicyDecisionPoint = AllowAllPolicy(),
        tracer: any TraceRecorder = NoTraceRecorder()
    ) {
        self.policy = policy
        self.tracer = tracer
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
        let startNanoseconds = tracer.isActive ? TraceClock.now() : 0
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.requestBodyLimit)
        } catch {
            throw .requestTooLarge(limit: context.requestBodyLimit)
        }
        var envelope: RequestEnvelope
        switch RequestEnvelope.read(body, api: api) {
        case .success(let read): envelope = read
        case .failure(let problem): throw .invalidRequest(problem.message)
        }
        let runtime = self.runtime()
        guard let route = runtime.router.route(named: envelope.model) else {
            throw .modelNotFound(model: envelope.model)
        }
        let guardContext = GuardContext(
            identity: caller.identity,
            requestID: caller.requestID,
            subject: envelope.model,
            session: SessionKeys(mcpSession: nil, run: caller.run)
        )
        // Embeddings answer with vectors, not text: no completion guard reads them.
        let completionGuard = api == .embeddings ? nil : policy.contentGuard(.completion, context: guardContext)
        let promptGuard = policy.contentGuard(.prompt, context: guardContext)
        let trace =
            tracer.isActive
            ? LLMCallTrace(
                recorder: tracer,
                caller: caller,
                model: envelope.model,
                isStreaming: envelope.isStreaming,
                isEmbeddings: api == .embeddings,
                capture: policy.contentCapture(caller.identity),
                promptGuard: promptGuard,
                completionGuard: completionGuard,
                startNanoseconds: startNanoseconds
            ) : nil
        let ticket: PolicyTicket
        do {
            ticket = try await admit(caller, envelope: envelope, route: route, trace: trace, logger: context.logger)
        } catch {
            trace?.end(
                provider: route.route.deployments.first?.provider ?? "",
                usage: nil,
                costPicoUSD: 0,
                error: error.traceErrorType
            )
            throw error
        }
        var forwardedHeaders = Self.forwardableHeaders(request.headers)
        if let trace { forwardedHeaders.append(("traceparent", trace.handle.traceParent)) }
        func exchange(_ envelope: RequestEnvelope) -> Exchange {
            Exchange(
                api: api,
                envelope: envelope,
                route: route,
                runtime: runtime,
                caller: caller,
                shutdownAllowance: shutdownAllowance,
                forwardedHeaders: forwardedHeaders,
                usageSink: usageSink,
                ticket: ticket,
                completionGuard: completionGuard,
                trace: trace,
                logger: context.logger
            )
        }
        if let promptGuard {
            do {
                envelope = try await guardPrompt(
                    envelope,
                    api: api,
                    with: promptGuard,
                    trace: trace,
                    logger: context.logger
                )
            } catch {
                // The provider never sees a refused prompt, but the call still leaves its usage row.
                await exchange(envelope).recordFailure(
                    status: Int(error.status.code),
                    target: nil,
                    traceError: error.traceErrorType
                )
                throw error
            }
        }
        if let trace, trace.capture != nil, case .success(let prompt) = PromptText.read(envelope, api: api) {
            trace.captureInput(prompt.value)
        }
        return try await exchange(envelope).run()
    }

    /// The prompt guards on what the client says to the model (`PromptText`): the envelope as it
    /// came, the envelope with those members masked, or `contentBlocked`.
    private func guardPrompt(
        _ envelope: RequestEnvelope,
        api: ClientAPI,
        with promptGuard: ContentGuard,
        trace: LLMCallTrace?,
        logger: Logger
    ) async throws(LLMProxyError) -> RequestEnvelope {
        let prompt: PromptText
        switch PromptText.read(envelope, api: api) {
        case .success(let read): prompt = read
        case .failure(let invalid): throw .invalidRequest("The request's '\(invalid.member)' is not valid JSON.")
        }
        let (outcome, redacted) = await promptGuard.check(json: prompt.value, reading: LLMGuardedText.reading)
        trace?.guarded(.prompt, outcome)
        switch outcome.verdict {
        case .pass:
            return envelope
        case .blocked(let decision):
            logger.info(
                "LLM prompt blocked by a guard",
                metadata: ["model": "\(envelope.model)", "rule": "\(decision.rule)"]
            )
            throw .contentBlocked(decision)
        case .redacted:
            guard let redacted else { return envelope }
            switch RequestEnvelope.read(PromptText.body(envelope, replacingWith: redacted), api: api) {
            case .success(let edited): return edited
            case .failure(let problem): throw .invalidRequest(problem.message)
            }
        }
    }

    /// The policy's answer for the model; an admitted call holds its ticket (token reservation,
    /// concurrency slot) until its usage is recorded.
    private func admit(
        _ caller: AgentRequest,
        envelope: RequestEnvelope,
        route: ModelRouter.ResolvedRoute,
        trace: LLMCallTrace?,
        logger: Logger
    ) async throws(LLMProxyError) -> PolicyTicket {
        // Every provider the route may reach: a session rule may deny a run that saw untrusted
        // content any model one of whose providers is not tagged as trusted.
        var providers: [String] = []
        for deployment in route.route.deployments where !providers.contains(deployment.provider) {
            providers.append(deployment.provider)
        }
        let input = PolicyInput(
            identity: caller.identity,
            action: .callModel(envelope.model),
            requestID: caller.requestID,
            session: SessionKeys(mcpSession: nil, run: caller.run),
            providers: providers
        )
        switch await policy.admit(input, estimatedTokens: TokenEstimate.likely(envelope)) {
        case .admitted(let ticket):
            if policy.isActive { trace?.decided("admission", ticket.decision) }
            return ticket
        case .refused(let decision):
            trace?.decided("admission", decision)
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
