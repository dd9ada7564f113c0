/// A W3C Trace Context `traceparent` header: `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`.
///
/// Agents that already trace (OpenTelemetry SDKs, LangChain callbacks) send one; Gatehouse joins
/// their trace instead of starting a new one, so an agent run stays a single trace.
public struct TraceParent: Sendable, Hashable, CustomStringConvertible {
    public let traceID: String
    public let parentSpanID: String
    public let flags: UInt8

    public var isSampled: Bool { flags & 0x01 == 0x01 }

    public init?(header: Substring) {
        let fields = header.split(separator: "-", omittingEmptySubsequences: false)
        // Version 00 has exactly four fields; a higher version may append more, which we ignore.
        guard fields.count >= 4,
            fields[0].utf8.count == 2, Self.isLowerHex(fields[0]), fields[0] != "ff",
            fields[0] != "00" || fields.count == 4,
            fields[1].utf8.count == 32, Self.isLowerHex(fields[1]), !Self.isAllZero(fields[1]),
            fields[2].utf8.count == 16, Self.isLowerHex(fields[2]), !Self.isAllZero(fields[2]),
            fields[3].utf8.count == 2, Self.isLowerHex(fields[3]),
            let flags = UInt8(fields[3], radix: 16)
        else { return nil }
        self.traceID = String(fields[1])
        self.parentSpanID = String(fields[2])
        self.flags = flags
    }

    public var description: String {
        let flagsHex = String(flags, radix: 16)
        return "00-\(traceID)-\(parentSpanID)-\(flagsHex.count == 1 ? "0" + flagsHex : flagsHex)"
    }

    private static func isLowerHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    private static func isAllZero(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { $0 == UInt8(ascii: "0") }
    }
}
