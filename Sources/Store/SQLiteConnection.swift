internal import CSQLite

/// An error from SQLite, with the database path and SQLite's own explanation.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file or its folder cannot be created, opened or written.
        case cannotOpen
        /// The file exists but is not a SQLite database, or is damaged.
        case corrupt
        /// The database was written by a newer Gatehouse (its schema version is unknown here).
        case newerSchema
        /// A statement failed.
        case statementFailed
        /// More writes are waiting than the configured queue holds.
        case writeQueueFull
        /// The store was closed (shutdown).
        case closed
    }

    public let kind: Kind
    public let path: String
    public let reason: String

    public var description: String {
        switch kind {
        case .cannotOpen: "cannot open the store at \(path): \(reason)"
        case .corrupt:
            "the store at \(path) is not a valid SQLite database (\(reason)); move it aside to start a new one"
        case .newerSchema: "the store at \(path) \(reason)"
        case .statementFailed: "store statement failed at \(path): \(reason)"
        case .writeQueueFull: "the store's write queue is full (\(reason)); the disk is slower than the load"
        case .closed: "the store at \(path) is closed"
        }
    }
}

/// One SQLite connection. Not thread-safe by itself: `Store` confines each connection to one thread.
public final class SQLiteConnection {
    private var handle: OpaquePointer?
    public let path: String
    /// Statements compiled once per connection, for the ones run on every request.
    private var statementCache: [String: PreparedStatement] = [:]

    init(path: String, readOnly: Bool) throws {
        self.path = path
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let status = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close_v2(handle)
            throw StoreError(kind: .cannotOpen, path: path, reason: reason)
        }
        self.handle = handle
        sqlite3_busy_timeout(handle, 5_000)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    func close() {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
        handle = nil
    }

    var isClosed: Bool { handle == nil }

    /// Rows the last INSERT, UPDATE or DELETE changed.
    public var changedRows: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let reason = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_free(message)
            throw error(status: status, reason: reason)
        }
    }

    /// Compiles a statement once; callers keep it and bind new values for each run.
    public func prepare(_ sql: String) throws -> PreparedStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw error(status: status, reason: currentMessage)
        }
        return PreparedStatement(statement: statement, connection: self)
    }

    /// The compiled statement for `sql`, prepared on first use and kept for this connection.
    public func cachedStatement(_ sql: String) throws -> PreparedStatement {
        if let cached = statementCache[sql] { return cached }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var currentMessage: String {
        handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
    }

    func error(status: Int32, reason: String) -> StoreError {
        let primary = status & 0xff
        let kind: StoreError.Kind =
            (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
            ? .corrupt
            : (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_PERM)
                ? .cannotOpen
                : .statementFailed
        return StoreError(kind: kind, path: path, reason: reason)
    }
}

/// A compiled statement with positional parameters (`?`), reset after every run.
public final class PreparedStatement {
    /// A value to bind to, or read from, a column.
    public enum Value: Sendable, Equatable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])
    }

    private let statement: OpaquePointer
    private let connection: SQLiteConnection

    init(statement: OpaquePointer, connection: SQLiteConnection) {
        self.statement = statement
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(statement)
    }

    /// Runs the statement with `parameters` and returns every row it produced.
    @discardableResult
    public func run(_ parameters: [Value] = []) throws -> [[Value]] {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let number): status = sqlite3_bind_int64(statement, index, number)
            case .real(let number): status = sqlite3_bind_double(statement, index, number)
            case .text(var text):
                // With its length, from the string's own bytes: no NUL-terminated copy is made
                // (one allocation per short string otherwise).
                status = text.withUTF8 { bytes in
                    guard let base = bytes.baseAddress else {
                        return sqlite3_bind_text(statement, index, "", 0, Self.transient)
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { characters in
                        sqlite3_bind_text(statement, index, characters, Int32(clamping: bytes.count), Self.transient)
                    }
                }
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { buffer in
                    // A zero-length blob still binds as a blob, not as NULL.
                    sqlite3_bind_blob(
                        statement,
                        index,
                        buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                        Int32(clamping: buffer.count),
                        Self.transient
                    )
                }
            }
            guard status == SQLITE_OK else { throw connection.error(status: status, reason: connection.currentMessage) }
        }
        var rows: [[Value]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else {
                throw connection.error(status: status, reason: connection.currentMessage)
            }
            let columns = sqlite3_column_count(statement)
            rows.append((0..<columns).map(column))
        }
    }

    private func column(_ index: Int32) -> Value {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: .real(sqlite3_column_double(statement, index))
        case SQLITE_NULL: .null
        case SQLITE_BLOB:
            .blob(
                sqlite3_column_blob(statement, index).map { pointer in
                    Array(UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, index))))
                } ?? []
            )
        default: .text(sqlite3_column_text(statement, index).map { String(cString: $0) } ?? "")
        }
    }

    // SQLITE_TRANSIENT: SQLite copies bound text before `bind` returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
