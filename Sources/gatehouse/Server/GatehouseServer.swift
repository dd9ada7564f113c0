internal import GatehouseConfig
internal import GatehouseTracing
internal import HTTPTypes
internal import Hummingbird
internal import HummingbirdCore
internal import LLMProxy
internal import Logging
internal import MCPHost
internal import NIOCore
internal import Policy
internal import Prometheus
internal import Store

/// Builds the HTTP application: the same function serves `gatehouse serve` and the in-process tests.
///
/// Middleware order (outermost first): metrics → request id → error rendering → body limit →
/// agent authentication → routes. Errors become dialect-shaped responses before the request id
/// and metrics see them, so every response carries `x-request-id` and is counted with its status.
enum GatehouseServer {
    static func makeApplication(
        state: RuntimeState,
        store: Store,
        reloader: ConfigReloader,
        ledger: UsageLedger,
        federation: MCPFederation,
        policyWatcher: PolicyWatcher,
        managedKeys: ManagedKeyRing,
        bearerTokens: BearerTokens,
        registry: PrometheusCollectorRegistry,
        tracer: any TraceRecorder = NoTraceRecorder(),
        logger: Logger,
        onListening: @escaping @Sendable (SocketAddress?) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: GatehouseRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(factory: PrometheusMetricsFactory(registry: registry)))
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ErrorRenderingMiddleware())
        router.add(middleware: BodyLimitMiddleware(state: state))
        router.add(
            middleware: AgentAuthenticationMiddleware(
                state: state,
                managedKeys: managedKeys,
                bearerTokens: bearerTokens
            )
        )
        OperationalRoutes(state: state, store: store, registry: registry).register(on: router)
        ProtectedResourceRoutes(state: state).register(on: router)
        AdminRoutes(
            state: state,
            store: store,
            reloader: reloader,
            ledger: ledger,
            federation: federation,
            policyWatcher: policyWatcher,
            managedKeys: managedKeys
        ).register(on: router)
        LLMProxyService(
            runtime: { state.snapshot.llm },
            usageSink: ledger,
            logger: logger,
            shutdownAllowance: ShutdownPlan.interruptAfter(
                gracePeriod: state.snapshot.configuration.server.shutdownGracePeriod
            ),
            policy: policyWatcher.engine,
            tracer: tracer
        ).register(on: router)
        MCPRoutes(federation: federation, logger: logger).register(on: router)

        let server = state.snapshot.configuration.server
        var http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                SlowClientGuard(
                    headTimeout: TimeAmount(server.requestHeadTimeout),
                    bodyTimeout: TimeAmount(server.requestBodyTimeout)
                )
            ],
            idleTimeout: TimeAmount(server.idleTimeout)
        )
        http1.httpDecoder = .init(maxHeaderFieldSize: server.maxHeaderSize, maxHeaderListSize: server.maxHeaderSize)
        return Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(server.listen.host, port: server.listen.port),
                serverName: nil,
                reuseAddress: true
            ),
            onServerRunning: { channel in await onListening(channel.localAddress) },
            logger: logger
        )
    }
}
