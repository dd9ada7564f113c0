import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseTracing
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Store
import Testing

@testable import gatehouse

/// Two runs in the store: `demo`'s, seconds ago, whose tool call a guard denied (and whose tool
/// is named like a script), and `ops`'s, two days ago, without trouble.
enum ViewerRuns {
    static let demoTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let opsTrace = "0af7651916cd43dd8448eb211c80319c"
    static let scriptName = "tools/call <script>alert(1)</script>"

    static func rows(now: UInt64 = TraceClock.now()) -> [StoredSpan] {
        let ms: UInt64 = 1_000_000
        let recent = now - 10_000 * ms
        let old = now - 2 * 86_400_000 * ms
        let demo = [
            SpanRecord(
                traceID: demoTrace,
                spanID: "1000000000000001",
                parentSpanID: nil,
                name: "invoke_agent demo",
                kind: .internal,
                startNanoseconds: recent,
                endNanoseconds: recent + 900 * ms,
                attributes: [SpanAttribute(GenAIKey.operationName, "invoke_agent")]
            ),
            SpanRecord(
                traceID: demoTrace,
                spanID: "1000000000000002",
                parentSpanID: "1000000000000001",
                name: "chat gpt-4o-mini",
                kind: .client,
                startNanoseconds: recent,
                endNanoseconds: recent + 400 * ms,
                attributes: [
                    SpanAttribute(GenAIKey.operationName, "chat"), SpanAttribute(GenAIKey.inputTokens, 1200),
                    SpanAttribute(GenAIKey.outputTokens, 34), SpanAttribute(GatehouseKey.costUSD, .double(0.0021)),
                ]
            ),
            SpanRecord(
                traceID: demoTrace,
                spanID: "1000000000000003",
                parentSpanID: "1000000000000001",
                name: scriptName,
                kind: .server,
                startNanoseconds: recent + 450 * ms,
                endNanoseconds: recent + 500 * ms,
                attributes: [SpanAttribute(GenAIKey.operationName, "execute_tool")],
                events: [
                    SpanEvent(
                        name: "apply_guardrail",
                        timeNanoseconds: recent + 451 * ms,
                        attributes: [
                            SpanAttribute(GatehouseKey.policyRule, "no-egress"),
                            SpanAttribute(GatehouseKey.policyDecision, "deny"),
                        ]
                    )
                ],
                status: .error("denied")
            ),
        ]
        let ops = [
            SpanRecord(
                traceID: opsTrace,
                spanID: "2000000000000001",
                parentSpanID: nil,
                name: "invoke_agent ops",
                kind: .internal,
                startNanoseconds: old,
                endNanoseconds: old + 100 * ms,
                attributes: [SpanAttribute(GenAIKey.operationName, "invoke_agent")]
            ),
            SpanRecord(
                traceID: opsTrace,
                spanID: "2000000000000002",
                parentSpanID: "2000000000000001",
                name: "chat claude-haiku-4-5",
                kind: .client,
                startNanoseconds: old,
                endNanoseconds: old + 100 * ms,
                attributes: [SpanAttribute(GenAIKey.inputTokens, 10), SpanAttribute(GenAIKey.outputTokens, 2)]
            ),
        ]
        return demo.map { StoredSpanCoding.row($0, agent: "demo", isRunRoot: $0.parentSpanID == nil) }
            + ops.map { StoredSpanCoding.row($0, agent: "ops", isRunRoot: $0.parentSpanID == nil) }
    }
}

@Suite struct TraceViewerRoutesTests {
    static let admin: HTTPFields = [.authorization: "Bearer \(ServerHarness.adminToken)"]

    private func harness(yaml: String = ServerHarness.yaml()) async throws -> ServerHarness {
        let harness = try await ServerHarness.make(yaml: yaml)
        try await harness.store.recordSpans(ViewerRuns.rows())
        return harness
    }

    private static func cookie(_ value: String) -> HTTPFields {
        [.cookie: "\(TraceViewerRoutes.cookieName)=\(value)"]
    }

    @Test func pagesNeedTheAdminTokenOrTheCookie() async throws {
        let harness = try await harness()
        let correctCookie = TraceViewerRoutes.cookieValue(for: Secret(ServerHarness.adminToken))
        try await harness.test { client in
            for (uri, headers) in [
                ("/ui", HTTPFields()),
                ("/ui/runs/\(ViewerRuns.demoTrace)", HTTPFields()),
                ("/ui", Self.cookie("deadbeef")),
                ("/ui", Self.cookie("not-hex")),
                ("/ui", Self.cookie(correctCookie + "00")),
                ("/ui", [.authorization: "Bearer \(ServerHarness.apiKey)"]),
            ] {
                try await client.execute(uri: uri, method: .get, headers: headers) { response in
                    #expect(response.status == .seeOther)
                    #expect(response.headers[.location] == "/ui/login")
                    #expect(response.headers[.cacheControl] == "no-store")
                }
            }
            try await client.execute(uri: "/ui", method: .get, headers: Self.admin) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-store")
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.hasPrefix("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline';"))
                #expect(policy.contains("img-src data:; form-action 'self'"))
                #expect(HTTPField.Name.referrerPolicy.canonicalName == "referrer-policy")
                #expect(response.headers[.referrerPolicy] == "no-referrer")
                #expect(!String(buffer: response.body).contains(ServerHarness.adminToken))
            }
            try await client.execute(uri: "/ui", method: .get, headers: Self.cookie(correctCookie)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func signingInSetsAStrictHttpOnlyCookieAndSigningOutClearsIt() async throws {
        let harness = try await harness()
        let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        try await harness.test { client in
            try await client.execute(uri: "/ui/login", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("name=\"token\""))
            }
            try await client.execute(
                uri: "/ui/login",
                method: .post,
                headers: form,
                body: ByteBuffer(string: "token=wrong")
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.setCookie] == nil)
                #expect(String(buffer: response.body).contains("That is not the admin token."))
            }
            try await client.execute(uri: "/ui/login", method: .post, headers: form, body: ByteBuffer(string: "x")) {
                response in
                #expect(response.status == .unauthorized)
            }
            let encoded = ServerHarness.adminToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let cookie = try await client.execute(
                uri: "/ui/login",
                method: .post,
                headers: form,
                body: ByteBuffer(string: "token=\(encoded)")
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/ui")
                let setCookie = try #require(response.headers[.setCookie])
                #expect(setCookie.hasPrefix("\(TraceViewerRoutes.cookieName)="))
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
                #expect(setCookie.contains("Path=/ui"))
                #expect(!setCookie.contains(ServerHarness.adminToken))
                return String(setCookie.prefix { $0 != ";" })
            }
            try await client.execute(uri: "/ui", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("<h1>Runs</h1>"))
            }
            try await client.execute(uri: "/ui/login", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/ui")
            }
            try await client.execute(uri: "/ui/logout", method: .post, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/ui/login")
                let setCookie = try #require(response.headers[.setCookie])
                #expect(setCookie.hasPrefix("\(TraceViewerRoutes.cookieName)=;") && setCookie.contains("Max-Age=0"))
            }
        }
    }

    @Test func withoutAnAdminTokenTheViewerIsNotThere() async throws {
        let yaml = """
            server:
              listen: 127.0.0.1:0
            agents:
              - name: demo
                api_keys: [ "${TEST_API_KEY}" ]
            """
        let harness = try await harness(yaml: yaml)
        try await harness.test { client in
            for (uri, method) in [
                ("/ui", HTTPRequest.Method.get), ("/ui/runs/\(ViewerRuns.demoTrace)", .get), ("/ui/login", .get),
                ("/ui/login", .post), ("/ui/logout", .post),
            ] {
                try await client.execute(
                    uri: uri,
                    method: method,
                    headers: [.authorization: "Bearer "],
                    body: ByteBuffer(string: "token=")
                ) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                    #expect(response.headers[.setCookie] == nil)
                }
            }
        }
    }

    @Test func theRunsListFiltersByAgentStatusAndTime() async throws {
        let harness = try await harness()
        try await harness.test { client in
            func runs(_ query: String) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: "/ui" + query, method: .get, headers: Self.admin) { response in
                    (response.status, String(buffer: response.body))
                }
            }
            let demoLink = "href=\"/ui/runs/\(ViewerRuns.demoTrace)\""
            let opsLink = "href=\"/ui/runs/\(ViewerRuns.opsTrace)\""
            let (status, all) = try await runs("")
            #expect(status == .ok && all.contains(demoLink) && all.contains(opsLink))
            #expect(all.contains("<td class=\"num\">1,200</td><td class=\"num\">34</td><td class=\"num\">$0.0021</td>"))
            #expect(all.contains("<span class=\"badge status-denied\">denied</span>"))
            let (_, ops) = try await runs("?agent=ops")
            #expect(ops.contains(opsLink) && !ops.contains(demoLink))
            let (_, denied) = try await runs("?status=denied")
            #expect(denied.contains(demoLink) && !denied.contains(opsLink))
            let (_, fine) = try await runs("?status=ok&since=")
            #expect(fine.contains(opsLink) && !fine.contains(demoLink))
            let (_, recent) = try await runs("?since=1h&status=&agent=")
            #expect(recent.contains(demoLink) && !recent.contains(opsLink))
            let (_, nobody) = try await runs("?agent=%3Cnobody%3E")
            #expect(nobody.contains("No runs match") && nobody.contains("value=\"&lt;nobody&gt;\""))
            let (badStatus, bad) = try await runs("?status=sideways")
            #expect(badStatus == .badRequest && bad.contains("Unknown status &#39;sideways&#39;"))
        }
    }

    @Test func aRunPageShowsEverySpanEscaped() async throws {
        let harness = try await harness()
        try await harness.test { client in
            for reference in [ViewerRuns.demoTrace, String(ViewerRuns.demoTrace.prefix(8))] {
                try await client.execute(uri: "/ui/runs/\(reference)", method: .get, headers: Self.admin) { response in
                    #expect(response.status == .ok)
                    let page = String(buffer: response.body)
                    for name in ["invoke_agent demo", "chat gpt-4o-mini"] { #expect(page.contains(">\(name)</span>")) }
                    #expect(!page.contains("<script>alert(1)</script>"))
                    #expect(page.contains(">tools/call &lt;script&gt;alert(1)&lt;/script&gt;</span>"))
                    #expect(page.contains("<code>gatehouse.policy.decision</code>=deny"))
                    #expect(!page.contains("invoke_agent ops"))
                }
            }
            for reference in ["ffffffffffffffffffffffffffffffff", "4bf9", "%3Cb%3E"] {
                try await client.execute(uri: "/ui/runs/\(reference)", method: .get, headers: Self.admin) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                    #expect(!String(buffer: response.body).contains("<b>"))
                }
            }
        }
    }
}

@Suite struct TracesCommandTests {
    /// A configuration whose store holds `ViewerRuns`, and its path.
    private func configuration() async throws -> (folder: URL, file: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-traces-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("traces.db").path
        let file = folder.appendingPathComponent("gatehouse.yaml")
        try "store:\n  path: \(database)\n".write(to: file, atomically: true, encoding: .utf8)
        let store = try await Store.open(path: database, logger: Logger(label: "test"))
        try await store.recordSpans(ViewerRuns.rows())
        await store.close()
        return (folder, file.path)
    }

    @Test func showFindsARunByItsIdOrAnAbbreviationAndRefusesTheRest() async throws {
        let (folder, file) = try await configuration()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await TracesCommand.openStore(try ConfigOption.parse(["--config", file]))
        let catalog = TraceRunCatalog(store: store)
        let found = try await TracesShowCommand.find("0AF76519", in: catalog).get()
        #expect(found.summary.traceID == ViewerRuns.opsTrace && found.summary.agent == "ops")
        #expect(try await TracesShowCommand.find("ffffffff", in: catalog) == .failure(.notFound("ffffffff")))
        #expect(try await TracesShowCommand.find("0af", in: catalog) == .failure(.invalid("0af")))
        await store.close()

        let show = try TracesShowCommand.parse([ViewerRuns.demoTrace, "--config", file])
        try await show.run()
        for reference in ["ffffffff", "xyz"] {
            let missing = try TracesShowCommand.parse([reference, "--config", file])
            await #expect(throws: ExitCode(1)) { try await missing.run() }
        }
        let list = try TracesListCommand.parse(["--agent", "ops", "--since", "7d", "--limit", "5", "--config", file])
        try await list.run()
    }

    @Test func listRefusesUnknownFiltersBeforeOpeningTheStore() {
        #expect(throws: (any Error).self) { try TracesListCommand.parse(["--status", "sideways"]) }
        #expect(throws: (any Error).self) { try TracesListCommand.parse(["--since", "soon"]) }
        #expect(throws: (any Error).self) { try TracesListCommand.parse(["--limit", "0"]) }
        #expect(throws: (any Error).self) { try TracesShowCommand.parse([]) }
    }
}
