import Foundation
import GatehouseConfig
import GatehouseCore
import GatehouseJSON
import Testing

@testable import Policy

/// Compiles policy files held in memory, as the directory loader does.
func compilePolicies(_ files: [String: String], environment: [String: String] = [:]) -> ConfigValidation<PolicySet> {
    PolicyDirectory.compile(
        files.sorted { $0.key < $1.key }.map { (name: $0.key, path: "policies/\($0.key)", text: $0.value) },
        environment: environment
    )
}

func policySet(_ files: [String: String], environment: [String: String] = [:]) throws -> PolicySet {
    switch compilePolicies(files, environment: environment) {
    case .valid(let set): return set
    case .invalid(let diagnostics): throw PolicyTestError.invalid(diagnostics.map(\.description))
    }
}

enum PolicyTestError: Error { case invalid([String]) }

func caller(_ agent: String) -> Identity { Identity(agentName: agent, method: .configuredAPIKey(keyIndex: 0)) }

func callTool(_ agent: String, _ name: String, _ arguments: String? = nil) -> PolicyInput {
    let server = String(name.split(separator: "_").first ?? "")
    let parsed = arguments.flatMap { try? JSONValue.parse($0) }
    return PolicyInput(
        identity: caller(agent),
        action: .callTool(ToolTarget(server: server, name: name), arguments: parsed)
    )
}

@Suite("PolicySet decisions")
struct PolicyDecisionTests {
    static let files = [
        "defaults.yaml": """
        unlisted_agents: deny
        tools:
          deny: ["*__delete*"]
        """,
        "researcher.yaml": """
        agents: [researcher]
        models:
          allow: ["gpt-4o*", claude-haiku-4-5]
          deny: [gpt-4o-audio]
        servers:
          allow: [docs]
        tools:
          allow:
            - name: files__read
              id: public-files-only
              when:
                - argument: path
                  normalize: path
                  prefix: /srv/public/
            - name: web__fetch
              when:
                - argument: url
                  normalize: url
                  scheme: [https]
                  host: ["*.example.com", example.com]
            - name: shop__order
              when:
                - argument: quantity
                  min: 1
                  max: 10
                - argument: items[*].sku
                  regex: "[A-Z]{3}-[0-9]+"
                - argument: note
                  optional: true
                  max_length: 5
                - argument: coupon
                  present: false
                - argument: currency
                  one_of: [EUR, USD]
            - util__*
          deny:
            - name: files__read
              when:
                - argument: path
                  normalize: path
                  prefix: /srv/public/private
          list_only: [mail__send]
        """,
    ]

    let set: PolicySet

    init() throws {
        set = try policySet(Self.files)
    }

    @Test func modelsAllowAndDenyWithDenyWinning() {
        #expect(set.decide(PolicyInput(identity: caller("researcher"), action: .callModel("gpt-4o-mini"))).isAllowed)
        let denied = set.decide(PolicyInput(identity: caller("researcher"), action: .callModel("gpt-4o-audio")))
        #expect(denied.effect == .deny && denied.rule == "researcher.yaml#models.deny[0]")
        let unknown = set.decide(PolicyInput(identity: caller("researcher"), action: .listModel("o3")))
        #expect(unknown.effect == .deny && unknown.rule == "researcher.yaml#default-deny")
    }

    @Test func agentsWithoutAPolicyFollowTheDefaults() {
        let denied = set.decide(PolicyInput(identity: caller("stranger"), action: .callModel("gpt-4o")))
        #expect(denied.effect == .deny && denied.rule == "defaults.yaml#unlisted_agents")
        let open = PolicySet.empty.decide(PolicyInput(identity: caller("stranger"), action: .callModel("gpt-4o")))
        #expect(open.isAllowed && open.rule == "no-policy")
    }

    @Test(arguments: [
        ("/srv/public/a.txt", true),
        ("/srv/public/x/../b.txt", true),
        ("/srv/public/../etc/passwd", false),
        ("/srv/public/%2e%2e/etc", false),
        ("/srv/public/%25252e%25252e/etc", false),
        ("/srv/public/\u{2025}/etc", false),
        ("/srv/public\u{FF0F}..\u{FF0F}etc", false),
        ("/srv/public\\..\\etc", false),
        ("/srv/public/a\u{0}b", false),
        ("/srv/public/a\u{7}b", false),
        ("/srv/publicity", false),
        ("/srv/public", false),
        ("/srv/public/private/key", false),
    ])
    func pathRule(path: String, allowed: Bool) throws {
        let arguments = JSONValue.object(JSONObject(["path": .string(path)])).serialized()
        let decision = set.decide(callTool("researcher", "files__read", String(decoding: arguments, as: UTF8.self)))
        #expect(decision.isAllowed == allowed, "\(path): \(decision)")
    }

    @Test func aFailedConditionNamesItsRuleAndNeverQuotesTheValue() {
        let decision = set.decide(callTool("researcher", "files__read", #"{"path":"/etc/shadow-secret"}"#))
        #expect(decision.effect == .deny)
        #expect(decision.rule == "researcher.yaml#public-files-only")
        #expect(decision.reason.contains("must be a path inside /srv/public/"))
        #expect(!decision.reason.contains("shadow-secret"))
    }

    @Test(arguments: [
        ("https://docs.example.com/a", true),
        ("https://example.com", true),
        ("HTTPS://EXAMPLE.COM./x", true),
        ("http://example.com/", false),
        ("https://example.com@evil.test/", false),
        ("https://evil.test\\@example.com/", false),
        ("https://evil.test#@example.com", false),
        ("https://example.com.evil.test/", false),
        (" https://evil.test/", false),
        ("https://2130706433/", false),
        ("https://0x7f.1/", false),
        ("https://ex%61mple.com/", true),
        ("https://ｅｘａｍｐｌｅ.com/", true),
        ("javascript:alert(1)", false),
    ])
    func urlRule(url: String, allowed: Bool) throws {
        let arguments = String(
            decoding: JSONValue.object(JSONObject(["url": .string(url)])).serialized(),
            as: UTF8.self
        )
        let decision = set.decide(callTool("researcher", "web__fetch", arguments))
        #expect(decision.isAllowed == allowed, "\(url): \(decision)")
    }

    @Test(arguments: [
        (#"{"quantity":3,"items":[{"sku":"ABC-1"},{"sku":"XYZ-22"}],"currency":"EUR"}"#, true),
        (#"{"quantity":0,"items":[{"sku":"ABC-1"}],"currency":"EUR"}"#, false),
        (#"{"quantity":11,"items":[{"sku":"ABC-1"}],"currency":"EUR"}"#, false),
        (#"{"quantity":"3","items":[{"sku":"ABC-1"}],"currency":"EUR"}"#, false),
        (#"{"quantity":3,"items":[{"sku":"ABC-1"},{"sku":"abc-1"}],"currency":"EUR"}"#, false),
        (#"{"quantity":3,"items":[{"sku":"ABC-1x"}],"currency":"EUR"}"#, false),
        (#"{"quantity":3,"items":[],"currency":"EUR"}"#, false),
        (#"{"quantity":3,"items":[{"sku":"ABC-1"}],"currency":"EUR","note":"123456"}"#, false),
        (#"{"quantity":3,"items":[{"sku":"ABC-1"}],"currency":"EUR","note":"12345"}"#, true),
        (#"{"quantity":3,"items":[{"sku":"ABC-1"}],"currency":"EUR","coupon":"FREE"}"#, false),
        (#"{"quantity":3,"items":[{"sku":"ABC-1"}],"currency":"GBP"}"#, false),
        (#"{"quantity":3,"quantity":30,"items":[{"sku":"ABC-1"}],"currency":"EUR"}"#, false),
    ])
    func argumentConditions(arguments: String, allowed: Bool) {
        let decision = set.decide(callTool("researcher", "shop__order", arguments))
        #expect(decision.isAllowed == allowed, "\(arguments): \(decision)")
    }

    @Test func listingAndCallingDiffer() {
        let list = set.decide(
            PolicyInput(
                identity: caller("researcher"),
                action: .listTool(ToolTarget(server: "mail", name: "mail__send"))
            )
        )
        #expect(list.isAllowed)
        let call = set.decide(callTool("researcher", "mail__send", "{}"))
        #expect(call.effect == .deny && call.reason.contains("listed but not called"))
        // A conditional allow rule lists its tool; the call is judged on its arguments.
        let listed = set.decide(
            PolicyInput(
                identity: caller("researcher"),
                action: .listTool(ToolTarget(server: "web", name: "web__fetch"))
            )
        )
        #expect(listed.isAllowed)
    }

    @Test func sharedDenyRulesWinOverAnAgentsAllow() {
        let decision = set.decide(callTool("researcher", "files__delete", "{}"))
        #expect(decision.effect == .deny && decision.rule == "defaults.yaml#tools.deny[0]")
    }

    @Test func serverRulesCoverPromptsAndResources() {
        #expect(set.decide(PolicyInput(identity: caller("researcher"), action: .useServer("docs"))).isAllowed)
        #expect(!set.decide(PolicyInput(identity: caller("researcher"), action: .useServer("files"))).isAllowed)
        // A server allow rule lets every tool of the server through.
        #expect(set.decide(callTool("researcher", "docs__search", "{}")).isAllowed)
    }

    @Test func decisionsAreDeterministic() {
        let input = callTool("researcher", "files__read", #"{"path":"/srv/public/a"}"#)
        let first = set.decide(input)
        for _ in 0..<100 { #expect(set.decide(input) == first) }
    }
}

@Suite("Policy files")
struct PolicyFileTests {
    @Test func problemsNameFileLineAndKey() {
        guard
            case .invalid(let diagnostics) = compilePolicies([
                "a.yaml": """
                agents: [a]
                modles:
                  allow: [x]
                tools:
                  allow:
                    - name: t
                      when:
                        - argument: "items[x"
                          equals: 1
                limits:
                  - requests: 0
                    per: 1m
                  - tokens: 10
                    tool: x
                    per: 1m
                """,
                "b.yaml": "agents: [a]\n",
            ])
        else {
            Issue.record("expected problems")
            return
        }
        let text = diagnostics.map(\.description)
        #expect(
            text.contains {
                $0.hasPrefix("policies/a.yaml:2:1: error: modles: unknown key") && $0.contains("did you mean 'models'")
            }
        )
        #expect(text.contains { $0.contains("tools.allow[0].when[0].argument: not an argument path") })
        #expect(text.contains { $0.contains("limits[0].requests: must be between 1") })
        #expect(text.contains { $0.contains("limits[1]: token limits count LLM calls") })
        #expect(text.contains { $0.contains("policies/b.yaml:1:") && $0.contains("already has a policy in a.yaml") })
    }

    @Test func variablesExpandInPolicies() throws {
        let set = try policySet(
            ["batch.yaml": "agents: [batch]\nlimits:\n  - tokens: ${TPM:-400}\n    per: 1m\n"],
            environment: ["TPM": "1234"]
        )
        #expect(set.policy(for: caller("batch"))?.limits.first?.kind == .tokens(1234, per: .seconds(60)))
    }
}

@Suite("Policy schema")
struct PolicySchemaTests {
    private func object(_ value: Any?) throws -> [String: Any] { try #require(value as? [String: Any]) }

    @Test func schemaListsExactlyTheDecodersKeys() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/policy.schema.json")
        let schema = try object(try JSONSerialization.jsonObject(with: Data(contentsOf: url)))
        let top = Set(try object(schema["properties"]).keys)
        #expect(top == Set(PolicyFileDecoder.agentFileKeys + PolicyFileDecoder.defaultsFileKeys))
        let definitions = try object(schema["$defs"])
        let condition = try object(try object(definitions["condition"])["properties"])
        #expect(Set(condition.keys) == Set(PolicyFileDecoder.conditionKeys))
        let limit = try object(try object(definitions["limit"])["properties"])
        #expect(Set(limit.keys) == Set(PolicyFileDecoder.limitKeys))
        let toolRule = try #require(try object(definitions["toolRule"])["oneOf"] as? [[String: Any]])
        #expect(Set(try object(toolRule[1]["properties"]).keys) == Set(PolicyFileDecoder.toolRuleKeys))
        let budgets = try object(try object(try object(schema["properties"])["budgets"])["properties"])
        #expect(Set(budgets.keys) == Set(PolicyFileDecoder.budgetKeys))
        let tools = try object(try object(try object(schema["properties"])["tools"])["properties"])
        #expect(Set(tools.keys) == Set(PolicyFileDecoder.toolSectionKeys))
        let guardRule = try object(try object(definitions["guard"])["properties"])
        #expect(Set(guardRule.keys) == Set(PolicyFileDecoder.guardKeys))
        let webhook = try object(try object(guardRule["webhook"])["properties"])
        #expect(Set(webhook.keys) == Set(PolicyFileDecoder.webhookKeys))
        let sessionRule = try object(try object(definitions["sessionRule"])["properties"])
        #expect(Set(sessionRule.keys) == Set(PolicyFileDecoder.sessionRuleKeys))
        #expect(
            Set(try object(try object(sessionRule["after"])["properties"]).keys)
                == Set(PolicyFileDecoder.sessionAfterKeys)
        )
        #expect(
            Set(try object(try object(sessionRule["deny"])["properties"]).keys)
                == Set(PolicyFileDecoder.sessionDenyKeys)
        )
        let tracing = try object(try object(try object(schema["properties"])["tracing"])["properties"])
        #expect(Set(tracing.keys) == Set(PolicyFileDecoder.tracingKeys))
    }
}

@Suite("Group policies")
struct GroupPolicyTests {
    @Test func anAgentWithoutItsOwnFileGetsItsGroupsPolicy() throws {
        let set = try policySet([
            "ops.yaml": "groups: [ops]\nmodels:\n  allow: [small]\n",
            "alice.yaml": "agents: [alice]\nmodels:\n  allow: [large]\n",
        ])
        let bob = Identity(agentName: "bob", method: .jwt(subject: "bob"), groups: ["staff", "ops"])
        #expect(set.decide(PolicyInput(identity: bob, action: .callModel("small"))).rule == "ops.yaml#models.allow[0]")
        #expect(!set.decide(PolicyInput(identity: bob, action: .callModel("large"))).isAllowed)
        // An agent's own file wins over its groups'.
        let alice = Identity(agentName: "alice", method: .jwt(subject: "alice"), groups: ["ops"])
        #expect(set.decide(PolicyInput(identity: alice, action: .callModel("large"))).isAllowed)
        #expect(!set.decide(PolicyInput(identity: alice, action: .callModel("small"))).isAllowed)
        // No group named: no policy applies (unlisted agents are allowed by default).
        #expect(set.decide(PolicyInput(identity: caller("carol"), action: .callModel("large"))).rule == "no-policy")
    }
}

@Suite("Glob")
struct GlobTests {
    @Test(arguments: [
        ("files__read", "files__read", true), ("files__read", "files__reads", false),
        ("files__*", "files__read", true), ("files__*", "file__read", false), ("files__*", "files__", true),
        ("*__read", "files__read", true), ("*__read", "files__reader", false),
        ("*__delete*", "db__delete_all", true), ("*__delete*", "db__remove", false), ("*__delete*", "__delete", true),
        ("*", "anything", true), ("**", "", true), ("f?les__*", "files__x", true), ("f?les__*", "fles__x", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXcYb", false), ("gpt-*-mini", "gpt-4o-mini", true),
        ("*é*", "café", true), ("werkzeug__*", "werkzeug__öffnen", true),
    ])
    func matching(pattern: String, name: String, matches: Bool) {
        #expect(Glob(pattern).matches(name) == matches, "\(pattern) ~ \(name)")
    }
}

@Suite("PathNormalizer")
struct PathNormalizerTests {
    @Test(arguments: [
        ("/srv/public/a.txt", "/srv/public/a.txt"), ("/srv//public///a.txt", "/srv/public/a.txt"),
        ("/srv/public/./a/../b", "/srv/public/b"), ("/../../etc", "/etc"), ("/", "/"), ("", ""),
        ("a/b/../c", "a/c"), ("../x", "../x"), ("a/../../x", "../x"), ("/srv/public/", "/srv/public"),
        ("\\srv\\public\\..\\x", "/srv/x"), ("/srv/%2e%2e/x", "/x"), ("/srv/%252e%252e/x", "/x"),
        ("/srv/\u{2025}/x", "/x"), ("/srv\u{FF0F}..\u{FF0F}x", "/x"), ("/données/été", "/données/été"),
    ])
    func normalizes(raw: String, expected: String) throws {
        #expect(try PathNormalizer.normalize(raw).get() == expected, "\(raw)")
    }

    @Test(arguments: ["/a\u{0}b", "/a\nb", "/a\u{7F}", "/a\u{85}b", "/a%00b", "/a%0Ab"])
    func refusesControlCharacters(raw: String) {
        guard case .failure = PathNormalizer.normalize(raw) else {
            Issue.record("\(raw.debugDescription) accepted")
            return
        }
    }
}
