internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig
internal import GatehouseCore
internal import GatehouseJSON
internal import Policy

/// `gatehouse policy check|test|explain`: the policies directory, offline.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check policies, run their test cases, or explain one decision.",
        subcommands: [PolicyCheckCommand.self, PolicyTestCommand.self, PolicyExplainCommand.self]
    )
}

/// Which policies directory: `--dir`, or the configuration's `policy.directory`.
struct PolicyDirectoryOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The policies directory.", valueName: "dir"))
    var dir: String?

    @OptionGroup var configOption: ConfigOption

    func directory() throws -> String {
        if let dir { return dir }
        guard
            case .valid(let configuration) = configOption.source.load(environment: ProcessInfo.processInfo.environment)
        else {
            throw ValidationError("the configuration is invalid; run 'gatehouse validate' (or pass --dir)")
        }
        guard let directory = configuration.policy.directory else {
            throw ValidationError("the configuration names no policy.directory; pass --dir")
        }
        return directory
    }

    /// The compiled policies, or every problem printed and exit 1.
    func load() throws -> (String, PolicySet) {
        let directory = try directory()
        switch PolicyDirectory.load(directory: directory, environment: ProcessInfo.processInfo.environment) {
        case .valid(let policies):
            return (directory, policies)
        case .invalid(let diagnostics):
            printDiagnostics(diagnostics, subject: directory)
            throw ExitCode(1)
        }
    }
}

struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate every policy file; print each problem with file, line and key. Exits 1 if any."
    )

    @OptionGroup var options: PolicyDirectoryOption

    func run() throws {
        let (directory, policies) = try options.load()
        let agents = policies.governedAgents.joined(separator: ", ")
        print("\(directory): valid (\(policies.files.count) files; agents: \(agents.isEmpty ? "none" : agents))")
    }
}

struct PolicyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the test cases beside the policies (*.test.yaml); exits 1 if any case fails.",
        discussion: """
            Each file lists cases: an agent, one call (tool + arguments, list_tool, model, list_model \
            or server), optionally its content (prompt and completion for a model, result for a tool) \
            and session, and the expected decision (allow, deny, limit, or a guard's flag, redact or \
            block), optionally the deciding rule and a repeat count. The cases of one file run in \
            order against fresh limit counters and fresh session memory.
            """
    )

    @OptionGroup var options: PolicyDirectoryOption

    func run() async throws {
        let (directory, policies) = try options.load()
        let files = (try? PolicyTestSuite.testFiles(in: directory)) ?? []
        guard !files.isEmpty else {
            print("\(directory): no test files (*.test.yaml)")
            return
        }
        var passed = 0
        var failed = 0
        for name in files {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("\(path): cannot read the file\n".utf8))
                throw ExitCode(1)
            }
            let cases: [PolicyTestCase]
            switch PolicyTestSuite.decode(
                yaml: String(decoding: data, as: UTF8.self),
                file: path,
                environment: ProcessInfo.processInfo.environment
            ) {
            case .valid(let decoded): cases = decoded
            case .invalid(let diagnostics):
                printDiagnostics(diagnostics, subject: path)
                throw ExitCode(1)
            }
            for result in await PolicyTestSuite.run(cases, policies: policies) {
                let testCase = result.testCase
                if result.passed {
                    passed += 1
                    print("ok    \(testCase.file):\(testCase.line) \(testCase.name)")
                } else {
                    failed += 1
                    let expected =
                        testCase.expectedEffect.rawValue + (testCase.expectedRule.map { " by \($0)" } ?? "")
                    print("FAIL  \(testCase.file):\(testCase.line) \(testCase.name)")
                    print("      expected \(expected); got \(result.decision)")
                }
            }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}

struct PolicyExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Print the decision and the deciding rule for one call."
    )

    @OptionGroup var options: PolicyDirectoryOption

    @Option(name: .long, help: "The calling agent.")
    var agent: String

    @Option(name: .long, help: ArgumentHelp("A tools/call of this tool ({server}__{tool}).", valueName: "name"))
    var tool: String?

    @Option(name: .long, help: ArgumentHelp("The call's arguments, as JSON.", valueName: "json"))
    var arguments: String?

    @Option(name: .long, help: ArgumentHelp("Whether tools/list shows this tool.", valueName: "name"))
    var listTool: String?

    @Option(name: .long, help: ArgumentHelp("A completion on this model.", valueName: "name"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Prompts and resources of this server.", valueName: "name"))
    var server: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Decide it this many times and print the time one decision takes.", valueName: "count")
    )
    var `repeat`: Int = 1

    func validate() throws {
        let targets = [tool, listTool, model, server].compactMap { $0 }
        guard targets.count == 1 else {
            throw ValidationError("give exactly one of --tool, --list-tool, --model, --server")
        }
        if arguments != nil && tool == nil { throw ValidationError("--arguments goes with --tool") }
        if !(1...100_000_000).contains(`repeat`) { throw ValidationError("--repeat must be from 1 to 100000000") }
    }

    func run() throws {
        let (_, policies) = try options.load()
        let action: PolicyAction
        if let name = tool ?? listTool {
            guard let separator = name.range(of: "__") else {
                throw ValidationError("a tool is named {server}__{tool}")
            }
            let target = ToolTarget(server: String(name[..<separator.lowerBound]), name: name)
            if tool != nil {
                var parsed: JSONValue = .object(JSONObject())
                if let arguments {
                    guard let value = try? JSONValue.parse(arguments) else {
                        throw ValidationError("--arguments is not valid JSON")
                    }
                    parsed = value
                }
                action = .callTool(target, arguments: parsed)
            } else {
                action = .listTool(target)
            }
        } else if let model {
            action = .callModel(model)
        } else {
            action = .useServer(server ?? "")
        }
        let input = PolicyInput(identity: Identity(agentName: agent, method: .policyTest), action: action)
        let decision = policies.decide(input)
        print("\(decision.effect.rawValue)")
        print("rule:   \(decision.rule)")
        print("reason: \(decision.reason)")
        if `repeat` > 1 {
            let clock = ContinuousClock()
            var allowed = 0
            let elapsed = clock.measure {
                for _ in 0..<`repeat` where policies.decide(input).isAllowed { allowed += 1 }
            }
            let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            print(
                String(
                    format: "time:   %.3f µs per decision (mean of %d)",
                    nanoseconds / Double(`repeat`) / 1000,
                    `repeat`
                )
            )
            if allowed != 0 && allowed != `repeat` { print("note:   the decision changed between repetitions") }
        }
    }
}
