/// The lifecycle of one stdio MCP server process, as a value that returns what to do next.
///
/// Pure: the supervisor feeds it events (the process started, exited, a timer fired) with the
/// current instant and performs the actions it returns, so every transition is testable without
/// a process, a pipe or a sleep.
///
/// Policy:
/// - a process that exits or fails to start is restarted after a capped exponential backoff
///   (`initialBackoff` doubling up to `maximumBackoff`); calls in flight fail at once;
/// - a process that stayed up for `stableAfter` counts as healthy again: its next crash starts the
///   backoff from the beginning;
/// - stopping closes stdin, then sends SIGTERM, then SIGKILL to the process group, each step
///   after `terminationStepTimeout` without an exit.
public struct StdioServerLifecycle<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public enum TerminationStep: Sendable, Equatable {
        case closeStandardInput
        case sendTerminate
        case sendKill
    }

    public enum Action: Sendable, Equatable {
        case spawn
        /// Fail every call in flight to this server with a JSON-RPC error (the process is gone).
        case failPendingCalls
        case markDown(reason: String)
        case markUp
        case restart(after: Duration)
        case terminate(TerminationStep, thenWait: Duration)
        /// The process has exited after a stop: nothing is left to clean up.
        case finished
    }

    public enum Phase: Sendable, Equatable {
        case idle
        case starting
        case running
        case backingOff(until: Instant)
        case stopping(TerminationStep)
        case stopped
    }

    public private(set) var phase: Phase = .idle
    /// Consecutive failures since the server was last healthy.
    public private(set) var consecutiveFailures = 0
    public private(set) var restarts = 0
    private var runningSince: Instant?

    public let initialBackoff: Duration
    public let maximumBackoff: Duration
    public let stableAfter: Duration
    public let terminationStepTimeout: Duration

    public init(
        initialBackoff: Duration = .milliseconds(100),
        maximumBackoff: Duration = .seconds(30),
        stableAfter: Duration = .seconds(60),
        terminationStepTimeout: Duration = .seconds(2)
    ) {
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.stableAfter = stableAfter
        self.terminationStepTimeout = terminationStepTimeout
    }

    /// The gateway wants the server running.
    public mutating func start() -> [Action] {
        guard phase == .idle else { return [] }
        phase = .starting
        return [.spawn]
    }

    /// The process is up and answered its handshake.
    public mutating func becameReady(at now: Instant) -> [Action] {
        guard phase == .starting else { return [] }
        phase = .running
        runningSince = now
        return [.markUp]
    }

    /// The process could not be spawned, or did not complete its handshake.
    public mutating func failedToStart(reason: String, at now: Instant) -> [Action] {
        guard phase == .starting else { return [] }
        return scheduleRestart(reason: reason, at: now)
    }

    /// The process exited. Expected while stopping; a crash otherwise.
    public mutating func processExited(reason: String, at now: Instant) -> [Action] {
        switch phase {
        case .stopping:
            phase = .stopped
            return [.failPendingCalls, .finished]
        case .running:
            if let since = runningSince, since.advanced(by: stableAfter) <= now {
                consecutiveFailures = 0  // it had been healthy: start the backoff afresh
            }
            return scheduleRestart(reason: reason, at: now)
        case .starting:
            return scheduleRestart(reason: reason, at: now)
        case .idle, .backingOff, .stopped:
            return []
        }
    }

    /// The backoff timer fired.
    public mutating func restartTimerFired(at now: Instant) -> [Action] {
        guard case .backingOff(let until) = phase, until <= now else { return [] }
        phase = .starting
        restarts += 1
        return [.spawn]
    }

    /// The gateway is reloading or shutting down: take the server down, gently first.
    public mutating func stop() -> [Action] {
        switch phase {
        case .idle, .backingOff:
            phase = .stopped
            return [.finished]
        case .starting, .running:
            phase = .stopping(.closeStandardInput)
            return [.terminate(.closeStandardInput, thenWait: terminationStepTimeout)]
        case .stopping, .stopped:
            return []
        }
    }

    /// The process outlived a termination step: escalate.
    public mutating func terminationStepTimedOut() -> [Action] {
        guard case .stopping(let step) = phase else { return [] }
        switch step {
        case .closeStandardInput:
            phase = .stopping(.sendTerminate)
            return [.terminate(.sendTerminate, thenWait: terminationStepTimeout)]
        case .sendTerminate:
            phase = .stopping(.sendKill)
            return [.terminate(.sendKill, thenWait: terminationStepTimeout)]
        case .sendKill:
            return []  // SIGKILL cannot be refused; the exit will come
        }
    }

    /// The delay before the next restart after `failures` consecutive failures.
    public func backoff(afterFailures failures: Int) -> Duration {
        var delay = initialBackoff
        for _ in 1..<max(failures, 1) {
            delay = delay * 2
            if delay >= maximumBackoff { return maximumBackoff }
        }
        return min(delay, maximumBackoff)
    }

    private mutating func scheduleRestart(reason: String, at now: Instant) -> [Action] {
        consecutiveFailures += 1
        runningSince = nil
        let delay = backoff(afterFailures: consecutiveFailures)
        phase = .backingOff(until: now.advanced(by: delay))
        return [.failPendingCalls, .markDown(reason: reason), .restart(after: delay)]
    }
}
