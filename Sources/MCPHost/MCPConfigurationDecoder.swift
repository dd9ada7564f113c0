internal import Foundation
public import GatehouseConfig
public import Yams

/// Reads the `mcp` section: settings of the tool plane and the upstream MCP servers.
public enum MCPConfigurationDecoder {
    /// Every key of the `mcp` section, by subsection (`mcp.servers[]` is one list item).
    public static let knownKeys: [String: [String]] = [
        "mcp": ["tool_pinning", "allowed_origins", "request_timeout", "servers"],
        "mcp.servers[]": [
            "name", "transport", "command", "args", "env", "cwd", "url", "headers", "bearer_token",
            "connect_timeout", "startup_timeout", "pinning", "tools",
        ],
        "mcp.servers[].tools": ["include", "exclude", "rename", "descriptions"],
    ]

    static func keys(_ section: String) -> [String] { knownKeys[section] ?? [] }

    /// What a stdio server inherits from the gateway's environment: enough to run an interpreter,
    /// never the gateway's own credentials. Anything else is given per server under `env`.
    static let inheritedEnvironment = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "SHELL"]

    public static func decode(_ node: Node, reader: inout ConfigReader) -> MCPHostConfiguration {
        var configuration = MCPHostConfiguration()
        guard let entries = reader.mapping(node, path: "mcp", allowedKeys: Self.keys("mcp")) else {
            return configuration
        }
        if let node = entries["tool_pinning"],
            let mode = reader.choice(node, path: "mcp.tool_pinning", options: ToolPinningMode.allCases.map(\.rawValue))
        {
            configuration.toolPinning = ToolPinningMode(rawValue: mode) ?? .warn
        }
        if let node = entries["allowed_origins"], let items = reader.sequence(node, path: "mcp.allowed_origins") {
            for (index, item) in items.enumerated() {
                guard let origin = reader.nonEmptyString(item, path: "mcp.allowed_origins[\(index)]") else { continue }
                configuration.allowedOrigins.append(origin.hasSuffix("/") ? String(origin.dropLast()) : origin)
            }
        }
        if let node = entries["request_timeout"],
            let value = reader.duration(
                node,
                path: "mcp.request_timeout",
                range: .milliseconds(100)...Duration.seconds(86_400),
                example: "60s"
            )
        {
            configuration.requestTimeout = value
        }
        if let node = entries["servers"] { configuration.servers = decodeServers(node, reader: &reader) }
        return configuration
    }

    private static func decodeServers(_ node: Node, reader: inout ConfigReader) -> [MCPServerDefinition] {
        guard let items = reader.sequence(node, path: "mcp.servers") else { return [] }
        var servers: [MCPServerDefinition] = []
        var names: Set<String> = []
        let environment = reader.environment
        for (index, item) in items.enumerated() {
            let path = "mcp.servers[\(index)]"
            guard
                let entries = reader.mapping(
                    item,
                    path: path,
                    allowedKeys: Self.keys("mcp.servers[]")
                )
            else { continue }
            guard let nameNode = entries["name"], let name = reader.nonEmptyString(nameNode, path: "\(path).name")
            else {
                if entries["name"] == nil { reader.report(item, path: "\(path).name", "every MCP server needs a name") }
                continue
            }
            if let problem = FederatedToolName.problem(withServerPrefix: name) {
                reader.report(nameNode, path: "\(path).name", "invalid server name '\(name)': \(problem)")
                continue
            }
            guard names.insert(name).inserted else {
                reader.report(
                    nameNode,
                    path: "\(path).name",
                    "MCP server '\(name)' is defined twice",
                    hint: "names must be unique"
                )
                continue
            }
            guard let transportNode = entries["transport"],
                let transportName = reader.choice(
                    transportNode,
                    path: "\(path).transport",
                    options: ["stdio", "streamable_http"]
                )
            else {
                if entries["transport"] == nil {
                    reader.report(
                        item,
                        path: "\(path).transport",
                        "every MCP server needs a transport",
                        hint: "stdio or streamable_http"
                    )
                }
                continue
            }
            let stdioKeys = ["command", "args", "env", "cwd"]
            let httpKeys = ["url", "headers", "bearer_token", "connect_timeout"]
            let foreign = transportName == "stdio" ? httpKeys : stdioKeys
            for key in foreign where entries[key] != nil {
                reader.report(
                    entries[key],
                    path: "\(path).\(key)",
                    "'\(key)' does not apply to transport \(transportName)"
                )
            }
            let transport: MCPServerDefinition.Transport
            if transportName == "stdio" {
                guard let commandNode = entries["command"],
                    let command = reader.nonEmptyString(commandNode, path: "\(path).command")
                else {
                    if entries["command"] == nil {
                        reader.report(
                            item,
                            path: "\(path).command",
                            "a stdio server needs a command",
                            hint: "for example python3"
                        )
                    }
                    continue
                }
                var arguments: [String] = []
                if let argsNode = entries["args"], let argNodes = reader.sequence(argsNode, path: "\(path).args") {
                    for (argIndex, argNode) in argNodes.enumerated() {
                        if let argument = reader.string(argNode, path: "\(path).args[\(argIndex)]") {
                            arguments.append(argument)
                        }
                    }
                }
                var childEnvironment: [String: String] = [:]
                for key in inheritedEnvironment { if let value = environment[key] { childEnvironment[key] = value } }
                for (key, value) in environment where key.hasPrefix("LC_") { childEnvironment[key] = value }
                if let envNode = entries["env"] {
                    if let mapping = envNode.mapping {
                        for (keyNode, valueNode) in mapping {
                            guard let key = keyNode.scalar?.string, !key.isEmpty, !key.contains("=") else {
                                reader.report(
                                    keyNode,
                                    path: "\(path).env",
                                    "environment variable names are plain words"
                                )
                                continue
                            }
                            if let value = reader.string(valueNode, path: "\(path).env.\(key)") {
                                childEnvironment[key] = value
                            }
                        }
                    } else {
                        reader.report(envNode, path: "\(path).env", "expected a mapping of variable names to values")
                    }
                }
                let workingDirectory = entries["cwd"].flatMap { reader.nonEmptyString($0, path: "\(path).cwd") }
                transport = .stdio(
                    StdioLaunch(
                        command: command,
                        arguments: arguments,
                        environment: childEnvironment,
                        workingDirectory: workingDirectory
                    )
                )
            } else {
                guard let urlNode = entries["url"],
                    let url = reader.baseURL(urlNode, path: "\(path).url", example: "http://127.0.0.1:8931/mcp")
                else {
                    if entries["url"] == nil {
                        reader.report(item, path: "\(path).url", "a streamable_http server needs a url")
                    }
                    continue
                }
                var headers: [HTTPHeaderField] = []
                if let headersNode = entries["headers"] {
                    if let mapping = headersNode.mapping {
                        for (keyNode, valueNode) in mapping {
                            guard let headerName = keyNode.scalar?.string, !headerName.isEmpty else { continue }
                            if let value = reader.string(valueNode, path: "\(path).headers.\(headerName)") {
                                headers.append(HTTPHeaderField(name: headerName, value: value))
                            }
                        }
                    } else {
                        reader.report(
                            headersNode,
                            path: "\(path).headers",
                            "expected a mapping of header names to values"
                        )
                    }
                }
                if let tokenNode = entries["bearer_token"],
                    let token = reader.nonEmptyString(tokenNode, path: "\(path).bearer_token")
                {
                    headers.append(HTTPHeaderField(name: "Authorization", value: "Bearer \(token)"))
                }
                var connectTimeout: Duration = .seconds(5)
                if let node = entries["connect_timeout"],
                    let value = reader.duration(
                        node,
                        path: "\(path).connect_timeout",
                        range: .milliseconds(100)...Duration.seconds(600),
                        example: "5s"
                    )
                {
                    connectTimeout = value
                }
                transport = .streamableHTTP(
                    StreamableHTTPEndpoint(url: url, headers: headers, connectTimeout: connectTimeout)
                )
            }
            var definition = MCPServerDefinition(name: name, transport: transport)
            if let node = entries["startup_timeout"],
                let value = reader.duration(
                    node,
                    path: "\(path).startup_timeout",
                    range: .milliseconds(100)...Duration.seconds(600),
                    example: "20s"
                )
            {
                definition.startupTimeout = value
            }
            if let node = entries["pinning"],
                let mode = reader.choice(
                    node,
                    path: "\(path).pinning",
                    options: ToolPinningMode.allCases.map(\.rawValue)
                )
            {
                definition.pinning = ToolPinningMode(rawValue: mode)
            }
            if let node = entries["tools"] {
                definition.curation = decodeCuration(node, path: "\(path).tools", reader: &reader)
            }
            servers.append(definition)
        }
        return servers
    }

    private static func decodeCuration(_ node: Node, path: String, reader: inout ConfigReader) -> ToolCuration {
        var curation = ToolCuration()
        guard
            let entries = reader.mapping(
                node,
                path: path,
                allowedKeys: Self.keys("mcp.servers[].tools")
            )
        else {
            return curation
        }
        func globs(_ key: String, reader: inout ConfigReader) -> [String] {
            guard let node = entries[key], let items = reader.sequence(node, path: "\(path).\(key)") else { return [] }
            return items.enumerated().compactMap {
                reader.nonEmptyString($0.element, path: "\(path).\(key)[\($0.offset)]")
            }
        }
        func names(_ key: String, reader: inout ConfigReader) -> [String: String] {
            guard let node = entries[key] else { return [:] }
            guard let mapping = node.mapping else {
                reader.report(node, path: "\(path).\(key)", "expected a mapping of upstream tool names to values")
                return [:]
            }
            var result: [String: String] = [:]
            for (keyNode, valueNode) in mapping {
                guard let tool = keyNode.scalar?.string else { continue }
                if let value = reader.nonEmptyString(valueNode, path: "\(path).\(key).\(tool)") { result[tool] = value }
            }
            return result
        }
        curation.include = globs("include", reader: &reader)
        curation.exclude = globs("exclude", reader: &reader)
        curation.rename = names("rename", reader: &reader)
        curation.descriptions = names("descriptions", reader: &reader)
        return curation
    }
}
