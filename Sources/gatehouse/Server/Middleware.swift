internal import Foundation
internal import GatehouseCore
internal import GatehouseTracing
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import Metrics
internal import NIOCore
internal import Policy
internal import Synchronization

extension HTTPField.Name {
    static let requestID = HTTPField.Name("x-request-id")!
    static let apiKey = HTTPField.Name("x-api-key")!
}

/// Counts requests and times them by route pattern (never the raw path, which would let clients
/// create unbounded label sets) and status; logs one line per request at `debug`.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let handles: RequestMetricHandles

    init(factory: any MetricsFactory) {
        self.handles = RequestMetricHandles(factory: factory)
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        let metric = handles.handles(method: method, route: route, status: Int(response.status.code))
        metric.requests.increment()
        metric.duration.record(duration: elapsed)
        context.logger.debug(
            "request",
            metadata: [
                "method": "\(method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "duration_ms":
                    "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
                "agent": "\(context.identity?.agentName ?? "-")",
            ]
        )
        return response
    }
}

/// Metric handles per method, route pattern and status, made once each. Routes are patterns, so
/// the set stays small; the lock is held only for a dictionary lookup.
final class RequestMetricHandles: Sendable {
    struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    struct Handles: Sendable {
        let requests: Counter
        let duration: Metrics.Timer
    }

    private let factory: any MetricsFactory
    private let cache = Mutex<[Key: Handles]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func handles(method: String, route: String, status: Int) -> Handles {
        let key = Key(method: method, route: route, status: status)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        let made = Handles(
            requests: Counter(
                label: "gatehouse_http_requests_total",
                dimensions: [("method", method), ("route", route), ("status", String(status))],
                factory: factory
            ),
            duration: Metrics.Timer(
                label: "gatehouse_http_request_duration_seconds",
                dimensions: [("method", method), ("route", route)],
                factory: factory
            )
        )
        cache.withLock { $0[key] = made }
        return made
    }
}

/// Gives every request an id (the client's `x-request-id` if it is a sane token), puts it in the
/// request's log metadata with the caller's W3C trace id, and echoes it on the response.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let requestID =
            request.headers[.requestID].flatMap { GatehouseCore.RequestID(adopting: $0[...]) }
            ?? GatehouseCore.RequestID()
        context.requestID = requestID
        context.logger[metadataKey: "hb.request.id"] = nil  // ours replaces Hummingbird's
        context.logger[metadataKey: "request_id"] = "\(requestID)"
        if let header = request.headers[.traceparent], let traceParent = TraceParent(header: header[...]) {
            context.logger[metadataKey: "trace_id"] = "\(traceParent.traceID)"
            context.traceParent = header
        }
        if let run = request.headers[.gatehouseRun], !run.isEmpty {
            context.run = String(run.prefix(AgentRequest.maximumRunLength))
        }
        var response = try await next(request, context)
        response.headers[.requestID] = requestID.description
        return response
    }
}

/// Turns every error thrown below it into a response in the dialect of the route, so clients
/// always get a status and a body their SDK can parse.
struct ErrorRenderingMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            return RouteDialect(path: request.uri.path[...]).render(error)
        } catch let error as HTTPError {
            let gatewayError: GatewayError
            switch error.status {
            case .notFound:
                gatewayError = GatewayError(
                    kind: .notFound,
                    message: "No route for \(request.method.rawValue) \(request.uri.path)."
                )
            case .contentTooLarge:
                gatewayError = GatewayError(
                    kind: .bodyTooLarge,
                    message: "The request body is larger than this gateway accepts."
                )
            case .unauthorized:
                gatewayError = GatewayError(kind: .unauthenticated, message: error.body ?? "Unauthorized.")
            case .internalServerError:
                gatewayError = GatewayError(kind: .internal, message: "Internal error; see the gateway log.")
            default:
                gatewayError = GatewayError(kind: .badRequest, message: error.body ?? error.status.reasonPhrase)
            }
            var response = RouteDialect(path: request.uri.path[...]).render(gatewayError)
            if error.status != .notFound && error.status != .contentTooLarge && error.status != .unauthorized
                && error.status != .internalServerError
            {
                response.status = error.status
            }
            return response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return RouteDialect(path: request.uri.path[...]).render(
                GatewayError(
                    kind: .internal,
                    message: "Internal error; see the gateway log for request \(context.requestID)."
                )
            )
        }
    }
}

/// Enforces the configured request body limit before any handler reads the body: a declared
/// `Content-Length` over the limit is refused at once; a chunked body is cut off (413) as soon as
/// it passes the limit. Either way the server drains what is left and the connection stays usable.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let state: RuntimeState

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let limit = state.snapshot.configuration.server.maxBodySize
        var context = context
        context.maxUploadSize = limit
        if let declared = request.headers[.contentLength] {
            guard let length = Int(declared), length <= limit else {
                throw GatewayError(
                    kind: .bodyTooLarge,
                    message: "The request body (\(declared) bytes) exceeds the gateway's limit of \(limit) bytes."
                )
            }
            return try await next(request, context)
        }
        // No Content-Length: a chunked body, or none. (HTTP types drop Transfer-Encoding, so
        // the two look alike here; for an empty body the check below costs one `next()`.)
        let limited = LimitedRequestBody(base: request.body, limit: limit)
        var request = request
        request.body = RequestBody(asyncSequence: limited)
        let outcome: Result<Response, any Error>
        do {
            outcome = .success(try await next(request, context))
        } catch {
            outcome = .failure(error)
        }
        // No handler read the body (an error answered first, or no route matched): read it here,
        // through the limit, so an oversized chunked body gets its 413 whatever the route.
        if !limited.wasIterated {
            for try await _ in limited {}
        }
        return try outcome.get()
    }
}

/// A request body that throws 413 once more than `limit` bytes have arrived.
struct LimitedRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int
    private let iterated = IterationFlag()

    init(base: RequestBody, limit: Int) {
        self.base = base
        self.limit = limit
    }

    /// A request body can be iterated once; this tells whether someone already started.
    var wasIterated: Bool { iterated.isSet }

    private final class IterationFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        var isSet: Bool { flag.load(ordering: .relaxed) }
        func set() { flag.store(true, ordering: .relaxed) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        var received = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            received += buffer.readableBytes
            if received > limit {
                throw GatewayError(
                    kind: .bodyTooLarge,
                    message: "The request body exceeds the gateway's limit of \(limit) bytes."
                )
            }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        iterated.set()
        return AsyncIterator(base: base.makeAsyncIterator(), limit: limit)
    }
}

/// Authenticates agents on the proxy routes (`/v1/…`, `/mcp…`) and puts the `Identity` in the
/// context for every later layer. The presented key is never logged.
struct AgentAuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let state: RuntimeState
    /// Managed keys, tried first when a key has their form; the configured keys otherwise.
    let managedKeys: ManagedKeyRing
    /// JWT bearer tokens, when `auth.jwt` is configured.
    let bearerTokens: BearerTokens

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path[...]
        guard RouteDialect.isProxyPath(path) else { return try await next(request, context) }
        let credential = PresentedCredential.from(
            authorization: request.headers[.authorization].map { $0[...] },
            apiKeyHeader: request.headers[.apiKey].map { $0[...] }
        )
        let snapshot = state.snapshot
        var outcome: Result<Identity, AuthenticationFailure>
        if case .bearer(let token) = credential, JWTAuthenticator.looksLikeJWT(token),
            let jwt = bearerTokens.authenticator
        {
            outcome = await jwt.authenticate(token)
        } else if let credential, let managed = managedKeys.authenticate(credential) {
            outcome = managed
            if case .success(let identity) = managed, !snapshot.agentNames.contains(identity.agentName) {
                outcome = .failure(.invalidCredential)
            }
        } else {
            outcome = snapshot.authenticator.authenticate(credential)
        }
        switch outcome {
        case .success(let identity):
            var context = context
            context.identity = identity
            context.logger[metadataKey: "agent"] = "\(identity.agentName)"
            return try await next(request, context)
        case .failure(let failure):
            context.logger.info("authentication failed", metadata: ["reason": "\(failure.message)", "path": "\(path)"])
            var challenge: String?
            let auth = snapshot.configuration.auth
            if auth.publishesResourceMetadata, path == "/mcp" || path.hasPrefix("/mcp/") {
                // MCP clients find the authorization servers from here (RFC 9728 §5.1).
                let endpoint = path == "/mcp" ? "/mcp" : "/mcp/" + path.dropFirst(5).prefix { $0 != "/" }
                let url = ProtectedResourceRoutes.metadataURL(for: endpoint, auth: auth, request: request)
                var parameters = "resource_metadata=\"\(url)\""
                if case .invalidToken = failure { parameters = "error=\"invalid_token\", " + parameters }
                if !auth.scopesSupported.isEmpty {
                    parameters += ", scope=\"\(auth.scopesSupported.joined(separator: " "))\""
                }
                challenge = "Bearer " + parameters
            }
            throw GatewayError(kind: .unauthenticated, message: failure.message, challenge: challenge)
        }
    }
}

/// Guards `/admin/*` with the configured admin token (`Authorization: Bearer TOKEN`), compared in
/// constant time. No token configured means the admin API is closed.
struct AdminAuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext
    let state: RuntimeState

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let token = state.snapshot.configuration.admin.token
        guard !token.isEmpty else {
            throw GatewayError(
                kind: .unauthenticated,
                message: "The admin API is disabled: no admin token is configured (admin.token)."
            )
        }
        guard Self.presentsToken(token, in: request) else {
            context.logger.info("admin authentication failed", metadata: ["path": "\(request.uri.path)"])
            throw GatewayError(kind: .unauthenticated, message: "Missing or invalid admin token.")
        }
        return try await next(request, context)
    }

    /// Whether the request's `Authorization: Bearer` is the admin token (also the trace viewer's check).
    static func presentsToken(_ token: Secret, in request: Request) -> Bool {
        let credential = PresentedCredential.from(
            authorization: request.headers[.authorization].map { $0[...] },
            apiKeyHeader: nil
        )
        guard case .bearer(let presented) = credential else { return false }
        return token.matches(Array(presented.utf8))
    }
}

extension HTTPField.Name {
    /// Names the agent run a request belongs to (`AgentRequest.runHeader`).
    static let gatehouseRun = HTTPField.Name(AgentRequest.runHeader)!
}
