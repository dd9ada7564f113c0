internal import Foundation
internal import GatehouseConfig
internal import GatehouseCore
internal import GatehouseTracing
internal import LLMProxy
internal import Logging
internal import MCPHost
internal import Policy
internal import Yams

/// The validated configuration: immutable values, every default applied, every `${VAR}` expanded.
/// Built only by `GatehouseConfiguration.decode`, which reports all problems at once.
struct GatehouseConfiguration: Sendable, Equatable {
    var server = ServerSettings()
    var store = StoreSettings()
    var logging = LoggingSettings()
    var admin = AdminSettings()
    var agents: [AgentDefinition] = []
    var llm = LLMProxyConfiguration()
    var mcp = MCPHostConfiguration()
    var policy = PolicySettings()
    var auth = AuthSettings()
    var tracing = TracingConfiguration()
}

struct ServerSettings: Sendable, Equatable {
    var listen = ListenAddress(host: "127.0.0.1", port: 4000)
    var maxBodySize = 4 << 20
    var maxHeaderSize = 32 << 10
    var idleTimeout: Duration = .seconds(60)
    var requestHeadTimeout: Duration = .seconds(10)
    var requestBodyTimeout: Duration = .seconds(30)
    var shutdownGracePeriod: Duration = .seconds(3)
}

struct StoreSettings: Sendable, Equatable {
    var path = ".gatehouse/gatehouse.db"
    var writeQueueCapacity = 1024
}

enum LogFormat: String, Sendable, Equatable, CaseIterable {
    case text, json
}

struct LoggingSettings: Sendable, Equatable {
    var level: Logger.Level = .info
    var format: LogFormat = .text
}

struct AdminSettings: Sendable, Equatable {
    /// Empty means the admin API is closed: every call answers 401.
    var token = Secret("")
}

extension GatehouseConfiguration {
    /// Every key the file may contain, by section (`agents[]` is one list item). The decoder
    /// accepts exactly these, and a test holds `docs/gatehouse.schema.json` to the same list.
    static let knownKeys: [String: [String]] = [
        "": [
            "server", "store", "logging", "admin", "agents", "providers", "models", "prices", "upstream", "mcp",
            "policy", "auth", "tracing",
        ],
        "server": [
            "listen", "max_body_size", "max_header_size", "idle_timeout", "request_head_timeout",
            "request_body_timeout", "shutdown_grace_period",
        ],
        "store": ["path", "write_queue_capacity"],
        "logging": ["level", "format"],
        "admin": ["token"],
        "agents[]": ["name", "api_keys"],
        "policy": PolicySettings.knownKeys,
        "auth": AuthSettings.knownKeys,
        "auth.jwt": AuthSettings.jwtKeys,
    ].merging(LLMConfigurationDecoder.knownKeys) { own, _ in own }.merging(MCPConfigurationDecoder.knownKeys) {
        own,
        _ in own
    }.merging(TracingConfigurationDecoder.knownKeys) { own, _ in own }

    static func keys(_ section: String) -> [String] { knownKeys[section] ?? [] }

    /// Parses and validates YAML text. `file` names the source in diagnostics.
    static func decode(yaml: String, file: String, environment: [String: String]) -> ConfigValidation<Self> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            return .invalid([Self.diagnostic(for: error, file: file)])
        } catch {
            return .invalid([ConfigDiagnostic(file: file, line: 1, column: 1, path: "", message: "\(error)", hint: nil)]
            )
        }
        var reader = ConfigReader(file: file, environment: environment)
        var configuration = GatehouseConfiguration()
        guard let root else { return .valid(configuration) }  // an empty file means all defaults
        guard let sections = reader.mapping(root, path: "", allowedKeys: keys(""))
        else { return .invalid(reader.diagnostics) }

        if let node = sections["server"] { configuration.server = decodeServer(node, reader: &reader) }
        if let node = sections["store"] { configuration.store = decodeStore(node, reader: &reader) }
        if let node = sections["logging"] { configuration.logging = decodeLogging(node, reader: &reader) }
        if let node = sections["admin"] { configuration.admin = decodeAdmin(node, reader: &reader) }
        if let node = sections["agents"] { configuration.agents = decodeAgents(node, reader: &reader) }
        configuration.llm = LLMConfigurationDecoder.decode(sections, reader: &reader)
        if let node = sections["mcp"] { configuration.mcp = MCPConfigurationDecoder.decode(node, reader: &reader) }
        if let node = sections["policy"] { configuration.policy = PolicySettings.decode(node, reader: &reader) }
        if let node = sections["auth"] { configuration.auth = AuthSettings.decode(node, reader: &reader) }
        configuration.tracing = TracingConfigurationDecoder.decode(
            sections["tracing"],
            environment: environment,
            reader: &reader
        )

        // Sections are read in a fixed order; report in the order of the file.
        let diagnostics = reader.diagnostics.enumerated().sorted { left, right in
            (left.element.line, left.element.column, left.offset) < (
                right.element.line, right.element.column, right.offset
            )
        }.map(\.element)
        return diagnostics.isEmpty ? .valid(configuration) : .invalid(diagnostics)
    }

    private static func decodeServer(_ node: Node, reader: inout ConfigReader) -> ServerSettings {
        var settings = ServerSettings()
        guard let entries = reader.mapping(node, path: "server", allowedKeys: keys("server")) else { return settings }
        if let node = entries["listen"], let text = reader.nonEmptyString(node, path: "server.listen") {
            if let address = ListenAddress.parse(text) {
                settings.listen = address
            } else {
                reader.report(
                    node,
                    path: "server.listen",
                    "expected HOST:PORT",
                    hint: "for example 127.0.0.1:4000 or [::1]:4000"
                )
            }
        }
        if let node = entries["max_body_size"],
            let size = reader.byteSize(node, path: "server.max_body_size", range: 1024...(1 << 30), example: "4MiB")
        {
            settings.maxBodySize = size
        }
        if let node = entries["max_header_size"],
            let size = reader.byteSize(node, path: "server.max_header_size", range: 1024...(1 << 20), example: "32KiB")
        {
            settings.maxHeaderSize = size
        }
        let timeoutRange: ClosedRange<Duration> = .milliseconds(100)...Duration.seconds(86_400)
        if let node = entries["idle_timeout"],
            let value = reader.duration(node, path: "server.idle_timeout", range: timeoutRange, example: "60s")
        {
            settings.idleTimeout = value
        }
        if let node = entries["request_head_timeout"],
            let value = reader.duration(node, path: "server.request_head_timeout", range: timeoutRange, example: "10s")
        {
            settings.requestHeadTimeout = value
        }
        if let node = entries["request_body_timeout"],
            let value = reader.duration(node, path: "server.request_body_timeout", range: timeoutRange, example: "30s")
        {
            settings.requestBodyTimeout = value
        }
        if let node = entries["shutdown_grace_period"],
            let value = reader.duration(
                node,
                path: "server.shutdown_grace_period",
                range: .zero...Duration.seconds(3600),
                example: "3s"
            )
        {
            settings.shutdownGracePeriod = value
        }
        return settings
    }

    private static func decodeStore(_ node: Node, reader: inout ConfigReader) -> StoreSettings {
        var settings = StoreSettings()
        guard let entries = reader.mapping(node, path: "store", allowedKeys: keys("store")) else {
            return settings
        }
        if let node = entries["path"], let path = reader.nonEmptyString(node, path: "store.path") {
            settings.path = path
        }
        if let node = entries["write_queue_capacity"],
            let capacity = reader.integer(
                node,
                path: "store.write_queue_capacity",
                range: 1...1_000_000,
                example: "1024"
            )
        {
            settings.writeQueueCapacity = capacity
        }
        return settings
    }

    private static func decodeLogging(_ node: Node, reader: inout ConfigReader) -> LoggingSettings {
        var settings = LoggingSettings()
        guard let entries = reader.mapping(node, path: "logging", allowedKeys: keys("logging")) else { return settings }
        if let node = entries["level"],
            let level = reader.choice(node, path: "logging.level", options: Logger.Level.allCases.map(\.rawValue))
        {
            settings.level = Logger.Level(rawValue: level) ?? .info
        }
        if let node = entries["format"],
            let format = reader.choice(node, path: "logging.format", options: LogFormat.allCases.map(\.rawValue))
        {
            settings.format = LogFormat(rawValue: format) ?? .text
        }
        return settings
    }

    private static func decodeAdmin(_ node: Node, reader: inout ConfigReader) -> AdminSettings {
        var settings = AdminSettings()
        guard let entries = reader.mapping(node, path: "admin", allowedKeys: keys("admin")) else { return settings }
        if let node = entries["token"], let token = reader.secret(node, path: "admin.token") {
            settings.token = token
        }
        return settings
    }

    private static func decodeAgents(_ node: Node, reader: inout ConfigReader) -> [AgentDefinition] {
        guard let items = reader.sequence(node, path: "agents") else { return [] }
        var agents: [AgentDefinition] = []
        var seenNames: Set<String> = []
        for (index, item) in items.enumerated() {
            let path = "agents[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: keys("agents[]")) else { continue }
            guard let nameNode = entries["name"] else {
                reader.report(item, path: "\(path).name", "every agent needs a name", hint: "add 'name: my-agent'")
                continue
            }
            guard let name = reader.nonEmptyString(nameNode, path: "\(path).name") else { continue }
            guard seenNames.insert(name).inserted else {
                reader.report(
                    nameNode,
                    path: "\(path).name",
                    "agent '\(name)' is defined twice",
                    hint: "agent names must be unique"
                )
                continue
            }
            var keys: [Secret] = []
            if let keysNode = entries["api_keys"], let keyNodes = reader.sequence(keysNode, path: "\(path).api_keys") {
                for (keyIndex, keyNode) in keyNodes.enumerated() {
                    if let key = reader.secret(keyNode, path: "\(path).api_keys[\(keyIndex)]") { keys.append(key) }
                }
            }
            agents.append(AgentDefinition(name: name, apiKeys: keys))
        }
        return agents
    }

    private static func diagnostic(for error: YamlError, file: String) -> ConfigDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let detail = context.map { "\($0.text) \(problem)" } ?? problem
            return ConfigDiagnostic(
                file: file,
                line: mark.line,
                column: mark.column,
                path: "",
                message: "invalid YAML: \(detail)",
                hint: nil
            )
        default:
            return ConfigDiagnostic(
                file: file,
                line: 1,
                column: 1,
                path: "",
                message: "invalid YAML: \(error)",
                hint: nil
            )
        }
    }
}
