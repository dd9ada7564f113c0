internal import Foundation
internal import GatehouseCore
internal import GatehouseTracing
internal import HTTPTypes
internal import Hummingbird
internal import Logging
internal import NIOCore
internal import Policy
internal import Store

/// The trace viewer at `/ui`, behind the admin token: the runs list (`GET /ui`, filtered by
/// `agent`, `status` and `since`), a run's page (`GET /ui/runs/{traceID}`, a full id or a unique
/// abbreviation), and a sign-in form that keeps the token in an HttpOnly, SameSite=Strict cookie
/// scoped to `/ui`, for browsers, which cannot send an `Authorization` header by themselves.
/// Without an admin token the viewer does not exist: every `/ui` route answers 404.
struct TraceViewerRoutes {
    let state: RuntimeState
    let store: Store

    static let cookieName = "gatehouse_admin"
    /// No fonts, images, frames or connections; only the page's own inline style and script.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// A sign-in form is a few hundred bytes; more is not a sign-in.
    static let maximumSignInBody = 16 << 10

    private struct SignInForm: Decodable {
        let token: String
    }

    private enum Access {
        /// No admin token is configured.
        case closed
        case signedOut
        case signedIn
    }

    func register(on router: Router<GatehouseRequestContext>) {
        let catalog = TraceRunCatalog(store: store)
        let base = TraceViewerPages.basePath
        router.get(RouterPath(base)) { request, _ in
            switch access(request) {
            case .closed: return Self.closed()
            case .signedOut: return Self.redirect(to: "\(base)/login")
            case .signedIn: break
            }
            let parameters = request.uri.queryParameters
            let form = TraceRunsForm(
                agent: parameters["agent"].map(String.init) ?? "",
                status: parameters["status"].map(String.init) ?? "",
                since: parameters["since"].map(String.init) ?? ""
            )
            let agents = state.snapshot.configuration.agents.map(\.name)
            switch TraceRunFilter.parse(agent: form.agent, status: form.status, since: form.since) {
            case .failure(let problem):
                let page = TraceViewerPages.runsList(.init(), form: form, agents: agents, problem: problem.description)
                return Self.html(page, status: .badRequest)
            case .success(let filter):
                let listing = try await catalog.runs(filter)
                return Self.html(TraceViewerPages.runsList(listing, form: form, agents: agents))
            }
        }
        router.get(RouterPath("\(base)/runs/:traceID")) { request, context in
            switch access(request) {
            case .closed: return Self.closed()
            case .signedOut: return Self.redirect(to: "\(base)/login")
            case .signedIn: break
            }
            let reference = context.parameters.get("traceID") ?? ""
            let problem: String
            switch try await catalog.resolve(reference) {
            case .found(let traceID):
                if let run = try await catalog.run(traceID: traceID) {
                    return Self.html(TraceViewerPages.runPage(run))
                }
                problem = "No run with trace id \(reference) is in the trace store."
            case .notFound:
                problem = "No run with trace id \(reference) is in the trace store."
            case .ambiguous(let traceIDs):
                problem =
                    "\(reference) starts several trace ids (\(traceIDs.joined(separator: ", "))); give more digits."
            case .invalid:
                problem = "\(reference) is not a trace id: give its 32 hex digits, or at least the first 8."
            }
            return Self.html(TraceViewerPages.notFoundPage(problem), status: .notFound)
        }
        router.get(RouterPath("\(base)/login")) { request, _ in
            switch access(request) {
            case .closed: return Self.closed()
            case .signedIn: return Self.redirect(to: base)
            case .signedOut: return Self.html(TraceViewerPages.signInPage())
            }
        }
        router.post(RouterPath("\(base)/login")) { request, context in
            let token = state.snapshot.configuration.admin.token
            guard !token.isEmpty else { return Self.closed() }
            let body = try await request.body.collect(upTo: Self.maximumSignInBody)
            let form = try? URLEncodedFormDecoder().decode(SignInForm.self, from: String(buffer: body))
            guard let presented = form?.token, token.matches(presented) else {
                context.logger.info("trace viewer sign-in refused", metadata: ["path": "\(request.uri.path)"])
                return Self.html(
                    TraceViewerPages.signInPage(problem: "That is not the admin token."),
                    status: .unauthorized
                )
            }
            var response = Self.redirect(to: base)
            response.setCookie(Self.cookie(value: Self.cookieValue(for: token), maxAge: nil))
            return response
        }
        router.post(RouterPath("\(base)/logout")) { _, _ in
            guard !state.snapshot.configuration.admin.token.isEmpty else { return Self.closed() }
            var response = Self.redirect(to: "\(base)/login")
            response.setCookie(Self.cookie(value: "", maxAge: 0))
            return response
        }
    }

    /// The admin token as the API takes it (`Authorization: Bearer`), or the viewer's cookie.
    /// Both comparisons take time that depends only on the token's length.
    private func access(_ request: Request) -> Access {
        let token = state.snapshot.configuration.admin.token
        guard !token.isEmpty else { return .closed }
        if AdminAuthenticationMiddleware.presentsToken(token, in: request) { return .signedIn }
        if let value = request.cookies[Self.cookieName]?.value, let presented = Self.bytes(fromHex: value),
            token.matches(presented)
        {
            return .signedIn
        }
        return .signedOut
    }

    /// The cookie carries the token hex-encoded: a token may hold characters a cookie value cannot.
    static func cookieValue(for token: Secret) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in token.revealedValue.utf8 { hex += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        return String(decoding: hex, as: UTF8.self)
    }

    static func bytes(fromHex text: String) -> [UInt8]? {
        func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// Not `Secure`: the gateway serves plain HTTP itself, usually on loopback, and a browser
    /// drops a Secure cookie set over plain HTTP.
    private static func cookie(value: String, maxAge: Int?) -> Cookie {
        Cookie(
            name: cookieName,
            value: value,
            maxAge: maxAge,
            path: TraceViewerPages.basePath,
            httpOnly: true,
            sameSite: .strict
        )
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: pageHeaders(contentType: "text/html; charset=utf-8"),
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    private static func redirect(to location: String) -> Response {
        var headers = pageHeaders(contentType: nil)
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    private static func closed() -> Response {
        html(
            TraceViewerPages.notFoundPage(
                "The trace viewer is off: no admin token is configured (admin.token).",
                isSignedIn: false
            ),
            status: .notFound
        )
    }

    private static func pageHeaders(contentType: String?) -> HTTPFields {
        var headers: HTTPFields = [
            .cacheControl: "no-store",
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
        ]
        if let contentType { headers[.contentType] = contentType }
        return headers
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
