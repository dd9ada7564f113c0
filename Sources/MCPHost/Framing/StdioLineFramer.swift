public import NIOCore

/// Splits a stdio MCP stream into lines, one JSON-RPC message (or 2025-03-26 batch) each. Pure:
/// bytes in, lines out, so it runs the same on a pipe, in a test, or under a fuzzer.
/// `\n` ends a line and a `\r` before it is dropped; blank lines are skipped. A line longer than
/// `maximumLineLength` is reported once and discarded up to the next `\n`, where reading resumes.
public struct StdioLineFramer: Sendable {
    public enum Output: Sendable, Equatable {
        /// One line without its terminator, sliced from the input (no copy).
        case line(ByteBuffer)
        /// A line exceeded the limit and is being dropped; the lines after it still arrive.
        case lineTooLong(maximumLineLength: Int)
    }

    public let maximumLineLength: Int
    private var pending = ByteBuffer()
    /// Bytes of `pending` already searched for `\n`.
    private var scanned = 0
    /// Dropping the rest of an over-long line until its `\n`.
    private var isDiscarding = false

    public init(maximumLineLength: Int = 16 << 20) {
        precondition(maximumLineLength > 0, "maximumLineLength must be positive")
        self.maximumLineLength = maximumLineLength
    }

    /// Adds bytes and returns, in order, every line they complete and every over-long line they start.
    public mutating func append(_ buffer: ByteBuffer) -> [Output] {
        var input = buffer
        if isDiscarding {
            guard let newline = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return [] }
            input.moveReaderIndex(to: newline + 1)
            isDiscarding = false
        }
        if pending.readableBytes == 0 {
            pending = input
            scanned = 0
        } else {
            pending.writeBuffer(&input)
        }
        var outputs: [Output] = []
        while true {
            let view = pending.readableBytesView
            guard let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
                scanned = view.count
                if exceedsLimit(view) {
                    outputs.append(.lineTooLong(maximumLineLength: maximumLineLength))
                    pending = ByteBuffer()
                    scanned = 0
                    isDiscarding = true
                }
                break
            }
            var length = newline - view.startIndex
            if length > 0, view[newline - 1] == UInt8(ascii: "\r") { length -= 1 }
            if length > maximumLineLength {
                outputs.append(.lineTooLong(maximumLineLength: maximumLineLength))
            } else if let line = pending.getSlice(at: pending.readerIndex, length: length), !Self.isBlank(line) {
                outputs.append(.line(line))
            }
            pending.moveReaderIndex(to: newline + 1)
            scanned = 0
        }
        if pending.readableBytes == 0 { pending = ByteBuffer() }
        return outputs
    }

    public mutating func append(_ bytes: some Collection<UInt8>) -> [Output] {
        append(ByteBuffer(bytes: bytes))
    }

    /// Bytes of a line the stream has not finished (a well-behaved server leaves none at exit).
    public var unterminatedByteCount: Int { pending.readableBytes }

    /// Whether an unterminated line already cannot fit. A lone trailing `\r` is not counted yet:
    /// it may be the first half of a `\r\n`.
    private func exceedsLimit(_ view: ByteBufferView) -> Bool {
        let count = view.count
        if count <= maximumLineLength { return false }
        return !(count == maximumLineLength + 1 && view.last == UInt8(ascii: "\r"))
    }

    private static func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    /// One message as a stdio line: its compact JSON and `\n`.
    public static func frame(_ message: JSONRPCMessage) -> [UInt8] {
        frame(json: message.encoded())
    }

    /// JSON text as a stdio line, for bytes forwarded without re-encoding. Raw CR and LF can only
    /// be whitespace between tokens in valid JSON (inside strings they must be escaped), so they
    /// become spaces: the meaning is unchanged and the line cannot break.
    public static func frame(json: some Collection<UInt8>) -> [UInt8] {
        var line = [UInt8]()
        line.reserveCapacity(json.count + 1)
        for byte in json {
            line.append(byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") ? UInt8(ascii: " ") : byte)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }
}
