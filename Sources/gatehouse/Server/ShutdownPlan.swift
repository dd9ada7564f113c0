internal import MCPHost

/// How long each phase of a shutdown (SIGINT or SIGTERM) may take, from the configuration. Each
/// service enforces its own phase; `ShutdownWatchdog` enforces the sum.
///
/// 1. drain (`server.shutdown_grace_period`): no new connections; requests, streams and MCP calls
///    in flight may finish. `interruptAfter` before its end the gateway ends what is still open
///    itself, in each protocol's terms (an error event then the stream's end, a JSON-RPC error),
///    and at its end closes the connections that remain.
/// 2. MCP servers stop, all at once, within `UpstreamStopBound.bound` (3 s): stdio servers get end
///    of input, then SIGTERM, then SIGKILL to their process group, one step apart, and at most one
///    more step to be reaped; HTTP servers get their session's DELETE, bounded by one step.
/// 3. trace export: the open agent runs end and the trace exporters send what they hold, within
///    `TracingRuntime.shutdownFlushLimit` (2 s; only when an exporter is configured).
/// 4. finish: the last usage batch is written and the store is closed (WAL checkpoint).
///
/// `bound` is the sum plus a margin; a shutdown still running then is logged with the services
/// that have not finished, and the process exits 1.
struct ShutdownPlan: Sendable, Equatable {
    let drain: Duration
    let interruptAfter: Duration
    let mcpStop: Duration
    let traceExport: Duration
    let finish: Duration
    let margin: Duration

    /// What the gateway leaves itself at the end of the drain to end open exchanges cleanly.
    static let interruptLead: Duration = .milliseconds(500)
    /// Writing the last batch and checkpointing take milliseconds; the rest is for a slow disk.
    static let finishBound: Duration = .seconds(3)
    static let marginBound: Duration = .seconds(1)

    init(gracePeriod: Duration, mcpServerCount: Int, exportsTraces: Bool = false) {
        drain = max(gracePeriod, .zero)
        interruptAfter = Self.interruptAfter(gracePeriod: gracePeriod)
        mcpStop = mcpServerCount > 0 ? UpstreamStopBound.bound : .zero
        traceExport = exportsTraces ? TracingRuntime.shutdownFlushLimit : .zero
        finish = Self.finishBound
        margin = Self.marginBound
    }

    /// When, from the start of the drain, the gateway ends what is still open itself.
    static func interruptAfter(gracePeriod: Duration) -> Duration {
        max(gracePeriod - interruptLead, .zero)
    }

    /// The longest a shutdown may take before the watchdog ends the process.
    var bound: Duration { drain + mcpStop + traceExport + finish + margin }
}
