internal import Synchronization

/// Calls in flight, and what may end them early: the client's connection closing (checked by one
/// loop every 200 ms for all calls, so a call costs no timer of its own), a session-era client's
/// `notifications/cancelled`, or the gateway's shutdown reaching its deadline. Ending a call
/// cancels it upstream.
final class CallWatchdog: Sendable {
    /// Why a call was ended before its reply.
    enum Interruption: Sendable, Equatable {
        /// The client left or cancelled it (or the waiting task was cancelled).
        case cancelled
        /// The gateway is stopping and the call outlived the drain.
        case shuttingDown
    }

    /// One call: its waiter wakes when the call must end, or when the call ends.
    final class Entry: Sendable {
        let client: ClientToken
        /// The client's id for the call, when the client may cancel it by notification.
        let requestID: JSONRPCID?
        let isConnected: @Sendable () -> Bool
        private let waiter = Mutex<(continuation: CheckedContinuation<Interruption, Never>?, fired: Interruption?)>(
            (nil, nil)
        )

        init(client: ClientToken, requestID: JSONRPCID?, isConnected: @escaping @Sendable () -> Bool) {
            self.client = client
            self.requestID = requestID
            self.isConnected = isConnected
        }

        /// Returns why the call must end, once it must, or `.cancelled` when the waiting task is cancelled.
        func wait() async -> Interruption {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Interruption, Never>) in
                    let resumeWith = waiter.withLock { state -> Interruption? in
                        if let fired = state.fired { return fired }
                        if Task.isCancelled { return .cancelled }
                        state.continuation = continuation
                        return nil
                    }
                    if let resumeWith { continuation.resume(returning: resumeWith) }
                }
            } onCancel: {
                fire(.cancelled)
            }
        }

        /// Ends the wait; the first reason given wins.
        func fire(_ reason: Interruption) {
            let wake = waiter.withLock { state -> (CheckedContinuation<Interruption, Never>, Interruption)? in
                if state.fired == nil { state.fired = reason }
                guard let continuation = state.continuation, let fired = state.fired else { return nil }
                state.continuation = nil
                return (continuation, fired)
            }
            if let (continuation, reason) = wake { continuation.resume(returning: reason) }
        }
    }

    static let interval: Duration = .milliseconds(200)
    private let entries = Mutex<(byKey: [UInt64: Entry], shuttingDown: Bool)>(([:], false))
    private let nextKey = Atomic<UInt64>(0)

    func register(_ entry: Entry) -> UInt64 {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).oldValue
        let shuttingDown = entries.withLock { entries in
            entries.byKey[key] = entry
            return entries.shuttingDown
        }
        if shuttingDown { entry.fire(.shuttingDown) }
        return key
    }

    func remove(_ key: UInt64) {
        _ = entries.withLock { $0.byKey.removeValue(forKey: key) }
    }

    /// A session-era client's `notifications/cancelled`.
    func cancel(client: ClientToken, requestID: JSONRPCID) {
        let matching = entries.withLock { entries in
            entries.byKey.values.filter { $0.client == client && $0.requestID == requestID }
        }
        for entry in matching { entry.fire(.cancelled) }
    }

    /// Ends every call in flight, and every call that starts from now on, as interrupted by shutdown.
    func interruptAll() {
        let current = entries.withLock { entries in
            entries.shuttingDown = true
            return Array(entries.byKey.values)
        }
        for entry in current { entry.fire(.shuttingDown) }
    }

    /// Checks every call's connection every 200 ms until cancelled.
    func run() async {
        while (try? await Task.sleep(for: Self.interval)) != nil {
            let current = entries.withLock { Array($0.byKey.values) }
            for entry in current where !entry.isConnected() { entry.fire(.cancelled) }
        }
    }
}
