internal import Synchronization

/// Calls of session-era clients still running, so a client's `notifications/cancelled` can stop
/// one (which cancels it upstream). Stateless clients cancel by closing the connection instead.
final class InFlightCalls: Sendable {
    final class Flag: Sendable {
        private let raised = Atomic<Bool>(false)
        var isRaised: Bool { raised.load(ordering: .relaxed) }
        func raise() { raised.store(true, ordering: .relaxed) }
    }

    private struct Key: Hashable {
        let client: ClientToken
        let id: JSONRPCID
    }

    private let calls = Mutex<[Key: Flag]>([:])

    func register(client: ClientToken, id: JSONRPCID) -> Flag {
        let flag = Flag()
        calls.withLock { $0[Key(client: client, id: id)] = flag }
        return flag
    }

    func remove(client: ClientToken, id: JSONRPCID) {
        _ = calls.withLock { $0.removeValue(forKey: Key(client: client, id: id)) }
    }

    func cancel(client: ClientToken, id: JSONRPCID) {
        calls.withLock { $0[Key(client: client, id: id)] }?.raise()
    }
}
