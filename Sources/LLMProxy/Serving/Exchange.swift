internal import AsyncAlgorithms
internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseCore
internal import GatehouseJSON
internal import GatehouseSSE
internal import GatehouseTracing
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import NIOHTTP1
internal import Policy
internal import ServiceLifecycle

/// One client request's journey through the deployments of its route: failover before the first
/// byte, then the response or the stream. Never retries once the client has received anything.
struct Exchange: Sendable {
    let api: ClientAPI
    let envelope: RequestEnvelope
    let route: ModelRouter.ResolvedRoute
    let runtime: LLMRuntime
    let caller: AgentRequest
    /// How long a stream may go on after shutdown begins before the gateway ends it itself.
    let shutdownAllowance: Duration
    let forwardedHeaders: [(String, String)]
    let usageSink: any UsageSink
    /// The policy's hold on the caller's limits, given back with the real usage when recorded.
    let ticket: PolicyTicket
    /// The guards on the answer's text; nil when none applies (the answer is then never parsed).
    let completionGuard: ContentGuard?
    /// The call's trace; nil when tracing is off.
    let trace: LLMCallTrace?
    let logger: Logger

    /// Largest non-streaming upstream body the gateway reads (it must read it to count usage).
    static let maximumResponseBody = 64 << 20
    /// Largest upstream error body kept to show the client.
    static let maximumErrorBody = 1 << 20

    /// How the last failed attempt failed, to answer with when every deployment failed.
    private enum LastFailure {
        case connection(String)
        case timeout(Duration)
        case upstreamStatus(Int, ByteBuffer, UpstreamPlan, ModelRouter.Target)
        case unsupported
    }

    /// How the attempts ended: a provider's answer to relay, or a refusal to pass on to the client.
    private enum Attempted {
        case answered(HTTPClientResponse, UpstreamPlan, ModelRouter.Target)
        case refused(status: Int, body: ByteBuffer, plan: UpstreamPlan, target: ModelRouter.Target)
    }

    /// The response (or the stream that will follow), or the plane's error for the edge to render:
    /// the attempts (failover across the route's deployments), then the response built from what
    /// they ended with. With admission (`LLMProxyService.respond`: caller, body, route) these are
    /// the plane's three phases, one function each.
    /// Every exit leaves a usage row: an answer with its tokens, a failure with its status and
    /// no tokens (the provider it reached, if any).
    func run() async throws(LLMProxyError) -> Response {
        let attempted: Attempted
        do {
            attempted = try await attempt()
        } catch {
            await recordFailure(status: Int(error.status.code), target: nil, traceError: error.traceErrorType)
            throw error
        }
        return try await respond(attempted)
    }

    /// Tries the route's deployments until one answers or refuses in a way failover must not hide.
    private func attempt() async throws(LLMProxyError) -> Attempted {
        var random = SystemRandomNumberGenerator()
        var lastFailure = LastFailure.unsupported
        for pass in 0...max(route.route.retries, 0) {
            if pass > 0 {
                try? await Task.sleep(for: FailoverPolicy.backoff(beforePass: pass, random: &random))
            }
            for target in runtime.router.attemptOrder(for: route, random: &random) {
                if runtime.client.isInterrupted { throw shuttingDown() }
                guard let plan = api.plan(for: target.provider) else { continue }
                let upstreamBody: ByteBuffer
                switch prepareBody(plan: plan, deployment: target.deployment) {
                case .success(let prepared): upstreamBody = prepared
                case .failure(let error):
                    throw .invalidRequest(error.message)
                }
                let request = ProviderEndpoint.request(
                    provider: target.provider,
                    deployment: target.deployment,
                    operation: plan.operation,
                    body: upstreamBody,
                    isStreaming: envelope.isStreaming,
                    forwardedHeaders: forwardedHeaders
                )
                let response: HTTPClientResponse
                trace?.attempted()
                do {
                    response = try await runtime.client.http.execute(
                        request,
                        timeout: TimeAmount(target.deployment.firstByteTimeout),
                        logger: logger
                    )
                } catch {
                    if runtime.client.isInterrupted { throw shuttingDown() }
                    let isTimeout = (error as? HTTPClientError) == .deadlineExceeded
                    let failure: FailoverPolicy.AttemptFailure = isTimeout ? .timedOut : .connectionFailed
                    lastFailure =
                        isTimeout ? .timeout(target.deployment.firstByteTimeout) : .connection(Self.describe(error))
                    coolDown(target, after: failure)
                    trace?.attemptFailed(target, reason: isTimeout ? "timeout" : "upstream_unreachable")
                    logger.warning(
                        "upstream attempt failed",
                        metadata: attemptMetadata(
                            target,
                            ["reason": "\(isTimeout ? "first-byte timeout" : "connection failed")"]
                        )
                    )
                    continue
                }
                let status = Int(response.status.code)
                if (200..<300).contains(status), envelope.isStreaming,
                    !(response.headers.first(name: "content-type") ?? "").lowercased().hasPrefix("text/event-stream")
                {
                    // Nothing has reached the client yet, so another deployment may still stream.
                    _ = try? await response.body.collect(upTo: Self.maximumErrorBody)
                    lastFailure = .connection("answered a streaming request without an event stream")
                    coolDown(target, after: .connectionFailed)
                    trace?.attemptFailed(target, reason: "no_event_stream")
                    logger.warning(
                        "upstream attempt failed",
                        metadata: attemptMetadata(target, ["reason": "no event stream for a streaming request"])
                    )
                    continue
                }
                if (200..<300).contains(status) {
                    runtime.router.markHealthy(target)
                    return .answered(response, plan, target)
                }
                let errorBody = (try? await response.body.collect(upTo: Self.maximumErrorBody)) ?? ByteBuffer()
                let retryAfter = FailoverPolicy.retryAfter(
                    seconds: response.headers.first(name: "retry-after"),
                    milliseconds: response.headers.first(name: "retry-after-ms")
                )
                let failure = FailoverPolicy.AttemptFailure.status(status, retryAfter: retryAfter)
                switch FailoverPolicy.decide(failure, defaultCoolDown: target.deployment.cooldown) {
                case .answerClient:
                    logger.info(
                        "upstream refused the request",
                        metadata: attemptMetadata(target, ["status": "\(status)"])
                    )
                    return .refused(status: status, body: errorBody, plan: plan, target: target)
                case .tryNext:
                    coolDown(target, after: failure)
                    trace?.attemptFailed(target, reason: String(status))
                    lastFailure = .upstreamStatus(status, errorBody, plan, target)
                    logger.warning(
                        "upstream attempt failed",
                        metadata: attemptMetadata(target, ["status": "\(status)"])
                    )
                }
            }
        }
        switch lastFailure {
        case .connection(let reason):
            throw .upstreamUnreachable(model: envelope.model, reason: reason)
        case .timeout(let timeout):
            throw .upstreamTimedOut(model: envelope.model, after: timeout)
        case .upstreamStatus(let status, let body, let plan, let target):
            return .refused(status: status, body: body, plan: plan, target: target)
        case .unsupported:
            throw .noDeploymentServesEndpoint(model: envelope.model)
        }
    }

    /// The client's response to what the attempts ended with.
    private func respond(_ attempted: Attempted) async throws(LLMProxyError) -> Response {
        switch attempted {
        case .answered(let response, let plan, let target):
            if envelope.isStreaming { return stream(response, plan: plan, target: target) }
            return try await complete(response, plan: plan, target: target)
        case .refused(let status, let body, let plan, let target):
            do {
                let response = try upstreamError(status: status, body: body, plan: plan)
                await recordFailure(status: status, target: target)
                return response
            } catch {
                await recordFailure(status: Int(error.status.code), target: target)
                throw error
            }
        }
    }

    private func coolDown(_ target: ModelRouter.Target, after failure: FailoverPolicy.AttemptFailure) {
        if case .tryNext(let duration) = FailoverPolicy.decide(failure, defaultCoolDown: target.deployment.cooldown) {
            runtime.router.coolDown(target, until: .now + duration)
        }
    }

    private func attemptMetadata(_ target: ModelRouter.Target, _ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "model": "\(envelope.model)", "provider": "\(target.provider.name)",
            "upstream_model": "\(target.deployment.model)",
        ]
        metadata.merge(extra) { _, new in new }
        return metadata
    }

    private static func describe(_ error: any Error) -> String {
        if let clientError = error as? HTTPClientError { return "\(clientError)" }
        return String(describing: type(of: error))
    }

    // MARK: - Request body

    /// The body for one deployment: the client's bytes with `model` (and, for OpenAI streams,
    /// `stream_options.include_usage`) spliced in, or a translation.
    private func prepareBody(plan: UpstreamPlan, deployment: Deployment) -> Result<ByteBuffer, TranslationError> {
        switch plan.translation {
        case .none:
            var editor = JSONBodyEditor(body: envelope.body, object: envelope.object)
            if deployment.model != envelope.model {
                var model: [UInt8] = []
                JSONValue.writeString(deployment.model, into: &model)
                editor.set("model", rawValue: model)
            }
            if envelope.isStreaming && plan.wire == .openAIChat && !envelope.clientRequestedUsage {
                var options =
                    envelope.object.member("stream_options").flatMap { envelope.body.jsonValue(at: $0.valueRange) }?
                    .objectValue ?? JSONObject()
                options["include_usage"] = .bool(true)
                editor.set("stream_options", rawValue: JSONValue.object(options).serialized())
            }
            return .success(editor.edited())
        case .chatToAnthropic:
            guard let object = parsedBody() else {
                return .failure(TranslationError(message: "The request body is not valid JSON.", param: nil))
            }
            do {
                let translated = try OpenAIChatToAnthropic.request(
                    object,
                    upstreamModel: deployment.model,
                    defaultMaxTokens: route.route.defaultMaxTokens
                )
                return .success(ByteBuffer(bytes: JSONValue.object(translated).serialized()))
            } catch {
                return .failure(error)
            }
        case .anthropicToChat:
            guard let object = parsedBody() else {
                return .failure(TranslationError(message: "The request body is not valid JSON.", param: nil))
            }
            do {
                let translated = try AnthropicToOpenAIChat.request(object, upstreamModel: deployment.model)
                return .success(ByteBuffer(bytes: JSONValue.object(translated).serialized()))
            } catch {
                return .failure(error)
            }
        }
    }

    private func parsedBody() -> JSONObject? {
        (try? JSONValue.parse(envelope.body.readableBytesView))?.objectValue
    }

    // MARK: - Non-streaming

    private func complete(
        _ response: HTTPClientResponse,
        plan: UpstreamPlan,
        target: ModelRouter.Target
    ) async throws(LLMProxyError) -> Response {
        let body: ByteBuffer
        do {
            // Silence between chunks is bounded by the client's read (idle) timeout.
            body = try await response.body.collect(upTo: Self.maximumResponseBody)
        } catch {
            if runtime.client.isInterrupted {
                await recordFailure(status: Int(LLMProxyError.shuttingDown.status.code), target: target)
                throw shuttingDown()
            }
            logger.warning(
                "upstream response failed",
                metadata: attemptMetadata(target, ["error": "\(Self.describe(error))"])
            )
            await recordFailure(
                status: Int(LLMProxyError.upstreamResponseCutOff(model: "").status.code),
                target: target
            )
            throw .upstreamResponseCutOff(model: envelope.model)
        }
        // One scan of the body's top-level members serves the usage and the trace's summary.
        let members = try? TopLevelJSONObject(scanning: body)
        let usage = members.flatMap { ResponseUsageReader.usage(in: body, members: $0, format: plan.wire) }
        let answer: Response
        do throws(LLMProxyError) {
            answer = try await clientResponse(body, members: members, upstream: response, plan: plan)
        } catch {
            await record(usage: usage, target: target, isStreaming: false, status: 200)
            throw error
        }
        await record(usage: usage, target: target, isStreaming: false, status: 200)
        return answer
    }

    /// The client's answer from a complete upstream body: as it came, guarded, or translated;
    /// the trace learns what it said. `members` is the body's top-level scan (nil when the body is
    /// not a JSON object).
    private func clientResponse(
        _ body: ByteBuffer,
        members: TopLevelJSONObject?,
        upstream response: HTTPClientResponse,
        plan: UpstreamPlan
    ) async throws(LLMProxyError) -> Response {
        switch plan.translation {
        case .none:
            var headers: HTTPFields = [.contentType: response.headers.first(name: "content-type") ?? "application/json"]
            headers[.cacheControl] = "no-store"
            guard let completionGuard else {
                if let trace, let members {
                    if let read = AnswerSummary.readLater(
                        body,
                        members: members,
                        format: api.clientWire,
                        textLimit: trace.textLimit
                    ) {
                        trace.answeredLater(read)
                    } else {
                        trace.answered(
                            AnswerSummary.read(
                                body,
                                members: members,
                                format: api.clientWire,
                                textLimit: trace.textLimit
                            )
                        )
                    }
                }
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
            // Guarded: an answer the gateway cannot read is not passed on unread.
            guard let answer = (try? JSONValue.parse(body.readableBytesView))?.objectValue else {
                throw .upstreamBodyNotJSON
            }
            guard let guarded = await guardCompletion(answer, with: completionGuard) else {
                traceAnswer(answer)
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
            }
            traceAnswer(guarded)
            headers[.contentType] = "application/json"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(guarded).serialized()))
            )
        case .chatToAnthropic:
            guard let message = (try? JSONValue.parse(body.readableBytesView))?.objectValue else {
                throw .upstreamBodyNotJSON
            }
            var translated = OpenAIChatToAnthropic.response(message, clientModel: envelope.model)
            if let completionGuard, let guarded = await guardCompletion(translated, with: completionGuard) {
                translated = guarded
            }
            traceAnswer(translated, upstreamModel: message["model"]?.stringValue)
            return LLMProxyService.json(JSONValue.object(translated).serialized(), status: .ok)
        case .anthropicToChat:
            guard let completion = (try? JSONValue.parse(body.readableBytesView))?.objectValue else {
                throw .upstreamBodyNotJSON
            }
            var translated = AnthropicToOpenAIChat.response(completion, clientModel: envelope.model)
            if let completionGuard, let guarded = await guardCompletion(translated, with: completionGuard) {
                translated = guarded
            }
            traceAnswer(translated, upstreamModel: completion["model"]?.stringValue)
            return LLMProxyService.json(JSONValue.object(translated).serialized(), status: .ok)
        }
    }

    /// The completion guards on an answer in the client's dialect: nil when it passes unchanged,
    /// the answer with masked text, or the dialect's content-filtered answer when blocked (a 200
    /// with the real usage: the tokens were spent, and SDKs read the filter as a normal end).
    private func guardCompletion(_ answer: JSONObject, with completionGuard: ContentGuard) async -> JSONObject? {
        guard let content = CompletionText.content(of: answer, api: api) else { return nil }
        let (outcome, redacted) = await completionGuard.check(json: content, reading: LLMGuardedText.reading)
        trace?.guarded(.completion, outcome)
        switch outcome.verdict {
        case .pass:
            return nil
        case .redacted:
            return redacted.map { CompletionText.replacingContent(of: answer, api: api, with: $0) }
        case .blocked(let decision):
            logger.info(
                "LLM completion blocked by a guard",
                metadata: ["model": "\(envelope.model)", "rule": "\(decision.rule)"]
            )
            return CompletionText.filtered(answer, api: api)
        }
    }

    /// Tells the trace what the client's answer said (in the client's dialect).
    private func traceAnswer(_ answer: JSONObject, upstreamModel: String? = nil) {
        guard let trace else { return }
        var summary = AnswerSummary.read(answer, format: api.clientWire, textLimit: trace.textLimit)
        // A translated answer names the client's model; the span names the one that answered.
        if let upstreamModel { summary.responseModel = upstreamModel }
        trace.answered(summary)
    }

    static let shutdownStreamMessage = "The gateway is shutting down; the stream was interrupted."

    /// The answer to a request still waiting for its provider when shutdown's drain ends.
    private func shuttingDown() -> LLMProxyError {
        logger.notice("request interrupted by shutdown", metadata: ["model": "\(envelope.model)"])
        return .shuttingDown
    }

    // MARK: - Streaming

    private func stream(_ response: HTTPClientResponse, plan: UpstreamPlan, target: ModelRouter.Target) -> Response {
        let mode: StreamRelay.Mode
        switch plan.translation {
        case .none:
            mode = .passthrough(dropUsageOnlyChunk: plan.wire == .openAIChat && !envelope.clientRequestedUsage)
        case .chatToAnthropic:
            mode = .anthropicToChat(
                AnthropicStreamToOpenAIChunks(clientModel: envelope.model, includeUsage: envelope.clientRequestedUsage)
            )
        case .anthropicToChat:
            mode = .chatToAnthropic(OpenAIChunksToAnthropicStream(clientModel: envelope.model))
        }
        let upstream = response.body
        let exchange = self
        // Installed only when a block guard applies: otherwise the stream is relayed as before.
        let stage = streamGuardDialect.flatMap { dialect in
            completionGuard?.streamScanner().map { CompletionStreamGuard(dialect: dialect, scanner: $0) }
        }
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[.accelBuffering] = "no"
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                // A reader task pulls upstream events through the relay into a channel that holds
                // one batch at a time (back-pressure: a slow client slows the upstream read, memory
                // stays flat); this task writes them out. A watcher ends both when the client's
                // connection closes, even while the provider is silent, which cancels the upstream.
                let outputs = AsyncThrowingChannel<[ByteBuffer], any Error>()
                let outcome = await withTaskGroup(of: StreamOutcome?.self) { group -> StreamOutcome in
                    group.addTask {
                        await exchange.readUpstream(upstream, mode: mode, plan: plan, guarding: stage, into: outputs)
                    }
                    group.addTask {
                        await exchange.caller.connection.waitUntilClosed()
                        outputs.fail(ClientDisconnected())
                        return nil
                    }
                    group.addTask {
                        // On SIGTERM, streams may run for most of the grace period, then end cleanly.
                        guard (try? await gracefulShutdown()) != nil else { return nil }
                        guard (try? await Task.sleep(for: exchange.shutdownAllowance)) != nil else { return nil }
                        outputs.fail(GatewayShuttingDown())
                        return nil
                    }
                    var clientGone = false
                    var shutDown = false
                    do {
                        for try await batch in outputs {
                            // Events that arrived in one upstream read leave in one write.
                            if batch.count == 1 {
                                try await writer.write(batch[0])
                            } else {
                                var combined = ByteBuffer()
                                combined.reserveCapacity(batch.reduce(0) { $0 + $1.readableBytes })
                                for var output in batch { combined.writeBuffer(&output) }
                                try await writer.write(combined)
                            }
                        }
                    } catch is GatewayShuttingDown {
                        shutDown = true
                    } catch {
                        clientGone = true  // the watcher saw the connection close, or a write failed
                    }
                    group.cancelAll()
                    var readerOutcome = StreamOutcome(usage: nil, failure: nil)
                    for await result in group {
                        if let result { readerOutcome = result }
                    }
                    readerOutcome.clientGone = clientGone
                    readerOutcome.interruptedByShutdown = shutDown
                    return readerOutcome
                }
                if outcome.interruptedByShutdown {
                    exchange.logger.notice(
                        "stream ended by shutdown after the grace period",
                        metadata: exchange.attemptMetadata(target, [:])
                    )
                } else if outcome.clientGone {
                    exchange.logger.info(
                        "client closed the stream; upstream request cancelled",
                        metadata: exchange.attemptMetadata(target, [:])
                    )
                } else if let failure = outcome.failure {
                    exchange.logger.warning(
                        "upstream stream failed",
                        metadata: exchange.attemptMetadata(target, ["error": "\(failure)"])
                    )
                }
                if let answer = outcome.answer { exchange.trace?.answered(answer) }
                await exchange.record(
                    usage: outcome.usage,
                    target: target,
                    isStreaming: true,
                    status: 200,
                    traceError: outcome.clientGone ? "client_closed" : outcome.failure.map { _ in "stream_failed" }
                )
                guard !outcome.clientGone else { return }
                if outcome.interruptedByShutdown {
                    // The gateway is stopping and the stream outlived the grace period: end it with
                    // the client's own error frame and a proper end of the response, before the
                    // shutdown cancels what is left.
                    try? await writer.write(
                        StreamRelay.errorEvent(message: Self.shutdownStreamMessage, dialect: exchange.api.dialect)
                    )
                }
                try await writer.finish(nil)
            }
        )
    }

    /// Reads the upstream stream through the relay and sends what the client should get, ending
    /// with the tail a well-formed stream needs, or an error event if the upstream failed.
    /// With a guard stage, the relay's events pass through it; once it ends the stream, reading
    /// stops, which cancels the upstream request, and the usage seen so far is what is recorded.
    private func readUpstream(
        _ upstream: HTTPClientResponse.Body,
        mode: StreamRelay.Mode,
        plan: UpstreamPlan,
        guarding initialStage: CompletionStreamGuard<StreamScanner>?,
        into outputs: AsyncThrowingChannel<[ByteBuffer], any Error>
    ) async -> StreamOutcome {
        var relay = StreamRelay(mode: mode, upstreamFormat: plan.wire)
        var framer = SSEEventFramer()
        var stage = initialStage
        // What the client receives, put together for the trace.
        var collector = trace.map { StreamAnswerCollector(format: api.clientWire, textLimit: $0.textLimit) }
        func sending(_ batch: [ByteBuffer]) {
            guard let trace else { return }
            trace.firstChunk()
            for event in batch { collector?.observe(event) }
        }
        /// The relay's output as the client gets it, and the block audited when the stage stopped.
        func guarded(_ events: [ByteBuffer], ending: Bool = false) async -> [ByteBuffer] {
            guard stage != nil else { return events }
            guard stage?.isStopped != true else { return [] }
            var output: [ByteBuffer] = []
            for event in events {
                output += stage?.process(event) ?? []
                if stage?.isStopped == true { break }
            }
            if ending, stage?.isStopped == false { output += stage?.finish() ?? [] }
            if let match = stage?.match { await streamBlocked(by: match) }
            return output
        }
        do {
            for try await buffer in upstream {
                var relayed: [ByteBuffer] = []
                for event in try framer.append(buffer) {
                    relayed.append(contentsOf: relay.process(event))
                }
                let batch = await guarded(relayed)
                if !batch.isEmpty {
                    sending(batch)
                    await outputs.send(batch)
                }
                if relay.isFinished || stage?.isStopped == true || Task.isCancelled { break }
            }
            if !Task.isCancelled && stage?.isStopped != true {
                let tail = await guarded(relay.finish(), ending: true)
                if !tail.isEmpty {
                    sending(tail)
                    await outputs.send(tail)
                }
            }
            outputs.finish()
            return StreamOutcome(
                usage: relay.observer.usage,
                failure: nil,
                answer: collector.map { Self.answer($0, model: relay.observer.responseModel) }
            )
        } catch {
            let reason = Self.describe(error)
            if !Task.isCancelled && !relay.isFinished {
                // Text the stage still held is flushed first (or ends the stream, if it completes a match).
                var closing = await guarded([], ending: true)
                if stage?.isStopped != true {
                    let message =
                        runtime.client.isInterrupted
                        ? Self.shutdownStreamMessage : "The upstream stream failed: \(reason)."
                    closing.append(StreamRelay.errorEvent(message: message, dialect: api.dialect))
                }
                await outputs.send(closing)
            }
            outputs.finish()
            return StreamOutcome(
                usage: relay.observer.usage,
                failure: reason,
                answer: collector.map { Self.answer($0, model: relay.observer.responseModel) }
            )
        }
    }

    /// The answer the client received, with the model the provider named (a translated stream
    /// names the client's model).
    private static func answer(_ collector: StreamAnswerCollector, model: String?) -> AnswerSummary {
        var answer = collector.finished
        if let model { answer.responseModel = model }
        return answer
    }

    /// The stream guard of the client's API; nil for embeddings, which never stream.
    private var streamGuardDialect: CompletionStreamGuard<StreamScanner>.Dialect? {
        switch api {
        case .chatCompletions: .openAIChat
        case .messages: .anthropicMessages
        case .responses: .openAIResponses
        case .embeddings: nil
        }
    }

    /// Audits a stream the guard stage ended (once: the stage stops for good).
    private func streamBlocked(by match: DetectorMatch) async {
        guard let completionGuard else { return }
        let decision = await completionGuard.streamBlocked(by: match)
        trace?.decided(GuardFlow.completion.rawValue, decision)
        logger.info(
            "LLM stream ended by a guard; upstream request cancelled",
            metadata: ["model": "\(envelope.model)", "rule": "\(decision.rule)"]
        )
    }

    // MARK: - Errors and accounting

    /// An upstream refusal in the client's dialect: forwarded as it came when both speak the same
    /// API, re-rendered with the provider's message and the same status when translated.
    private func upstreamError(status: Int, body: ByteBuffer, plan: UpstreamPlan) throws(LLMProxyError) -> Response {
        if status == 401 || status == 403 {
            logger.error(
                "provider refused the gateway's credentials",
                metadata: ["model": "\(envelope.model)", "status": "\(status)"]
            )
            throw .providerRefusedCredentials(model: envelope.model, status: status)
        }
        // HTTP/2 carries `:status` as text a provider may fill with any number; passing it on
        // as a status would trap, and it says nothing a client could act on.
        guard (100...599).contains(status) else { throw .upstreamInvalidStatus(status) }
        if plan.translation == .none, (try? JSONValue.parse(body.readableBytesView)) != nil {
            return Response(
                status: HTTPResponse.Status(code: status),
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: body)
            )
        }
        let parsed = try? JSONValue.parse(body.readableBytesView)
        throw .upstreamRefused(
            status: status,
            message: parsed?["error"]?["message"]?.stringValue ?? "The upstream answered \(status)."
        )
    }

    /// A call that ended without an answer: its status and no tokens; `target` is the deployment
    /// that answered last, nil when none did.
    func recordFailure(status: Int, target: ModelRouter.Target?, traceError: String? = nil) async {
        ticket.finish(usedTokens: 0)
        trace?.end(
            provider: target?.provider.name ?? route.route.deployments.first?.provider ?? "",
            usage: nil,
            costPicoUSD: 0,
            error: traceError ?? String(status)
        )
        await usageSink.record(
            UsageRecord(
                requestID: caller.requestID.description,
                agent: caller.identity.agentName,
                model: envelope.model,
                provider: target?.provider.name ?? "",
                upstreamModel: target?.deployment.model ?? "",
                endpoint: api.usageEndpoint,
                isStreaming: envelope.isStreaming,
                usage: .zero,
                isUsageReported: false,
                costPicoUSD: 0,
                status: status
            )
        )
    }

    fileprivate func record(
        usage: TokenUsage?,
        target: ModelRouter.Target,
        isStreaming: Bool,
        status: Int,
        traceError: String? = nil
    ) async {
        let tokens = usage ?? .zero
        ticket.finish(usedTokens: usage.map { $0.inputTokens.addingReportingOverflow($0.outputTokens).partialValue })
        let cost =
            runtime.configuration.prices.price(forUpstreamModel: target.deployment.model)?.costPicoUSD(tokens) ?? 0
        trace?.end(provider: target.provider.name, usage: usage, costPicoUSD: cost, error: traceError)
        await usageSink.record(
            UsageRecord(
                requestID: caller.requestID.description,
                agent: caller.identity.agentName,
                model: envelope.model,
                provider: target.provider.name,
                upstreamModel: target.deployment.model,
                endpoint: api.usageEndpoint,
                isStreaming: isStreaming,
                usage: tokens,
                isUsageReported: usage != nil,
                costPicoUSD: cost,
                status: status
            )
        )
    }
}

/// How a relayed stream ended.
struct StreamOutcome: Sendable {
    var usage: TokenUsage?
    /// Why the upstream failed, if it did.
    var failure: String?
    /// What the client received, for the trace (nil when tracing is off).
    var answer: AnswerSummary?
    var clientGone = false
    var interruptedByShutdown = false
}

struct ClientDisconnected: Error {}

struct GatewayShuttingDown: Error {}

extension HTTPField.Name {
    /// Asks proxies in front of the gateway (nginx) not to buffer a stream.
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}

extension LLMCallTrace {
    func attemptFailed(_ target: ModelRouter.Target, reason: String) {
        attemptFailed(provider: target.provider.name, model: target.deployment.model, reason: reason)
    }
}

extension ClientAPI {
    /// The wire format of the client's own dialect: answers are summarised for traces as the
    /// client receives them.
    var clientWire: UpstreamWireFormat {
        switch self {
        case .chatCompletions: .openAIChat
        case .messages: .anthropicMessages
        case .responses: .openAIResponses
        case .embeddings: .openAIEmbeddings
        }
    }
}
