internal import AsyncHTTPClient
internal import NIOCore
internal import NIOHTTP1
internal import Synchronization

/// The pooled HTTP client every provider call goes through: keep-alive connections reused across
/// requests, so a warm gateway never sets up a connection on the hot path.
public final class UpstreamClient: Sendable {
    let http: HTTPClient
    private let interrupted = Atomic<Bool>(false)

    public init(configuration: LLMProxyConfiguration) {
        var clientConfiguration = HTTPClient.Configuration(
            timeout: .init(
                connect: TimeAmount(configuration.upstreamConnectTimeout),
                read: TimeAmount(configuration.upstreamIdleTimeout)
            ),
            connectionPool: .init(idleTimeout: .seconds(90), concurrentHTTP1ConnectionsPerHostSoftLimit: 256),
            // Bodies pass through as the provider sent them; never decompress behind a kept header.
            decompression: .disabled
        )
        if let proxy = configuration.upstreamProxy {
            clientConfiguration.proxy = .server(host: proxy.host, port: proxy.port)
        }
        clientConfiguration.httpVersion = .automatic
        // A refused connection must fail the attempt at once so failover moves on; the gateway's
        // own failover is the retry.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        // The gateway traces calls itself; the client's own span per request would only cost time.
        clientConfiguration.tracing.tracer = nil
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// Whether `interrupt()` was called: a failed upstream request is then the gateway's shutdown,
    /// not the provider's fault, and the client is told so.
    var isInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    /// Fails every provider request in flight, and every later one: the end of shutdown's drain.
    /// Costs requests nothing before then: exchanges look at `isInterrupted` only once a request failed.
    public func interrupt() async {
        interrupted.store(true, ordering: .relaxed)
        try? await http.shutdown()
    }

    public func shutdown() async {
        try? await http.shutdown()
    }
}
