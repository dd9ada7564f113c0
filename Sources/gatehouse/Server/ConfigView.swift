internal import GatehouseCore
internal import Logging
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

    let source: String
    let server: Server
    let store: Store
    let logging: Logging
    let admin: Admin
    let agents: [Agent]

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
    }

    private static func redacted(_ secret: Secret) -> String {
        secret.isEmpty ? "" : Secret.redactedPlaceholder
    }
}
