internal import Foundation
internal import GatehouseConfig

/// Where the configuration comes from; a reload reads the same source again.
enum ConfigSource: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case embeddedDefaults

    var description: String {
        switch self {
        case .file(let path): path
        case .embeddedDefaults: EmbeddedDefaults.sourceName
        }
    }

    /// Reads and validates the configuration, with every problem found.
    func load(environment: [String: String]) -> ConfigValidation<GatehouseConfiguration> {
        switch self {
        case .embeddedDefaults:
            return GatehouseConfiguration.decode(
                yaml: EmbeddedDefaults.yaml,
                file: description,
                environment: environment
            )
        case .file(let path):
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                let reason =
                    FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "does not exist"
                return .invalid([
                    ConfigDiagnostic(
                        file: path,
                        line: 1,
                        column: 1,
                        path: "",
                        message: "the configuration file \(reason)",
                        hint: "pass an existing YAML file with --config, or omit it to run on the embedded defaults"
                    )
                ])
            }
            return GatehouseConfiguration.decode(yaml: text, file: path, environment: environment)
        }
    }
}
