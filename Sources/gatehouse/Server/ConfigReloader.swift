internal import Foundation
internal import GatehouseConfig
internal import LLMProxy
internal import Logging
internal import Store

/// Re-reads the configuration source and swaps in the new snapshot if it is valid; an invalid one
/// leaves the running configuration untouched. One reload at a time.
actor ConfigReloader {
    enum Outcome: Sendable {
        /// Applied; `restartRequired` lists the changed keys that only take effect on restart.
        case applied(restartRequired: [String])
        case rejected([ConfigDiagnostic])
    }

    private let state: RuntimeState
    private let store: Store
    private let upstreamClient: UpstreamClient
    private let environment: [String: String]
    private let logLevel: SharedLogLevel
    /// `GATEHOUSE_LOG_LEVEL` wins over the file, on reload as at startup.
    private let logLevelOverride: Logger.Level?
    private let logger: Logger
    /// Runs after a valid configuration is swapped in (bearer-token keys follow `auth`).
    private let afterApply: @Sendable (GatehouseConfiguration) async -> Void

    init(
        state: RuntimeState,
        store: Store,
        upstreamClient: UpstreamClient,
        environment: [String: String],
        logLevel: SharedLogLevel,
        logLevelOverride: Logger.Level?,
        logger: Logger,
        afterApply: @escaping @Sendable (GatehouseConfiguration) async -> Void = { _ in }
    ) {
        self.afterApply = afterApply
        self.state = state
        self.store = store
        self.upstreamClient = upstreamClient
        self.environment = environment
        self.logLevel = logLevel
        self.logLevelOverride = logLevelOverride
        self.logger = logger
    }

    func reload() async -> Outcome {
        let current = state.snapshot
        switch current.source.load(environment: environment) {
        case .invalid(let diagnostics):
            logger.warning(
                "configuration reload rejected; the running configuration stays",
                metadata: ["source": "\(current.source)", "errors": "\(diagnostics.count)"]
            )
            await record(source: current.source, outcome: .rejected, errorCount: diagnostics.count)
            return .rejected(diagnostics)
        case .valid(var configuration):
            // The listener and the store are bound at startup; keep them and say so.
            var restartRequired: [String] = []
            if configuration.server != current.configuration.server {
                restartRequired.append(
                    contentsOf: Self.changedServerKeys(current.configuration.server, configuration.server)
                )
                let maxBodySize = configuration.server.maxBodySize
                configuration.server = current.configuration.server
                configuration.server.maxBodySize = maxBodySize  // enforced per request, so it applies now
            }
            if configuration.store != current.configuration.store {
                restartRequired.append("store")
                configuration.store = current.configuration.store
            }
            if configuration.mcp != current.configuration.mcp {
                // Upstream MCP servers are supervised from startup; a new set applies on restart.
                restartRequired.append("mcp")
                configuration.mcp = current.configuration.mcp
            }
            if configuration.llm.upstreamConnectTimeout != current.configuration.llm.upstreamConnectTimeout
                || configuration.llm.upstreamIdleTimeout != current.configuration.llm.upstreamIdleTimeout
                || configuration.llm.upstreamProxy != current.configuration.llm.upstreamProxy
            {
                // The pooled upstream client is built once; its settings apply on restart.
                restartRequired.append("upstream")
                configuration.llm.upstreamConnectTimeout = current.configuration.llm.upstreamConnectTimeout
                configuration.llm.upstreamIdleTimeout = current.configuration.llm.upstreamIdleTimeout
                configuration.llm.upstreamProxy = current.configuration.llm.upstreamProxy
            }
            state.replace(
                with: RuntimeSnapshot(
                    configuration: configuration,
                    source: current.source,
                    upstreamClient: upstreamClient
                )
            )
            logLevel.set(logLevelOverride ?? configuration.logging.level)
            if configuration.auth != current.configuration.auth || configuration.agents != current.configuration.agents
            {
                await afterApply(configuration)
            }
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "source": "\(current.source)", "agents": "\(configuration.agents.count)",
                    "restart_required": "\(restartRequired.joined(separator: ","))",
                ]
            )
            await record(source: current.source, outcome: .applied, errorCount: 0)
            return .applied(restartRequired: restartRequired)
        }
    }

    private func record(source: ConfigSource, outcome: ConfigLoadRecord.Outcome, errorCount: Int) async {
        do {
            try await store.recordConfigLoad(
                ConfigLoadRecord(
                    loadedAt: UTCTimestamp.now(),
                    source: source.description,
                    trigger: .reload,
                    outcome: outcome,
                    errorCount: errorCount
                )
            )
        } catch {
            logger.warning("could not record the reload in the store", metadata: ["error": "\(error)"])
        }
    }

    private static func changedServerKeys(_ old: ServerSettings, _ new: ServerSettings) -> [String] {
        var keys: [String] = []
        if old.listen != new.listen { keys.append("server.listen") }
        if old.maxHeaderSize != new.maxHeaderSize { keys.append("server.max_header_size") }
        if old.idleTimeout != new.idleTimeout { keys.append("server.idle_timeout") }
        if old.requestHeadTimeout != new.requestHeadTimeout { keys.append("server.request_head_timeout") }
        if old.requestBodyTimeout != new.requestBodyTimeout { keys.append("server.request_body_timeout") }
        if old.shutdownGracePeriod != new.shutdownGracePeriod { keys.append("server.shutdown_grace_period") }
        return keys
    }
}
