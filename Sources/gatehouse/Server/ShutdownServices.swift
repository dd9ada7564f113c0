internal import Foundation
internal import GatehouseConfig
internal import Hummingbird
internal import Logging
internal import ServiceLifecycle
internal import Synchronization

/// Ends the process with status 1 when a shutdown outlives `ShutdownPlan.bound`, after logging
/// which services had not finished: the gateway's own bound, instead of ServiceLifecycle's
/// cancellation limit, which traps. Every service is run through `track(_:named:)`; the
/// `ShutdownStart` service arms the watchdog when the shutdown begins.
final class ShutdownWatchdog: Sendable {
    private let plan: ShutdownPlan
    private let logger: Logger
    private let onOverrun: @Sendable () -> Void
    private let state = Mutex<State>(State())

    private struct State {
        var running: [String] = []
        var isArmed = false
        var isDone = false
    }

    /// `onOverrun` runs just before the process exits (it kills what must not outlive it).
    init(plan: ShutdownPlan, logger: Logger, onOverrun: @escaping @Sendable () -> Void) {
        self.plan = plan
        self.logger = logger
        self.onOverrun = onOverrun
    }

    func track<Inner: Service>(_ service: Inner, named name: String) -> TrackedService<Inner> {
        TrackedService(name: name, inner: service, watchdog: self)
    }

    fileprivate func started(_ name: String) {
        state.withLock { $0.running.append(name) }
    }

    fileprivate func finished(_ name: String) {
        state.withLock { state in
            if let index = state.running.firstIndex(of: name) { state.running.remove(at: index) }
        }
    }

    /// Starts the clock, once. A thread of its own keeps it, so that a blocked task pool cannot
    /// stop it from firing.
    func arm() {
        let first = state.withLock { state -> Bool in
            defer { state.isArmed = true }
            return !state.isArmed
        }
        guard first else { return }
        logger.info(
            "shutting down",
            metadata: [
                "bound": "\(DurationSyntax.format(plan.bound))",
                "grace_period": "\(DurationSyntax.format(plan.drain))",
            ]
        )
        let bound = plan.bound
        let thread = Thread { [self] in
            let (seconds, attoseconds) = bound.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
            expire()
        }
        thread.name = "gatehouse-shutdown-watchdog"
        thread.stackSize = 64 << 10
        thread.start()
    }

    /// The shutdown completed: the clock no longer matters.
    func disarm() {
        state.withLock { $0.isDone = true }
    }

    private func expire() {
        let stillRunning = state.withLock { state -> [String]? in
            state.isDone ? nil : state.running
        }
        guard let stillRunning else { return }
        logger.critical(
            "shutdown overran its bound; exiting with status 1",
            metadata: [
                "bound": "\(DurationSyntax.format(plan.bound))",
                "still_running": "\(stillRunning.isEmpty ? "(final cleanup)" : stillRunning.joined(separator: ","))",
            ]
        )
        onOverrun()
        // Log lines are written unbuffered, so nothing is lost by skipping exit handlers, which
        // could run while other threads still use what they tear down.
        _exit(1)
    }
}

/// A service whose start and end the watchdog follows, under a name the logs use.
struct TrackedService<Inner: Service>: Service, CustomStringConvertible {
    let name: String
    let inner: Inner
    fileprivate let watchdog: ShutdownWatchdog

    var description: String { name }

    func run() async throws {
        watchdog.started(name)
        defer { watchdog.finished(name) }
        try await inner.run()
    }
}

/// Listed last, so the first to hear of a shutdown: arms the watchdog and returns. A group that
/// is cancelled instead (a service failed) arms it too.
struct ShutdownStart: Service {
    let watchdog: ShutdownWatchdog

    func run() async throws {
        try? await gracefulShutdown()
        watchdog.arm()
    }
}

/// Runs the HTTP application and bounds its drain: at `interruptAfter` it asks the planes to end
/// what is still open in their protocols' terms (`onInterrupt`; LLM streams watch the same
/// deadline themselves), and at the end of the grace period it cancels the application, which
/// closes the connections that remain.
struct DrainingHTTPServer<Application: ApplicationProtocol>: Service {
    let application: Application
    let plan: ShutdownPlan
    let onInterrupt: @Sendable () async -> Void
    let logger: Logger

    private enum Ended: Sendable {
        case application
        case drainDeadline
        case cancelled
    }

    func run() async throws {
        let plan = self.plan
        let onInterrupt = self.onInterrupt
        try await withThrowingTaskGroup(of: Ended.self) { group in
            group.addTask {
                try await application.run()
                return .application
            }
            group.addTask {
                // Every wait here ends early only when the application has returned first.
                do { try await gracefulShutdown() } catch { return .cancelled }
                let began = ContinuousClock.now
                guard (try? await Task.sleep(until: began + plan.interruptAfter)) != nil else { return .cancelled }
                await onInterrupt()
                guard (try? await Task.sleep(until: began + plan.drain)) != nil else { return .cancelled }
                return .drainDeadline
            }
            let first: Ended?
            do {
                first = try await group.next()
            } catch {
                group.cancelAll()
                throw error  // the application failed (for example it could not listen)
            }
            group.cancelAll()
            guard first == .drainDeadline else { return }
            logger.notice(
                "connections still open at the end of the grace period were closed",
                metadata: ["grace_period": "\(DurationSyntax.format(plan.drain))"]
            )
            // The application ends by cancellation now; how it reports that does not matter.
            while (try? await group.next()) != nil {}
        }
    }
}
