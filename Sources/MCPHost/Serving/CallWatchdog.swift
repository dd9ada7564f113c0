internal import Synchronization

/// Routed calls in flight, and what may cancel them: the client's connection closing (checked by
/// one loop every 200 ms for all calls, so a call costs no timer of its own) or, for a session-era
/// client, its `notifications/cancelled`. Cancelling a call cancels it upstream.
final class CallWatchdog: Sendable {
    /// One call: its waiter wakes when the call must be cancelled, or when the call ends.
    final class Entry: Sendable {
        let client: ClientToken
        /// The client's id for the call, when the client may cancel it by notification.
        let requestID: JSONRPCID?
        let isConnected: @Sendable () -> Bool
        private let waiter = Mutex<(continuation: CheckedContinuation<Void, Never>?, fired: Bool)>((nil, false))

        init(client: ClientToken, requestID: JSONRPCID?, isConnected: @escaping @Sendable () -> Bool) {
            self.client = client
            self.requestID = requestID
            self.isConnected = isConnected
        }

        /// Returns when the call must be cancelled, or when the waiting task is cancelled.
        func wait() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = waiter.withLock { state -> Bool in
                        if state.fired || Task.isCancelled { return true }
                        state.continuation = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                fire()
            }
        }

        func fire() {
            let continuation = waiter.withLock { state -> CheckedContinuation<Void, Never>? in
                state.fired = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume()
        }
    }

    static let interval: Duration = .milliseconds(200)
    private let entries = Mutex<[UInt64: Entry]>([:])
    private let nextKey = Atomic<UInt64>(0)

    func register(_ entry: Entry) -> UInt64 {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).oldValue
        entries.withLock { $0[key] = entry }
        return key
    }

    func remove(_ key: UInt64) {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    /// A session-era client's `notifications/cancelled`.
    func cancel(client: ClientToken, requestID: JSONRPCID) {
        let matching = entries.withLock { entries in
            entries.values.filter { $0.client == client && $0.requestID == requestID }
        }
        for entry in matching { entry.fire() }
    }

    /// Checks every call's connection every 200 ms until cancelled.
    func run() async {
        while (try? await Task.sleep(for: Self.interval)) != nil {
            let current = entries.withLock { Array($0.values) }
            for entry in current where !entry.isConnected() { entry.fire() }
        }
    }
}
