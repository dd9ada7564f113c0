internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig
internal import GatehouseCore
internal import Policy

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a configuration file and print every problem in it, with its line and key path.",
        discussion: "Exits 0 when the configuration is valid, 1 otherwise. Secret values are never printed."
    )

    @OptionGroup var configOption: ConfigOption

    func run() throws {
        let source = configOption.source
        let environment = ProcessInfo.processInfo.environment
        switch source.load(environment: environment) {
        case .valid(let configuration):
            let keyCount = configuration.agents.reduce(0) { $0 + $1.apiKeys.filter { !$0.isEmpty }.count }
            print("\(source): valid (\(configuration.agents.count) agents, \(keyCount) API keys)")
            if let directory = configuration.policy.directory {
                switch PolicyDirectory.load(directory: directory, environment: environment) {
                case .valid(let policies):
                    print(
                        "\(directory): valid (\(policies.files.count) files, \(policies.governedAgents.count) agents)"
                    )
                case .invalid(let diagnostics):
                    printDiagnostics(diagnostics, subject: directory)
                    throw ExitCode(1)
                }
            }
        case .invalid(let diagnostics):
            printDiagnostics(diagnostics, subject: source.description)
            throw ExitCode(1)
        }
    }
}
