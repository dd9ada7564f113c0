import MCPHost
import Testing

@Suite struct StdioServerLifecycleTests {
    typealias Lifecycle = StdioServerLifecycle<ContinuousClock.Instant>
    let t0 = ContinuousClock.now

    private func at(_ offset: Duration) -> ContinuousClock.Instant { t0.advanced(by: offset) }

    @Test func startsOnceAndBecomesReady() {
        var lifecycle = Lifecycle()
        #expect(lifecycle.start() == [.spawn])
        #expect(lifecycle.start() == [])
        #expect(lifecycle.becameReady(at: at(.zero)) == [.markUp])
        #expect(lifecycle.phase == .running)
    }

    @Test func aCrashFailsPendingCallsMarksDownAndBacksOffExponentially() {
        var lifecycle = Lifecycle(initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(700))
        _ = lifecycle.start()
        _ = lifecycle.becameReady(at: at(.zero))
        #expect(
            lifecycle.processExited(reason: "exit 1", at: at(.seconds(1)))
                == [.failPendingCalls, .markDown(reason: "exit 1"), .restart(after: .milliseconds(100))]
        )
        #expect(lifecycle.phase == .backingOff(until: at(.milliseconds(1100))))
        #expect(lifecycle.restartTimerFired(at: at(.milliseconds(1050))) == [])  // too early
        #expect(lifecycle.restartTimerFired(at: at(.milliseconds(1100))) == [.spawn])
        #expect(lifecycle.restarts == 1)
        // Failing again before it was ever ready doubles the delay, up to the cap.
        let delays = (0..<4).map { step -> Duration in
            let now = at(.seconds(2 + step))
            let actions = lifecycle.failedToStart(reason: "handshake timed out", at: now)
            _ = lifecycle.restartTimerFired(at: now.advanced(by: .seconds(1)))
            guard case .restart(let delay) = actions.last else { return .zero }
            return delay
        }
        #expect(delays == [.milliseconds(200), .milliseconds(400), .milliseconds(700), .milliseconds(700)])
        #expect(lifecycle.consecutiveFailures == 5)
    }

    @Test func aServerThatWasStableStartsTheBackoffAfresh() {
        var lifecycle = Lifecycle(initialBackoff: .milliseconds(100), stableAfter: .seconds(60))
        _ = lifecycle.start()
        _ = lifecycle.failedToStart(reason: "x", at: at(.zero))
        _ = lifecycle.restartTimerFired(at: at(.seconds(1)))
        _ = lifecycle.becameReady(at: at(.seconds(1)))
        #expect(lifecycle.consecutiveFailures == 1)
        // Up for two minutes, then a crash: back to the first delay.
        #expect(lifecycle.processExited(reason: "x", at: at(.seconds(121))).last == .restart(after: .milliseconds(100)))
        #expect(lifecycle.consecutiveFailures == 1)
    }

    @Test func aServerThatCrashesSoonKeepsBackingOff() {
        var lifecycle = Lifecycle(initialBackoff: .milliseconds(100), stableAfter: .seconds(60))
        _ = lifecycle.start()
        _ = lifecycle.becameReady(at: at(.zero))
        _ = lifecycle.processExited(reason: "x", at: at(.seconds(1)))
        _ = lifecycle.restartTimerFired(at: at(.seconds(2)))
        _ = lifecycle.becameReady(at: at(.seconds(2)))
        #expect(lifecycle.processExited(reason: "x", at: at(.seconds(3))).last == .restart(after: .milliseconds(200)))
    }

    @Test func stoppingEscalatesFromClosingStdinToTermToKill() {
        var lifecycle = Lifecycle(terminationStepTimeout: .seconds(2))
        _ = lifecycle.start()
        _ = lifecycle.becameReady(at: at(.zero))
        #expect(lifecycle.stop() == [.terminate(.closeStandardInput, thenWait: .seconds(2))])
        #expect(lifecycle.terminationStepTimedOut() == [.terminate(.sendTerminate, thenWait: .seconds(2))])
        #expect(lifecycle.terminationStepTimedOut() == [.terminate(.sendKill, thenWait: .seconds(2))])
        #expect(lifecycle.terminationStepTimedOut() == [])
        // The exit that follows is expected: no restart.
        #expect(lifecycle.processExited(reason: "killed", at: at(.seconds(7))) == [.failPendingCalls, .finished])
        #expect(lifecycle.phase == .stopped)
        #expect(lifecycle.start() == [])
    }

    @Test func stoppingWhileBackingOffNeedsNoSignal() {
        var lifecycle = Lifecycle()
        _ = lifecycle.start()
        _ = lifecycle.failedToStart(reason: "x", at: at(.zero))
        #expect(lifecycle.stop() == [.finished])
        #expect(lifecycle.restartTimerFired(at: at(.seconds(100))) == [])
    }
}
