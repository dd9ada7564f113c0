internal import NIOCore
internal import Synchronization

/// Waits for a connection's close future, or for cancellation, whichever comes first.
enum ConnectionCloseWatcher {
    static func wait(for closeFuture: EventLoopFuture<Void>) async {
        let waiter = OnceContinuation()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                waiter.install(continuation)
                closeFuture.whenComplete { _ in waiter.resume() }
            }
        } onCancel: {
            waiter.resume()
        }
    }

    /// A continuation resumed exactly once, whoever asks first (close, or cancellation that may
    /// even arrive before the continuation exists).
    private final class OnceContinuation: Sendable {
        private enum State {
            case waiting(CheckedContinuation<Void, Never>?)
            case resumed
        }
        private let state = Mutex<State>(.waiting(nil))

        func install(_ continuation: CheckedContinuation<Void, Never>) {
            let resumeNow = state.withLock { state -> Bool in
                guard case .waiting = state else { return true }
                state = .waiting(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }

        func resume() {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                switch state {
                case .resumed:
                    return nil
                case .waiting(let continuation):
                    state = .resumed
                    return continuation
                }
            }
            continuation?.resume()
        }
    }
}
