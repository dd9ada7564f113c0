internal import Logging
internal import ServiceLifecycle
internal import Synchronization

/// Rows on their way to the store (spend, audit): a bounded queue that never drops what it was
/// given. When it is full, `append` waits for the writer to make room (back-pressure: calls slow
/// down to the disk's pace) and counts the wait. Rows a failed write hands back go to the front,
/// and are retried. Once the writer is finishing (shutdown), nothing waits any more: the queue takes
/// every row, and the writer writes them in its last batch.
final class RowQueue<Row: Sendable>: Sendable {
    private struct State {
        var rows: [Row] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        var isFinishing = false
        var backPressureWaits = 0
    }

    let capacity: Int
    private let state = Mutex(State())
    private let wakeUps: AsyncStream<Void>.Continuation
    /// Yields when rows are waiting; a wake-up that finds them already taken is harmless.
    let rowsReady: AsyncStream<Void>

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        (rowsReady, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds a row; waits while the queue is full.
    func append(_ row: Row) async {
        while true {
            let added = state.withLock { state -> Bool in
                guard state.rows.count < capacity || state.isFinishing else { return false }
                state.rows.append(row)
                return true
            }
            wakeUps.yield()
            if added { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waitNow = state.withLock { state -> Bool in
                    guard state.rows.count >= capacity, !state.isFinishing else { return false }
                    state.backPressureWaits += 1
                    state.waiters.append(continuation)
                    return true
                }
                if !waitNow { continuation.resume() }
            }
        }
    }

    /// Takes up to `limit` rows, oldest first, and lets waiting appends in.
    func take(limit: Int = .max) -> [Row] {
        let (rows, waiters) = state.withLock { state -> ([Row], [CheckedContinuation<Void, Never>]) in
            let count = min(limit, state.rows.count)
            let taken = Array(state.rows.prefix(count))
            state.rows.removeFirst(count)
            let waiters = state.waiters
            state.waiters.removeAll()
            return (taken, waiters)
        }
        for waiter in waiters { waiter.resume() }
        return rows
    }

    /// Puts rows a write could not store back at the front, to be retried.
    func putBack(_ rows: [Row]) {
        guard !rows.isEmpty else { return }
        state.withLock { $0.rows.insert(contentsOf: rows, at: 0) }
    }

    /// Shutdown: appends no longer wait, and the writer's loop ends after its last wake-up.
    func finish() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isFinishing = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        wakeUps.finish()
    }

    var count: Int { state.withLock { $0.rows.count } }
    /// How many appends had to wait for room.
    var backPressureWaits: Int { state.withLock { $0.backPressureWaits } }
}

/// Drains a `RowQueue` into the store in batches: a failed write puts its rows back and is
/// retried after a pause (doubling to 5 s), so a store that is briefly locked or slow loses
/// nothing. At shutdown, after the HTTP server has stopped, it writes what is left, trying each
/// batch up to `finalAttempts` times; rows still unwritten then are logged as lost, with their count.
struct RowWriter<Row: Sendable>: Service {
    let queue: RowQueue<Row>
    /// What the rows are, for log lines ("LLM usage", "policy decisions").
    let what: String
    let logger: Logger
    let write: @Sendable ([Row]) async throws -> Void
    let batchSize = 500
    let finalAttempts = 3
    /// How long a wake-up waits for more rows before writing: one transaction (and one hop to the
    /// store's thread) for every row of a busy moment instead of one per row.
    let gatherTime: Duration = .milliseconds(20)

    func run() async throws {
        await withGracefulShutdownHandler {
            var pause: Duration = .milliseconds(100)
            for await _ in queue.rowsReady {
                if queue.count < batchSize { try? await Task.sleep(for: gatherTime) }
                while true {
                    let rows = queue.take(limit: batchSize)
                    if rows.isEmpty { break }
                    do {
                        try await write(rows)
                        pause = .milliseconds(100)
                    } catch {
                        queue.putBack(rows)
                        logger.error(
                            "could not write \(what) to the store; retrying",
                            metadata: ["error": "\(error)", "rows": "\(rows.count)"]
                        )
                        try? await Task.sleep(for: pause)
                        pause = min(pause * 2, .seconds(5))
                    }
                }
            }
            var failures = 0
            while true {
                let rows = queue.take(limit: batchSize)
                if rows.isEmpty { return }
                do {
                    try await write(rows)
                } catch {
                    failures += 1
                    guard failures < finalAttempts else {
                        let lost = rows.count + queue.take().count
                        logger.critical(
                            "could not write \(what) to the store before stopping; rows lost",
                            metadata: ["error": "\(error)", "rows": "\(lost)"]
                        )
                        return
                    }
                    queue.putBack(rows)
                }
            }
        } onGracefulShutdown: {
            queue.finish()
        }
    }
}
