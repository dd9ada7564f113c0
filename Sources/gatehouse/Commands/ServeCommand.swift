internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig
internal import GatehouseCore
internal import GatehouseTracing
internal import Hummingbird
internal import LLMProxy
internal import Logging
internal import MCPHost
internal import NIOCore
internal import NIOPosix
internal import Policy
internal import Prometheus
internal import ServiceLifecycle
internal import Store
internal import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Start the gateway.",
        discussion: """
            Without --config, runs on the embedded defaults: listens on 127.0.0.1:4000 and keeps its \
            store under ./.gatehouse/. SIGINT or SIGTERM stops it gracefully.
            """
    )

    @OptionGroup var configOption: ConfigOption

    @Option(name: .long, help: ArgumentHelp("Listen on HOST:PORT instead of server.listen.", valueName: "host:port"))
    var listen: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Log line format: text or json (overrides logging.format).", valueName: "format")
    )
    var logFormat: String?

    func validate() throws {
        if let listen, ListenAddress.parse(listen) == nil {
            throw ValidationError("--listen must be HOST:PORT, for example 127.0.0.1:4000 or [::1]:4000")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json")
        }
    }

    func run() async throws {
        EventLoopSizing.applyAffinity()
        let environment = ProcessInfo.processInfo.environment
        let source = configOption.source
        var configuration: GatehouseConfiguration
        switch source.load(environment: environment) {
        case .valid(let loaded):
            configuration = loaded
        case .invalid(let diagnostics):
            for diagnostic in diagnostics {
                FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
            }
            FileHandle.standardError.write(Data("\(source): not starting; run 'gatehouse validate' for details\n".utf8))
            throw ExitCode(1)
        }
        if let listen, let address = ListenAddress.parse(listen) { configuration.server.listen = address }
        if let logFormat, let format = LogFormat(rawValue: logFormat) { configuration.logging.format = format }

        let levelOverride = environment["GATEHOUSE_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) }
        let logLevel = SharedLogLevel(levelOverride ?? configuration.logging.level)
        let format = configuration.logging.format
        LoggingSystem.bootstrap { label in GatehouseLogHandler(label: label, format: format, sharedLevel: logLevel) }
        let logger = Logger(label: "gatehouse")
        if let raw = environment["GATEHOUSE_LOG_LEVEL"], levelOverride == nil {
            logger.warning(
                "GATEHOUSE_LOG_LEVEL is not a log level; using the configured one",
                metadata: ["value": "\(raw)"]
            )
        }

        let store: Store
        do {
            store = try await Store.open(
                path: configuration.store.path,
                writeQueueCapacity: configuration.store.writeQueueCapacity,
                logger: logger
            )
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }

        let runner = GatewayRunner(
            configuration: configuration,
            source: source,
            store: store,
            environment: environment,
            logLevel: logLevel,
            logLevelOverride: levelOverride,
            logger: logger
        )
        try await runner.run()
    }
}

/// Wires the modules into one service group and runs it until SIGINT/SIGTERM.
struct GatewayRunner {
    let configuration: GatehouseConfiguration
    let source: ConfigSource
    let store: Store
    let environment: [String: String]
    let logLevel: SharedLogLevel
    let logLevelOverride: Logger.Level?
    let logger: Logger

    func run() async throws {
        let upstreamClient = UpstreamClient(configuration: configuration.llm)
        let state = RuntimeState(
            RuntimeSnapshot(configuration: configuration, source: source, upstreamClient: upstreamClient)
        )
        let bearerTokens = BearerTokens(logger: logger)
        await bearerTokens.apply(configuration)
        let reloader = ConfigReloader(
            state: state,
            store: store,
            upstreamClient: upstreamClient,
            environment: environment,
            logLevel: logLevel,
            logLevelOverride: logLevelOverride,
            logger: logger,
            afterApply: { await bearerTokens.apply($0) }
        )
        let auditLog = AuditLog(capacity: configuration.store.writeQueueCapacity * 10)
        let budgetSpend = BudgetSpend()
        let now = Date()
        for period in BudgetPeriod.allCases {
            do {
                let since = UTCTimestamp.string(from: period.start(of: now))
                budgetSpend.seed(period: period, at: now, picoUSDByAgent: try await store.llmSpendByAgent(since: since))
            } catch {
                logger.critical("cannot start: the spend behind budgets cannot be read from the store: \(error)")
                await upstreamClient.shutdown()
                await store.close()
                throw ExitCode(1)
            }
        }
        let policyWatcher = PolicyWatcher(
            engine: PolicyEngine(auditSink: auditLog, spend: budgetSpend, webhookClient: WebhookGuardClient()),
            state: state,
            environment: environment,
            logger: logger
        )
        let policyErrors = policyWatcher.loadInitial()
        guard policyErrors.isEmpty else {
            printDiagnostics(policyErrors, subject: configuration.policy.directory ?? "policies")
            logger.critical("cannot start: the policies are invalid", metadata: ["errors": "\(policyErrors.count)"])
            await upstreamClient.shutdown()
            await store.close()
            throw ExitCode(1)
        }
        let managedKeys = ManagedKeyRing()
        do {
            _ = try await ManagedKeySync.loadInitial(into: managedKeys, from: store)
        } catch {
            logger.critical("cannot start: the managed API keys cannot be read from the store: \(error)")
            await upstreamClient.shutdown()
            await store.close()
            throw ExitCode(1)
        }
        let registry = PrometheusCollectorRegistry()
        let seed: [LLMUsageTotals]
        do {
            seed = try await store.llmUsageTotals()
        } catch {
            logger.warning(
                "could not read past LLM usage from the store; totals start at zero",
                metadata: ["error": "\(error)"]
            )
            seed = []
        }
        let ledger = UsageLedger(
            seed: seed.map {
                SpendTotal(
                    agent: $0.agent,
                    model: $0.model,
                    requests: $0.requests,
                    inputTokens: $0.inputTokens,
                    outputTokens: $0.outputTokens,
                    costPicoUSD: $0.costPicoUSD
                )
            },
            metrics: PrometheusMetricsFactory(registry: registry),
            budgetSpend: budgetSpend
        )
        do {
            try await store.recordConfigLoad(
                ConfigLoadRecord(
                    loadedAt: UTCTimestamp.now(),
                    source: source.description,
                    trigger: .startup,
                    outcome: .applied,
                    errorCount: 0
                )
            )
        } catch {
            logger.warning("could not record the startup configuration in the store", metadata: ["error": "\(error)"])
        }

        logger.info(
            "configuration loaded",
            metadata: ["source": "\(source)", "agents": "\(configuration.agents.count)", "store": "\(store.path)"]
        )
        if state.snapshot.authenticator.activeKeyCount == 0 {
            logger.warning("no agent API key is set: every proxy request (/v1, /mcp) will be refused with 401")
        }
        for provider in configuration.llm.providers {
            logger.info(
                "upstream provider",
                metadata: ["provider": "\(provider.name)", "url": "\(DisplayURL.redacted(provider.baseURL))"]
            )
        }
        for model in configuration.llm.models {
            let targets = model.deployments.map { "\($0.provider)/\($0.model)" }.joined(separator: ",")
            logger.info("model route", metadata: ["model": "\(model.name)", "deployments": "\(targets)"])
        }
        if configuration.admin.token.isEmpty {
            logger.notice("no admin token is set (admin.token): the admin API answers 401")
        }

        let tracing = TracingRuntime.make(
            configuration: configuration.tracing,
            store: store,
            metrics: PrometheusMetricsFactory(registry: registry),
            logger: logger
        )
        let federation = MCPFederation(
            configuration: configuration.mcp,
            pinStore: StoreToolPinStore(store: store),
            group: MultiThreadedEventLoopGroup.singleton,
            metrics: PrometheusMetricsFactory(registry: registry),
            logger: logger,
            policy: policyWatcher.engine,
            tracer: tracing.recorder
        )
        for server in configuration.mcp.servers {
            logger.info(
                "MCP server",
                metadata: ["mcp_server": "\(server.name)", "transport": "\(server.transport.name)"]
            )
        }
        let application = GatehouseServer.makeApplication(
            state: state,
            store: store,
            reloader: reloader,
            ledger: ledger,
            federation: federation,
            policyWatcher: policyWatcher,
            managedKeys: managedKeys,
            bearerTokens: bearerTokens,
            registry: registry,
            tracer: tracing.recorder,
            logger: logger,
            onListening: { [logger] address in
                let host = configuration.server.listen.host
                let shownHost = host.contains(":") ? "[\(host)]" : host
                let port = address?.port.map(String.init) ?? "?"
                logger.info("listening", metadata: ["url": "http://\(shownHost):\(port)"])
            }
        )
        let plan = ShutdownPlan(
            gracePeriod: configuration.server.shutdownGracePeriod,
            mcpServerCount: configuration.mcp.servers.count,
            exportsTraces: !tracing.exporters.isEmpty
        )
        let watchdog = ShutdownWatchdog(plan: plan, logger: logger) { MCPFederation.killServerProcessesNow() }
        // Started in this order and stopped in the reverse one, each after the previous has
        // finished: the shutdown is armed, session streams end, the HTTP server drains, the MCP
        // servers stop, the last usage rows are written, the store closes.
        // Started after the row writers and stopped before them: the sweeper ends the open runs
        // once the HTTP server has drained, the pipeline encodes what it holds, then the
        // exporters and the trace store flush.
        var tracingServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let writer = tracing.storeWriter {
            tracingServices.append(
                .init(
                    service: watchdog.track(
                        TraceStoreWriterService(writer: writer, logger: logger),
                        named: "trace-store"
                    )
                )
            )
        }
        if let client = tracing.client {
            let service = SpanExportService(
                exporters: tracing.exporters,
                client: client,
                metrics: PrometheusMetricsFactory(registry: registry),
                logger: logger
            )
            tracingServices.append(.init(service: watchdog.track(service, named: "trace-export")))
        }
        if let pipeline = tracing.pipeline {
            let service = SpanPipelineService(pipeline: pipeline, metrics: PrometheusMetricsFactory(registry: registry))
            tracingServices.append(.init(service: watchdog.track(service, named: "trace-encode")))
        }
        if let tracer = tracing.tracer {
            tracingServices.append(.init(service: watchdog.track(RunSweeper(tracer: tracer), named: "trace-runs")))
        }
        let groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: watchdog.track(StoreService(store: store), named: "store")),
                .init(
                    service: watchdog.track(
                        RowWriter(queue: ledger.rows, what: "LLM usage", logger: logger) { rows in
                            try await store.recordLLMUsage(rows)
                        },
                        named: "usage"
                    )
                ),
                .init(
                    service: watchdog.track(
                        RowWriter(queue: auditLog.rows, what: "policy decisions", logger: logger) { rows in
                            try await store.recordPolicyDecisions(rows)
                        },
                        named: "audit"
                    )
                ),
            ] + tracingServices + [
                .init(service: watchdog.track(MCPSupervisorService(federation: federation), named: "mcp-servers")),
                .init(service: PolicyWatcherService(watcher: policyWatcher)),
                .init(service: ManagedKeySync(ring: managedKeys, store: store, logger: logger)),
                .init(
                    service: watchdog.track(
                        DrainingHTTPServer(
                            application: application,
                            plan: plan,
                            onInterrupt: {
                                federation.interruptCalls()
                                await upstreamClient.interrupt()
                            },
                            logger: logger
                        ),
                        named: "http"
                    )
                ),
                .init(service: watchdog.track(MCPSessionCloser(federation: federation), named: "mcp-sessions")),
                .init(service: ShutdownStart(watchdog: watchdog)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // No group-level time limits: each service bounds its own shutdown (`ShutdownPlan`), and
        // the watchdog ends the process with status 1 if they overrun together. (The group's
        // cancellation limit would end it with a trap instead.)
        var failure: (any Error)?
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            failure = error
        }
        await upstreamClient.shutdown()
        await store.close()
        watchdog.disarm()
        if let failure {
            logger.error("stopped after a failure", metadata: ["error": "\(failure)"])
            throw failure
        }
        logger.info("stopped")
    }
}

/// Keeps the store open while the gateway runs, and closes it (flushing the WAL) after the
/// usage writer has written the last rows: services stop in reverse order, and this one is first.
struct StoreService: Service {
    let store: Store

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}
