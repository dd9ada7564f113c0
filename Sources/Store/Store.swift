internal import Foundation
public import Logging
internal import NIOPosix
internal import Synchronization

/// The gateway's one SQLite database (keys, spend, audit, traces as later modules add them).
///
/// Writes go through a single writer thread fed by a bounded queue, so request paths suspend,
/// never block, on disk, and a slow disk shows up as `writeQueueFull` instead of unbounded memory.
/// Reads use their own connection on their own thread (WAL lets them run beside the writer).
public final class Store: Sendable {
    public let path: String
    public let writeQueueCapacity: Int

    private let writer: ConfinedConnection
    private let reader: ConfinedConnection
    private let writerThread: NIOThreadPool
    private let readerThread: NIOThreadPool
    private let pendingWrites = Atomic<Int>(0)
    private let state = Mutex<State>(.open)
    private let logger: Logger

    private enum State { case open, closed }

    /// Opens (creating if needed) the database at `path`, switches it to WAL and applies every
    /// migration it has not seen. Throws a `StoreError` naming the path and the reason on failure.
    public static func open(path: String, writeQueueCapacity: Int = 1024, logger: Logger) async throws -> Store {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                kind: .cannotOpen,
                path: path,
                reason: "cannot create folder \(directory): \(Self.describe(error))"
            )
        }
        let writerThread = NIOThreadPool(numberOfThreads: 1)
        writerThread.start()
        do {
            let writer = try await writerThread.runIfActive { () throws -> ConfinedConnection in
                let connection = try SQLiteConnection(path: path, readOnly: false)
                try Self.configure(connection)
                try StoreSchema.migrate(connection)
                return ConfinedConnection(connection: connection)
            }
            let readerThread = NIOThreadPool(numberOfThreads: 1)
            readerThread.start()
            let reader: ConfinedConnection
            do {
                reader = try await readerThread.runIfActive { () throws -> ConfinedConnection in
                    ConfinedConnection(connection: try SQLiteConnection(path: path, readOnly: true))
                }
            } catch {
                try? await writerThread.runIfActive { writer.connection.close() }
                try? await readerThread.shutdownGracefully()
                throw error
            }
            return Store(
                path: path,
                writeQueueCapacity: writeQueueCapacity,
                writer: writer,
                reader: reader,
                writerThread: writerThread,
                readerThread: readerThread,
                logger: logger
            )
        } catch {
            try? await writerThread.shutdownGracefully()
            throw error
        }
    }

    private init(
        path: String,
        writeQueueCapacity: Int,
        writer: ConfinedConnection,
        reader: ConfinedConnection,
        writerThread: NIOThreadPool,
        readerThread: NIOThreadPool,
        logger: Logger
    ) {
        self.path = path
        self.writeQueueCapacity = writeQueueCapacity
        self.writer = writer
        self.reader = reader
        self.writerThread = writerThread
        self.readerThread = readerThread
        self.logger = logger
    }

    private static func configure(_ connection: SQLiteConnection) throws {
        // The first statement reads the file header: a damaged or foreign file fails here, clearly.
        let mode = try connection.prepare("PRAGMA journal_mode=WAL").run()
        guard mode.first?.first == .text("wal") else {
            throw StoreError(
                kind: .cannotOpen,
                path: connection.path,
                reason: "the file system does not support WAL mode"
            )
        }
        try connection.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    }

    public var isOpen: Bool { state.withLock { $0 == .open } }

    /// Runs `body` on the writer connection. Waits (suspended) for its turn; fails at once with
    /// `writeQueueFull` when `writeQueueCapacity` writes are already in flight (running or waiting).
    public func write<Result: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> Result
    ) async throws -> Result {
        guard isOpen else { throw StoreError(kind: .closed, path: path, reason: "") }
        let waiting = pendingWrites.wrappingAdd(1, ordering: .relaxed).newValue
        defer { pendingWrites.wrappingSubtract(1, ordering: .relaxed) }
        guard waiting <= writeQueueCapacity else {
            throw StoreError(kind: .writeQueueFull, path: path, reason: "\(writeQueueCapacity) writes waiting")
        }
        let writer = self.writer
        return try await Self.run(on: writerThread, path: path) { () throws -> Result in
            // close() runs on this same thread, so a write queued before it still finds the
            // connection open and one queued after it sees it closed.
            guard !writer.connection.isClosed else {
                throw StoreError(kind: .closed, path: writer.connection.path, reason: "")
            }
            return try body(writer.connection)
        }
    }

    /// Runs `body` on the read-only connection.
    public func read<Result: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> Result
    ) async throws -> Result {
        guard isOpen else { throw StoreError(kind: .closed, path: path, reason: "") }
        let reader = self.reader
        return try await Self.run(on: readerThread, path: path) { () throws -> Result in
            guard !reader.connection.isClosed else {
                throw StoreError(kind: .closed, path: reader.connection.path, reason: "")
            }
            return try body(reader.connection)
        }
    }

    private static func runToCompletion<Result: Sendable>(
        on thread: NIOThreadPool,
        _ work: @escaping @Sendable () -> Result
    ) async -> Result? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result?, Never>) in
            thread.submit { state in
                guard case .active = state else {
                    continuation.resume(returning: nil)
                    return
                }
                continuation.resume(returning: work())
            }
        }
    }

    /// Runs work on a connection's thread; a pool already shut down means the store is closed.
    private static func run<Result: Sendable>(
        on thread: NIOThreadPool,
        path: String,
        _ work: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        do {
            return try await thread.runIfActive(work)
        } catch let error as StoreError {
            throw error
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw StoreError(kind: .closed, path: path, reason: "")
        }
    }

    /// The highest migration applied to this database.
    public func schemaVersion() async throws -> Int {
        try await read { connection throws in try StoreSchema.appliedVersion(connection) }
    }

    /// Writes what is queued, folds the WAL back into the database file and closes both connections.
    public func close() async {
        let wasOpen = state.withLock { state in
            defer { state = .closed }
            return state == .open
        }
        guard wasOpen else { return }
        let writer = self.writer
        let reader = self.reader
        // Closing must finish even when the closing task was cancelled (shutdown past its grace
        // period), or the WAL would not be folded back: submit, and wait without cancellation.
        await Self.runToCompletion(on: readerThread) { reader.connection.close() }
        let failure = await Self.runToCompletion(on: writerThread) { () -> String? in
            defer { writer.connection.close() }
            do {
                try writer.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let failure = failure.flatMap({ $0 }) {
            logger.warning("store checkpoint failed", metadata: ["path": "\(path)", "error": "\(failure)"])
        }
        try? await readerThread.shutdownGracefully()
        try? await writerThread.shutdownGracefully()
    }

    private static func describe(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}

/// A connection that only its own single-thread pool ever touches; that confinement, not a lock,
/// is what makes handing it between tasks safe.
struct ConfinedConnection: @unchecked Sendable {
    let connection: SQLiteConnection
}
