/// The identifier that follows one request through logs, traces, the store and the `x-request-id`
/// response header.
public struct RequestID: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    /// A new random identifier: 32 lowercase hex digits (128 bits from the system's CSPRNG).
    public init() {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        self.description = Self.hex(high) + Self.hex(low)
    }

    /// Adopts an identifier a client or an upstream proxy sent, if it is a short, printable token;
    /// anything else (too long, spaces, control characters) is refused so it cannot forge log lines.
    public init?(adopting presented: Substring) {
        guard (1...Self.maximumAdoptedLength).contains(presented.utf8.count),
            presented.utf8.allSatisfy(Self.isTokenByte)
        else { return nil }
        self.description = String(presented)
    }

    public static let maximumAdoptedLength = 128

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
