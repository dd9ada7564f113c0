import Synchronization
import Testing

@testable import MCPHost

@Suite("CallWatchdog", .timeLimit(.minutes(1)))  // a wait that never returns fails here
struct CallWatchdogTests {
    final class Connection: Sendable {
        private let open = Atomic<Bool>(true)
        var isOpen: Bool { open.load(ordering: .relaxed) }
        func close() { open.store(false, ordering: .relaxed) }
    }

    @Test func aClientsCancellationWakesOnlyItsCall() async {
        let watchdog = CallWatchdog()
        let cancelled = CallWatchdog.Entry(client: ClientToken(1), requestID: JSONRPCID(7), isConnected: { true })
        let sameIDOtherClient = CallWatchdog.Entry(
            client: ClientToken(2),
            requestID: JSONRPCID(7),
            isConnected: { true }
        )
        _ = watchdog.register(cancelled)
        _ = watchdog.register(sameIDOtherClient)
        watchdog.cancel(client: ClientToken(1), requestID: JSONRPCID(7))
        #expect(await cancelled.wait() == .cancelled)  // returns: it was fired

        let other = Task { await sameIDOtherClient.wait() }
        watchdog.cancel(client: ClientToken(2), requestID: JSONRPCID(8))
        watchdog.cancel(client: ClientToken(3), requestID: JSONRPCID(7))
        other.cancel()  // not fired by either: only cancelling the waiting task ends its wait
        #expect(await other.value == .cancelled)
    }

    @Test func aRemovedCallIsNoLongerCancelled() async {
        let watchdog = CallWatchdog()
        let entry = CallWatchdog.Entry(client: ClientToken(1), requestID: .string("a"), isConnected: { true })
        let key = watchdog.register(entry)
        watchdog.remove(key)
        watchdog.cancel(client: ClientToken(1), requestID: .string("a"))
        let waiting = Task { await entry.wait() }
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
    }

    @Test func theLoopWakesCallsWhoseConnectionClosed() async {
        let watchdog = CallWatchdog()
        let connection = Connection()
        let entry = CallWatchdog.Entry(client: ClientToken(1), requestID: nil, isConnected: { connection.isOpen })
        _ = watchdog.register(entry)
        let loop = Task { await watchdog.run() }
        connection.close()
        #expect(await entry.wait() == .cancelled)  // returns once the loop has seen the closed connection
        loop.cancel()
        await loop.value
    }

    @Test func aFiredEntryStaysFired() async {
        let entry = CallWatchdog.Entry(client: ClientToken(1), requestID: nil, isConnected: { true })
        entry.fire(.cancelled)
        entry.fire(.shuttingDown)  // the first reason wins
        #expect(await entry.wait() == .cancelled)
        #expect(await entry.wait() == .cancelled)
    }

    @Test func shutdownEndsEveryCallInFlightAndEveryLaterOne() async {
        let watchdog = CallWatchdog()
        let inFlight = CallWatchdog.Entry(client: ClientToken(1), requestID: JSONRPCID(1), isConnected: { true })
        let alreadyCancelled = CallWatchdog.Entry(
            client: ClientToken(2),
            requestID: JSONRPCID(1),
            isConnected: { true }
        )
        _ = watchdog.register(inFlight)
        _ = watchdog.register(alreadyCancelled)
        watchdog.cancel(client: ClientToken(2), requestID: JSONRPCID(1))
        let waiting = Task { await inFlight.wait() }

        watchdog.interruptAll()

        #expect(await waiting.value == .shuttingDown)
        #expect(await alreadyCancelled.wait() == .cancelled)
        let later = CallWatchdog.Entry(client: ClientToken(3), requestID: nil, isConnected: { true })
        _ = watchdog.register(later)
        #expect(await later.wait() == .shuttingDown)
    }
}
