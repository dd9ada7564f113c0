public import CoreMetrics
internal import Metrics

/// Counts and times the calls clients route to one server: `gatehouse_mcp_calls_total{server,
/// outcome}` (`ok`: a result, tool errors with `isError` included; `error`: a JSON-RPC error from
/// the server; `failed`: no reply, e.g. the server was down, timed out or died) and
/// `gatehouse_mcp_call_duration_seconds{server}`. Handles are made once per server.
public struct MCPCallMetrics: Sendable {
    private let ok: Counter
    private let error: Counter
    private let failed: Counter
    private let duration: Timer

    public init(server: String, factory: any MetricsFactory) {
        func counter(_ outcome: String) -> Counter {
            Counter(
                label: "gatehouse_mcp_calls_total",
                dimensions: [("server", server), ("outcome", outcome)],
                factory: factory
            )
        }
        ok = counter("ok")
        error = counter("error")
        failed = counter("failed")
        duration = Timer(
            label: "gatehouse_mcp_call_duration_seconds",
            dimensions: [("server", server)],
            factory: factory
        )
    }

    func record(reply: JSONRPCMessage?, elapsed: Duration) {
        switch reply?.kind {
        case .response?: ok.increment()
        case .errorResponse?: error.increment()
        default: failed.increment()
        }
        // Converts without overflow (pinned at Int64.max nanoseconds).
        duration.record(duration: elapsed)
    }
}
