public import NIOCore

/// Splits an upstream `text/event-stream` body into whole events, as bytes arrive. Pure: bytes in,
/// raw event blocks out. A block is forwarded as it came (no re-encoding); `SSEEvent.parse` reads
/// its fields only when someone needs them.
public struct SSEEventFramer: Sendable {
    private var pending = ByteBuffer()
    /// Where the line being scanned starts, relative to `pending`'s reader index.
    private var lineStart = 0
    /// Where scanning resumes.
    private var scanned = 0
    private let maximumEventSize: Int

    public struct EventTooLarge: Error, Sendable {
        public let maximumEventSize: Int
    }

    /// `maximumEventSize` bounds the memory one unterminated event can hold.
    public init(maximumEventSize: Int = 8 << 20) {
        self.maximumEventSize = maximumEventSize
    }

    /// Adds bytes and returns every event they complete, each with its terminating blank line.
    public mutating func append(_ buffer: ByteBuffer) throws(EventTooLarge) -> [ByteBuffer] {
        var buffer = buffer
        if pending.readableBytes == 0 {
            pending = buffer
        } else {
            pending.writeBuffer(&buffer)
        }
        var events: [ByteBuffer] = []
        let view = pending.readableBytesView
        var index = view.startIndex + scanned
        var eventStart = view.startIndex
        var currentLineStart = view.startIndex + lineStart
        while index < view.endIndex {
            let byte = view[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                var next = index + 1
                if byte == UInt8(ascii: "\r") {
                    guard next < view.endIndex else { break }  // wait: CR may be followed by LF
                    if view[next] == UInt8(ascii: "\n") { next += 1 }
                }
                if index == currentLineStart, index > eventStart {
                    let length = next - eventStart
                    if let slice = pending.getSlice(at: eventStart, length: length) { events.append(slice) }
                    eventStart = next
                } else if index == currentLineStart {
                    eventStart = next  // a blank line between events: nothing to emit
                }
                currentLineStart = next
                index = next
            } else {
                index += 1
            }
        }
        let consumed = eventStart - view.startIndex
        pending.moveReaderIndex(forwardBy: consumed)
        scanned = index - view.startIndex - consumed
        lineStart = currentLineStart - view.startIndex - consumed
        if pending.readableBytes > maximumEventSize { throw EventTooLarge(maximumEventSize: maximumEventSize) }
        if pending.readableBytes == 0 { pending = ByteBuffer() }
        return events
    }

    /// Bytes of an event the stream ended in the middle of (a well-formed stream leaves none).
    public var unterminatedBytes: Int { pending.readableBytes }
}

extension SSEEvent {
    /// Reads the fields of one raw event block. Returns nil for a block with no `data:` and no
    /// `event:` (comments and keep-alives).
    public static func parse(_ block: ByteBuffer) -> SSEEvent? {
        var event: String?
        var id: String?
        var dataLines: [Substring] = []
        let text = String(buffer: block)
        for line in text.split(
            omittingEmptySubsequences: true,
            whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        ) {
            if line.hasPrefix(":") { continue }
            let field: Substring
            var value: Substring
            if let colon = line.firstIndex(of: ":") {
                field = line[..<colon]
                value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
            } else {
                field = line
                value = ""
            }
            switch field {
            case "data": dataLines.append(value)
            case "event": event = String(value)
            case "id": id = String(value)
            default: continue
            }
        }
        guard !dataLines.isEmpty || event != nil else { return nil }
        return SSEEvent(event: event, data: dataLines.joined(separator: "\n"), id: id)
    }
}
