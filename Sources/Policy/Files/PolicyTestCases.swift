internal import Foundation
public import GatehouseConfig
internal import GatehouseCore
internal import GatehouseJSON
internal import Yams

/// Test cases written beside the policies (`*.test.yaml`), for `gatehouse policy test`: a call and
/// the decision it must get. The cases of one file run in order against one engine, so a sequence
/// can exercise limits (`repeat: 11` on a 10-a-minute tool expects `limit` on the eleventh).
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
    ]

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
                let expected = reader.choice(expectNode, path: "\(path).expect", options: ["allow", "deny", "limit"]),
                let effect = PolicyDecision.Effect(rawValue: expected)
            else {
                if entries["expect"] == nil {
                    reader.report(item, path: "\(path).expect", "a case says what it expects: allow, deny or limit")
                }
                continue
            }
            let repeatCount =
                entries["repeat"].flatMap {
                    reader.integer($0, path: "\(path).repeat", range: 1...100_000, example: "11")
                }
                ?? 1
            let name = entries["name"].flatMap { reader.string($0, path: "\(path).name") } ?? "\(targetKey) \(target)"
            cases.append(
                PolicyTestCase(
                    file: file,
                    line: item.mark?.line ?? 1,
                    name: name,
                    input: PolicyInput(identity: Identity(agentName: agent, method: .policyTest), action: action),
                    repeatCount: repeatCount,
                    expectedEffect: effect,
                    expectedRule: entries["rule"].flatMap { reader.nonEmptyString($0, path: "\(path).rule") }
                )
            )
        }
        return reader.diagnostics.isEmpty ? .valid(cases) : .invalid(reader.diagnostics)
    }

    /// Runs the cases of one file in order, against a fresh engine (fresh limit counters).
    public static func run(_ cases: [PolicyTestCase], policies: PolicySet) -> [PolicyTestResult] {
        let engine = PolicyEngine(policies)
        var held: [PolicyTicket] = []
        defer { withExtendedLifetime(held) {} }
        return cases.map { testCase in
            var last = PolicyDecision.noPolicy
            for _ in 0..<testCase.repeatCount {
                switch engine.evaluate(testCase.input, estimatedTokens: 0) {
                case .admitted(let ticket):
                    // Calls of a test stay "in flight", so concurrency limits can be tested too.
                    held.append(ticket)
                    last = ticket.decision
                case .refused(let decision):
                    last = decision
                }
            }
            return PolicyTestResult(testCase: testCase, decision: last)
        }
    }
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
