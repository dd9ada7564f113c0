internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig

@main
struct GatehouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse",
        abstract: "A gateway for AI agents: governs what agents ask models and what they do with tools.",
        version: GatehouseVersion.current,
        subcommands: [
            ServeCommand.self, ValidateCommand.self, PolicyCommand.self, KeysCommand.self, TracesCommand.self,
        ],
        defaultSubcommand: nil
    )
}

enum GatehouseVersion {
    static let current = "0.1.0"
}

/// `--config FILE`, shared by the subcommands that read a configuration.
struct ConfigOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The YAML configuration file. Without it, the embedded defaults (samples/gatehouse.yaml) apply.",
            valueName: "file"
        )
    )
    var config: String?

    var source: ConfigSource { config.map(ConfigSource.file) ?? .embeddedDefaults }
}

/// Prints every problem on stderr, then how many there were in `subject`.
func printDiagnostics(_ diagnostics: [ConfigDiagnostic], subject: String) {
    for diagnostic in diagnostics {
        FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
    }
    let noun = diagnostics.count == 1 ? "error" : "errors"
    FileHandle.standardError.write(Data("\(subject): \(diagnostics.count) \(noun)\n".utf8))
}
