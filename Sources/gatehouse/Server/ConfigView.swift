internal import GatehouseConfig
internal import GatehouseCore
internal import GatehouseTracing
internal import LLMProxy
internal import Logging
internal import MCPHost
internal import Policy

/// The effective configuration as `/admin/config` shows it: the same keys as the YAML, defaults
/// filled in, every secret replaced by `[redacted]` (or `""` when it is empty, so an operator can
/// see that a key is missing without seeing any that is set).
struct ConfigView: Encodable {
    struct Server: Encodable {
        let listen: String
        let max_body_size: Int
        let max_header_size: Int
        let idle_timeout: String
        let request_head_timeout: String
        let request_body_timeout: String
        let shutdown_grace_period: String
    }
    struct Store: Encodable {
        let path: String
        let write_queue_capacity: Int
    }
    struct Logging: Encodable {
        let level: String
        let format: String
    }
    struct Admin: Encodable {
        let token: String
    }
    struct Agent: Encodable {
        let name: String
        let api_keys: [String]
    }

    struct Provider: Encodable {
        let name: String
        let type: String
        let base_url: String
        let api_key: String
        let api_version: String?
        let anthropic_version: String?
        let headers: [String: String]
    }
    struct Deployment: Encodable {
        let provider: String
        let model: String
        let weight: Int
        let priority: Int
        let first_byte_timeout: String
        let cooldown: String
    }
    struct Model: Encodable {
        let name: String
        let aliases: [String]
        let deployments: [Deployment]
        let retries: Int
        let default_max_tokens: Int
    }

    struct MCP: Encodable {
        struct Server: Encodable {
            let name: String
            let transport: String
            let command: String?
            let args: [String]?
            /// Names only: values may be credentials.
            let env: [String]?
            let cwd: String?
            let url: String?
            /// Names only: values may be credentials.
            let headers: [String]?
            let startup_timeout: String
            let pinning: String?
            let tools: Tools
        }
        struct Tools: Encodable {
            let include: [String]
            let exclude: [String]
            let rename: [String: String]
            let descriptions: [String: String]
        }
        let tool_pinning: String
        let allowed_origins: [String]
        let request_timeout: String
        let servers: [Server]
    }

    struct Tracing: Encodable {
        struct TraceStore: Encodable {
            let enabled: Bool
            let retention: String
            let max_spans: Int
        }
        struct Exporter: Encodable {
            let type: String
            let name: String
            let url: String
            /// Names only: their values carry credentials.
            let headers: [String]
            let queue_size: Int
            let batch_size: Int
            let flush_interval: String
        }
        let enabled: Bool
        let run_idle_window: String
        let service_name: String
        let store: TraceStore
        let exporters: [Exporter]
        let disabled_exporters: [String]
    }

    let source: String
    let server: Server
    let store: Store
    let logging: Logging
    let admin: Admin
    let agents: [Agent]
    let providers: [Provider]
    let models: [Model]
    let mcp: MCP
    let tracing: Tracing

    init(_ configuration: GatehouseConfiguration, source: ConfigSource) {
        let server = configuration.server
        self.source = source.description
        self.server = Server(
            listen: server.listen.description,
            max_body_size: server.maxBodySize,
            max_header_size: server.maxHeaderSize,
            idle_timeout: DurationSyntax.format(server.idleTimeout),
            request_head_timeout: DurationSyntax.format(server.requestHeadTimeout),
            request_body_timeout: DurationSyntax.format(server.requestBodyTimeout),
            shutdown_grace_period: DurationSyntax.format(server.shutdownGracePeriod)
        )
        self.store = Store(path: configuration.store.path, write_queue_capacity: configuration.store.writeQueueCapacity)
        self.logging = Logging(
            level: configuration.logging.level.rawValue,
            format: configuration.logging.format.rawValue
        )
        self.admin = Admin(token: Self.redacted(configuration.admin.token))
        self.agents = configuration.agents.map { Agent(name: $0.name, api_keys: $0.apiKeys.map(Self.redacted)) }
        self.providers = configuration.llm.providers.map { provider in
            var type = "openai"
            var apiVersion: String?
            var anthropicVersion: String?
            switch provider.kind {
            case .openAI: break
            case .azure(let version):
                type = "azure"
                apiVersion = version
            case .anthropic(let version):
                type = "anthropic"
                anthropicVersion = version
            }
            return Provider(
                name: provider.name,
                type: type,
                base_url: DisplayURL.redacted(provider.baseURL),
                api_key: Self.redacted(provider.apiKey),
                api_version: apiVersion,
                anthropic_version: anthropicVersion,
                headers: Dictionary(
                    provider.headers.map { ($0.name, Self.redacted($0.value)) },
                    uniquingKeysWith: { $1 }
                )
            )
        }
        self.models = configuration.llm.models.map { model in
            Model(
                name: model.name,
                aliases: model.aliases,
                deployments: model.deployments.map {
                    Deployment(
                        provider: $0.provider,
                        model: $0.model,
                        weight: $0.weight,
                        priority: $0.priority,
                        first_byte_timeout: DurationSyntax.format($0.firstByteTimeout),
                        cooldown: DurationSyntax.format($0.cooldown)
                    )
                },
                retries: model.retries,
                default_max_tokens: model.defaultMaxTokens
            )
        }
        self.mcp = Self.mcpView(configuration.mcp)
        let tracing = configuration.tracing
        self.tracing = Tracing(
            enabled: tracing.isEnabled,
            run_idle_window: DurationSyntax.format(tracing.runIdleWindow),
            service_name: tracing.serviceName,
            store: Tracing.TraceStore(
                enabled: tracing.store.isEnabled,
                retention: DurationSyntax.format(tracing.store.retention),
                max_spans: tracing.store.maximumSpans
            ),
            exporters: tracing.exporters.map {
                Tracing.Exporter(
                    type: $0.kind.rawValue,
                    name: $0.name,
                    url: DisplayURL.redacted($0.tracesURL),
                    headers: $0.headers.map(\.name),
                    queue_size: $0.queueCapacity,
                    batch_size: $0.batchSize,
                    flush_interval: DurationSyntax.format($0.flushInterval)
                )
            },
            disabled_exporters: tracing.disabledExporters
        )
    }

    private static func mcpView(_ configuration: MCPHostConfiguration) -> MCP {
        MCP(
            tool_pinning: configuration.toolPinning.rawValue,
            allowed_origins: configuration.allowedOrigins,
            request_timeout: DurationSyntax.format(configuration.requestTimeout),
            servers: configuration.servers.map { server in
                var command: String?
                var args: [String]?
                var env: [String]?
                var cwd: String?
                var url: String?
                var headers: [String]?
                switch server.transport {
                case .stdio(let launch):
                    command = launch.command
                    args = launch.arguments
                    env = launch.environment.keys.sorted()
                    cwd = launch.workingDirectory
                case .streamableHTTP(let endpoint):
                    url = DisplayURL.redacted(endpoint.url)
                    headers = endpoint.headers.map(\.name)
                }
                return MCP.Server(
                    name: server.name,
                    transport: server.transport.name,
                    command: command,
                    args: args,
                    env: env,
                    cwd: cwd,
                    url: url,
                    headers: headers,
                    startup_timeout: DurationSyntax.format(server.startupTimeout),
                    pinning: server.pinning?.rawValue,
                    tools: MCP.Tools(
                        include: server.curation.include,
                        exclude: server.curation.exclude,
                        rename: server.curation.rename,
                        descriptions: server.curation.descriptions
                    )
                )
            }
        )
    }

    private static func redacted(_ secret: Secret) -> String {
        secret.isEmpty ? "" : Secret.redactedPlaceholder
    }
}
