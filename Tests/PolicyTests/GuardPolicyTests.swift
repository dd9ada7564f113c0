import GatehouseConfig
import GatehouseCore
import GatehouseJSON
import Synchronization
import Testing

@testable import Policy

/// Collects audit records in memory.
final class RecordingAuditSink: DecisionAuditSink, Sendable {
    private let records = Mutex<[DecisionRecord]>([])
    func record(_ decision: DecisionRecord) async { records.withLock { $0.append(decision) } }
    var all: [DecisionRecord] { records.withLock { $0 } }
}

/// A webhook endpoint scripted per test.
struct ScriptedWebhook: GuardWebhookClient {
    let answer: @Sendable ([UInt8]) async throws -> (status: Int, body: [UInt8])
    func post(url: String, body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        try await answer(body)
    }
}

struct WebhookUnreachable: Error {}

@Suite("Content guards and session rules")
struct GuardPolicyTests {
    static let files = [
        "defaults.yaml": """
        tags:
          tools:
            web__fetch: [untrusted]
            mail__send: [egress]
          providers:
            local: [internal]
        guards:
          - id: no-secrets
            flows: [prompt]
            detect: [secrets]
          - id: banned
            flows: [completion]
            regex: ['p5\\.']
          - id: mask-pii
            flows: [tool_result]
            detect: [email, payment_card]
            action: redact
          - id: cards-in-arguments
            flows: [tool_arguments]
            detect: [payment_card]
          - id: flag-injection
            flows: [tool_result]
            detect: [injection]
            action: flag
        session_rules:
          - id: no-egress-after-untrusted
            after: {tool_tags: [untrusted]}
            deny: {tool_tags: [egress]}
        """,
        "a.yaml": """
        agents: [a]
        models: {allow: ["*"]}
        tools: {allow: ["*"]}
        session_rules:
          - id: internal-only-after-injection
            scope: run
            after: {detectors: [prompt_injection]}
            deny: {llm_providers_not_tagged: [internal]}
        """,
        "b.yaml": """
        agents: [b]
        tools: {allow: ["*"]}
        guards:
          - id: mask-pii
            flows: [tool_result]
            action: allow
            detect: [email]
        """,
    ]

    func context(_ agent: String, _ subject: String, session: SessionKeys = .none) -> GuardContext {
        GuardContext(identity: caller(agent), requestID: nil, subject: subject, session: session)
    }

    @Test func guardsApplyPerFlowAndAnAgentMayReplaceASharedOneById() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let toolResult = try #require(engine.contentGuard(.toolResult, context: context("a", "web__fetch")))
        #expect(toolResult.rules.map(\.id) == ["defaults.yaml#mask-pii", "defaults.yaml#flag-injection"])
        #expect(
            engine.contentGuard(.prompt, context: context("a", "gpt-4o"))?.rules.map(\.id) == [
                "defaults.yaml#no-secrets"
            ]
        )
        // b's own `mask-pii` (action allow) replaces the shared one; allow guards never run.
        #expect(
            engine.contentGuard(.toolResult, context: context("b", "web__fetch"))?.rules.map(\.id) == [
                "defaults.yaml#flag-injection"
            ]
        )
        // No policy, no guards.
        #expect(PolicyEngine().contentGuard(.prompt, context: context("a", "m")) == nil)
    }

    @Test func webhookAnswersBecomeVerdicts() async throws {
        let files = [
            "a.yaml": """
            agents: [a]
            tools: {allow: ["*"]}
            guards:
              - id: open
                flows: [tool_result]
                webhook: {url: "http://127.0.0.1:9/guard", timeout: 100ms, on_error: allow}
              - id: closed
                flows: [tool_arguments]
                webhook: {url: "http://127.0.0.1:9/guard", timeout: 100ms}
            """
        ]
        let audit = RecordingAuditSink()
        let redacting = ScriptedWebhook { body in
            let request = try JSONValue.parse(body)
            #expect(request["flow"]?.stringValue == "tool_result")
            #expect(request["texts"] == .array([.string("héllo wörld"), .string("x")]))
            // Code points, as Python counts them: "wörld" starts at 6.
            return (
                200,
                Array(#"{"action":"redact","redactions":[{"index":0,"start":6,"end":11,"placeholder":"[W]"}]}"#.utf8)
            )
        }
        var engine = PolicyEngine(try policySet(files), auditSink: audit, webhookClient: redacting)
        var check = await engine.contentGuard(.toolResult, context: context("a", "t__x"))?.check(["héllo wörld", "x"])
        #expect(check?.verdict == .redacted(["héllo [W]", "x"]))

        let failing = ScriptedWebhook { _ in throw WebhookUnreachable() }
        engine = PolicyEngine(try policySet(files), auditSink: audit, webhookClient: failing)
        // Fail open: the content passes, and the failure is audited as a flag.
        check = await engine.contentGuard(.toolResult, context: context("a", "t__x"))?.check(["hello"])
        #expect(check?.verdict == .pass)
        #expect(audit.all.last?.decision == .flag && audit.all.last?.reason.contains("failing open") == true)
        // Fail closed (the default).
        check = await engine.contentGuard(.toolArguments, context: context("a", "t__x"))?.check(["hello"])
        guard case .blocked(let decision)? = check?.verdict else {
            Issue.record("a failing fail-closed webhook guard did not block: \(String(describing: check))")
            return
        }
        #expect(
            decision.rule == "a.yaml#closed" && decision.effect == .block && decision.reason.contains("fails closed")
        )

        let malformed = ScriptedWebhook { _ in
            (200, Array(#"{"action":"redact","redactions":[{"start":0,"end":99}]}"#.utf8))
        }
        engine = PolicyEngine(try policySet(files), webhookClient: malformed)
        check = await engine.contentGuard(.toolArguments, context: context("a", "t__x"))?.check(["a", "b"])
        guard case .blocked? = check?.verdict else {
            Issue.record("a malformed answer was not treated as a failure")
            return
        }
    }

    @Test func aSessionRuleDeniesEgressInTheTaintedSessionOnly() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let tainted = SessionKeys(mcpSession: "s1")
        let mail = PolicyInput(
            identity: caller("a"),
            action: .callTool(ToolTarget(server: "mail", name: "mail__send"), arguments: nil),
            session: tainted
        )
        guard case .admitted = engine.evaluate(mail, estimatedTokens: 0) else {
            Issue.record("mail__send refused before anything happened")
            return
        }
        engine.recordToolResult(
            ToolTarget(server: "web", name: "web__fetch"),
            context: context("a", "web__fetch", session: tainted),
            detectors: []
        )
        guard case .refused(let decision) = engine.evaluate(mail, estimatedTokens: 0) else {
            Issue.record("mail__send admitted in a tainted session")
            return
        }
        #expect(decision.rule == "defaults.yaml#no-egress-after-untrusted")
        #expect(decision.reason.contains("'web__fetch' (tagged untrusted) returned content"))
        // Another session, and another agent naming the same session id, are clean.
        let other = PolicyInput(identity: caller("a"), action: mail.action, session: SessionKeys(mcpSession: "s2"))
        guard case .admitted = engine.evaluate(other, estimatedTokens: 0) else {
            Issue.record("a fresh session was tainted")
            return
        }
        let agentB = PolicyInput(identity: caller("b"), action: mail.action, session: tainted)
        guard case .admitted = engine.evaluate(agentB, estimatedTokens: 0) else {
            Issue.record("another agent's session was tainted")
            return
        }
        // A session that ends is forgotten.
        engine.endMCPSession("s1")
        guard case .admitted = engine.evaluate(mail, estimatedTokens: 0) else {
            Issue.record("an ended session stayed tainted")
            return
        }
    }

    @Test func aDetectorOnAToolResultLimitsTheRunsLLMCallsToInternalProviders() throws {
        let engine = PolicyEngine(try policySet(Self.files))
        let run = SessionKeys(run: "run-7")
        func callModel(providers: [String], session: SessionKeys = run) -> PolicyInput {
            PolicyInput(identity: caller("a"), action: .callModel("gpt-4o"), session: session, providers: providers)
        }
        engine.recordToolResult(
            ToolTarget(server: "files", name: "files__read"),
            context: context("a", "files__read", session: run),
            detectors: ["prompt_injection"]
        )
        guard case .refused(let decision) = engine.evaluate(callModel(providers: ["openai"]), estimatedTokens: 1) else {
            Issue.record("an external provider was allowed after an injection")
            return
        }
        #expect(decision.rule == "a.yaml#internal-only-after-injection")
        #expect(decision.reason.contains("prompt_injection was found in a result of 'files__read'"))
        guard case .admitted = engine.evaluate(callModel(providers: ["local"]), estimatedTokens: 1),
            case .admitted = engine.evaluate(callModel(providers: ["openai"], session: .none), estimatedTokens: 1)
        else {
            Issue.record("an internal provider, or another run, was refused")
            return
        }
    }

    @Test func sessionMemoryIsBounded() {
        let memory = SessionMemory(maximumScopes: 100)
        let event = SessionMemory.Event(description: "x", at: .now, wallTime: .now)
        for index in 0..<1_000 { memory.record(key: "k\(index)", rule: "r", event: event, window: nil) }
        #expect(memory.scopeCount <= 100)
        #expect(memory.event(key: "k999", rule: "r", within: nil, now: .now) != nil)
        #expect(memory.event(key: "k0", rule: "r", within: nil, now: .now) == nil)
        // An agent-window scope forgets an event older than its window.
        let old = SessionMemory.Event(description: "old", at: .now - .seconds(120), wallTime: .now)
        memory.record(key: "w", rule: "r", event: old, window: .seconds(60))
        #expect(memory.event(key: "w", rule: "r", within: .seconds(60), now: .now) == nil)
    }

    @Test(arguments: [
        ("guards: [{flows: [prompt]}]", "a guard needs detect, regex, keywords or webhook"),
        ("guards: [{flows: [everything], detect: [email]}]", "unknown flow 'everything'"),
        ("guards: [{flows: [prompt], detect: [emails]}]", "emails"),
        ("guards: [{flows: [prompt], detect: [email], action: shout}]", "must be one of: allow, flag, redact, block"),
        ("guards: [{flows: [prompt], regex: ['(unclosed']}]", "(unclosed"),
        ("guards: [{detect: [email]}]", "a guard names the flows it watches"),
        ("session_rules: [{after: {tool_tags: [x]}}]", "a session rule says what it then denies"),
        ("session_rules: [{deny: {tool_tags: [x]}, after: {}}]", "name tool_tags or detectors"),
        (
            "session_rules: [{scope: run, window: 1h, after: {tool_tags: [x]}, deny: {tool_tags: [y]}}]",
            "only scope: agent has a window"
        ),
    ])
    func invalidGuardsAndRulesAreReportedWithTheirKey(yaml: String, expected: String) {
        let files = ["a.yaml": "agents: [a]\n\(yaml)\n"]
        guard case .invalid(let diagnostics) = compilePolicies(files) else {
            Issue.record("accepted: \(yaml)")
            return
        }
        #expect(diagnostics.contains { $0.description.contains(expected) }, "\(diagnostics.map(\.description))")
    }

    @Test func webhookCodecReadsSpansAsCodePoints() {
        let texts = ["a🙂b secret c"]
        let answer = WebhookGuardCodec.answer(
            Array(#"{"action":"redact","redactions":[{"start":4,"end":10}]}"#.utf8),
            texts: texts
        )
        #expect(answer == .success(.redact(["a🙂b [REDACTED] c"])))
        #expect(
            WebhookGuardCodec.answer(Array("[]".utf8), texts: texts)
                == .failure(.init(message: "the answer is not a JSON object"))
        )
        let overlapping = WebhookGuardCodec.answer(
            Array(#"{"action":"redact","redactions":[{"start":0,"end":5},{"start":3,"end":6}]}"#.utf8),
            texts: texts
        )
        #expect(overlapping == .failure(.init(message: "redactions overlap")))
    }

    @Test func guardedJSONSkipsStructureAndWritesBackInOrder() throws {
        let value = try JSONValue.parse(
            #"{"content":[{"type":"text","text":"one"},{"type":"image","data":"QUJD","mimeType":"image/png"}],"structuredContent":{"a":["two",{"b":"three"}],"n":1},"isError":false}"#
        )
        let reading = GuardedJSON.messageContent
        #expect(reading.texts(in: value) == ["one", "two", "three"])
        let replaced = reading.replacing(value, with: ["1", "2", "3"])
        #expect(reading.texts(in: replaced) == ["1", "2", "3"])
        #expect(replaced["content"]?.arrayValue?[1]["data"] == .string("QUJD"))
        #expect(GuardedJSON.everything.texts(in: value).count == 7)
    }
}
