internal import Foundation
public import GatehouseConfig
internal import GatehouseCore
internal import GatehouseJSON
internal import Synchronization
internal import Yams

/// Test cases written beside the policies (`*.test.yaml`), for `gatehouse policy test`: a call and
/// the decision it must get. The cases of one file run in order against one engine, so a sequence
/// can exercise limits (`repeat: 11` on a 10-a-minute tool expects `limit` on the eleventh) and
/// session rules (a case's `result` is what the tool returned, which guards read and session rules
/// remember, within the case's `session`). Content (`prompt`, `completion`, `arguments`, `result`)
/// passes the guards: the expected effect may then be `block`, `redact` or `flag`.
public struct PolicyTestCase: Sendable {
    public let file: String
    public let line: Int
    public let name: String
    public let input: PolicyInput
    /// How many times the call is made; the expectation holds for the last one.
    public let repeatCount: Int
    public let expectedEffect: PolicyDecision.Effect
    /// The deciding rule, when the case names one.
    public let expectedRule: String?
    /// What the model is sent, and answers (for `model` cases).
    public let prompt: String?
    public let completion: String?
    /// What the tool returns (for `tool` cases): its text, guarded and remembered by session rules.
    public let result: String?
}

/// The outcome of one case.
public struct PolicyTestResult: Sendable {
    public let testCase: PolicyTestCase
    public let decision: PolicyDecision

    public var passed: Bool {
        decision.effect == testCase.expectedEffect && (testCase.expectedRule.map { $0 == decision.rule } ?? true)
    }
}

public enum PolicyTestSuite {
    static let caseKeys = [
        "name", "agent", "tool", "arguments", "list_tool", "model", "list_model", "server", "expect", "rule", "repeat",
        "session", "prompt", "completion", "result",
    ]
    static let effects = ["allow", "deny", "limit", "flag", "redact", "block"]

    /// The `*.test.yaml` files of a directory.
    public static func testFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasSuffix(".test.yaml") || $0.hasSuffix(".test.yml")
        }.sorted()
    }

    /// Reads one test file.
    public static func decode(
        yaml: String,
        file: String,
        environment: [String: String]
    ) -> ConfigValidation<[PolicyTestCase]> {
        var reader = ConfigReader(file: file, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            reader.report(nil, path: "", "invalid YAML: \(error)")
            return .invalid(reader.diagnostics)
        }
        guard let root, let top = reader.mapping(root, path: "", allowedKeys: ["cases"]), let casesNode = top["cases"],
            let items = reader.sequence(casesNode, path: "cases")
        else {
            if reader.diagnostics.isEmpty {
                reader.report(root, path: "cases", "a test file lists its cases under 'cases'")
            }
            return .invalid(reader.diagnostics)
        }
        var cases: [PolicyTestCase] = []
        for (index, item) in items.enumerated() {
            let path = "cases[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: caseKeys) else { continue }
            guard let agentNode = entries["agent"], let agent = reader.nonEmptyString(agentNode, path: "\(path).agent")
            else {
                reader.report(item, path: "\(path).agent", "a case names the calling agent")
                continue
            }
            let targets = ["tool", "list_tool", "model", "list_model", "server"].filter { entries[$0] != nil }
            guard targets.count == 1, let targetKey = targets.first, let targetNode = entries[targetKey],
                let target = reader.nonEmptyString(targetNode, path: "\(path).\(targetKey)")
            else {
                reader.report(
                    item,
                    path: path,
                    "a case sets exactly one of tool, list_tool, model, list_model or server"
                )
                continue
            }
            let action: PolicyAction
            switch targetKey {
            case "tool", "list_tool":
                guard let separator = target.range(of: "__") else {
                    reader.report(targetNode, path: "\(path).\(targetKey)", "a tool is named {server}__{tool}")
                    continue
                }
                let tool = ToolTarget(server: String(target[..<separator.lowerBound]), name: target)
                action =
                    targetKey == "tool"
                    ? .callTool(
                        tool,
                        arguments: entries["arguments"].map(JSONValue.init(yaml:)) ?? .object(JSONObject())
                    )
                    : .listTool(tool)
            case "model": action = .callModel(target)
            case "list_model": action = .listModel(target)
            default: action = .useServer(target)
            }
            guard let expectNode = entries["expect"],
                let expected = reader.choice(expectNode, path: "\(path).expect", options: effects),
                let effect = PolicyDecision.Effect(rawValue: expected)
            else {
                if entries["expect"] == nil {
                    reader.report(
                        item,
                        path: "\(path).expect",
                        "a case says what it expects: \(effects.joined(separator: ", "))"
                    )
                }
                continue
            }
            let repeatCount =
                entries["repeat"].flatMap {
                    reader.integer($0, path: "\(path).repeat", range: 1...100_000, example: "11")
                }
                ?? 1
            let name = entries["name"].flatMap { reader.string($0, path: "\(path).name") } ?? "\(targetKey) \(target)"
            let session = entries["session"].flatMap { reader.nonEmptyString($0, path: "\(path).session") }
            func text(_ key: String, for wanted: String) -> String? {
                guard let node = entries[key] else { return nil }
                if targetKey != wanted {
                    reader.report(node, path: "\(path).\(key)", "\(key) belongs to a \(wanted) case")
                }
                return reader.string(node, path: "\(path).\(key)")
            }
            cases.append(
                PolicyTestCase(
                    file: file,
                    line: item.mark?.line ?? 1,
                    name: name,
                    input: PolicyInput(
                        identity: Identity(agentName: agent, method: .policyTest),
                        action: action,
                        session: SessionKeys(mcpSession: session, run: session)
                    ),
                    repeatCount: repeatCount,
                    expectedEffect: effect,
                    expectedRule: entries["rule"].flatMap { reader.nonEmptyString($0, path: "\(path).rule") },
                    prompt: text("prompt", for: "model"),
                    completion: text("completion", for: "model"),
                    result: text("result", for: "tool")
                )
            )
        }
        return reader.diagnostics.isEmpty ? .valid(cases) : .invalid(reader.diagnostics)
    }

    /// Runs the cases of one file in order, against a fresh engine (fresh limit counters, nothing
    /// remembered by session rules). Webhook guards are not called: they count as allowing.
    public static func run(_ cases: [PolicyTestCase], policies: PolicySet) async -> [PolicyTestResult] {
        let engine = PolicyEngine(policies, webhookClient: AllowingWebhook())
        var held: [PolicyTicket] = []
        var results: [PolicyTestResult] = []
        for testCase in cases {
            var last = PolicyDecision.noPolicy
            for _ in 0..<testCase.repeatCount {
                switch engine.evaluate(testCase.input, estimatedTokens: 0) {
                case .admitted(let ticket):
                    // Calls of a test stay "in flight", so concurrency limits can be tested too.
                    held.append(ticket)
                    last = await guarded(testCase, admitted: ticket.decision, engine: engine)
                case .refused(let decision):
                    last = decision
                }
            }
            results.append(PolicyTestResult(testCase: testCase, decision: last))
        }
        withExtendedLifetime(held) {}
        return results
    }

    /// An admitted call's content through the guards, in the order the gateway checks it; the
    /// first block decides, else the last redaction or flag, else the admission.
    private static func guarded(
        _ testCase: PolicyTestCase,
        admitted: PolicyDecision,
        engine: PolicyEngine
    ) async -> PolicyDecision {
        let identity = testCase.input.identity
        var steps: [(GuardFlow, String, [String])] = []
        switch testCase.input.action {
        case .callModel(let model):
            if let prompt = testCase.prompt { steps.append((.prompt, model, [prompt])) }
            if let completion = testCase.completion { steps.append((.completion, model, [completion])) }
        case .callTool(let tool, let arguments):
            if let arguments { steps.append((.toolArguments, tool.name, GuardedJSON.everything.texts(in: arguments))) }
            if let result = testCase.result { steps.append((.toolResult, tool.name, [result])) }
        default:
            break
        }
        var decision = admitted
        for (flow, subject, texts) in steps {
            let context = GuardContext(
                identity: identity,
                requestID: nil,
                subject: subject,
                session: testCase.input.session
            )
            var detectors: [String] = []
            if let contentGuard = engine.contentGuard(flow, context: context) {
                let sink = CollectingAuditSink()
                let outcome = await ContentGuard(
                    flow: contentGuard.flow,
                    context: contentGuard.context,
                    rules: contentGuard.rules,
                    precompiledStreamDetectors: nil,
                    auditSink: sink,
                    webhookClient: contentGuard.webhookClient
                ).check(texts)
                detectors = outcome.detectors
                if case .blocked(let blocked) = outcome.verdict { return blocked }
                if let noted = sink.records.last {
                    decision = PolicyDecision(effect: noted.decision, rule: noted.rule, reason: noted.reason)
                }
            }
            if flow == .toolResult, case .callTool(let tool, _) = testCase.input.action {
                engine.recordToolResult(tool, context: context, detectors: detectors)
            }
        }
        return decision
    }
}

/// Webhook guards in `policy test`: not called, they allow.
private struct AllowingWebhook: GuardWebhookClient {
    func post(url: String, body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        (200, Array(#"{"action":"allow"}"#.utf8))
    }
}

/// The guard decisions of one check, for `policy test` to report.
private final class CollectingAuditSink: DecisionAuditSink, Sendable {
    private let collected = Mutex<[DecisionRecord]>([])
    func record(_ decision: DecisionRecord) async { collected.withLock { $0.append(decision) } }
    var records: [DecisionRecord] { collected.withLock { $0 } }
}

extension JSONValue {
    /// A YAML value as JSON: mappings, lists, and scalars by their YAML type (a quoted scalar is
    /// always a string).
    init(yaml node: Node) {
        switch node {
        case .mapping(let mapping):
            self = .object(
                JSONObject(
                    members: mapping.map {
                        JSONObject.Member(key: $0.key.scalar?.string ?? "", value: JSONValue(yaml: $0.value))
                    }
                )
            )
        case .sequence(let sequence):
            self = .array(sequence.map { JSONValue(yaml: $0) })
        case .scalar(let scalar):
            guard scalar.style == .plain else {
                self = .string(scalar.string)
                return
            }
            if let bool = Bool.construct(from: scalar) {
                self = .bool(bool)
            } else if scalar.string == "null" || scalar.string == "~" {
                self = .null
            } else if Int.construct(from: scalar) != nil || (Double.construct(from: scalar)?.isFinite ?? false),
                scalar.string.first.map({ $0.isNumber || $0 == "-" }) == true
            {
                self = .number(scalar.string)
            } else {
                self = .string(scalar.string)
            }
        case .alias:
            self = .null
        }
    }
}
