/// A credential read from configuration: a provider key, an agent's API key, an admin token.
///
/// Every textual form (`description`, `debugDescription`, string interpolation, `dump`) prints
/// `[redacted]`, so a secret that slips into a log line, an error or an admin response shows nothing.
/// The only way to the value is `revealedValue`, which code that must send the secret upstream names on purpose.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// What every rendering of a secret shows instead of its value.
    public static let redactedPlaceholder = "[redacted]"

    private let utf8: [UInt8]

    public init(_ value: String) {
        self.utf8 = Array(value.utf8)
    }

    /// The secret's value, for the few places that must send it somewhere (an upstream request header).
    public var revealedValue: String { String(decoding: utf8, as: UTF8.self) }

    public var isEmpty: Bool { utf8.isEmpty }

    public var description: String { Self.redactedPlaceholder }
    public var debugDescription: String { Self.redactedPlaceholder }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Compares a presented credential with this secret in time that depends only on the secret's
    /// length, never on where the first differing byte is, so response timing leaks nothing.
    public func matches<Bytes: Collection<UInt8>>(_ presented: Bytes) -> Bool {
        var difference = UInt8(truncatingIfNeeded: presented.count ^ utf8.count)
        if presented.count != utf8.count { difference |= 1 }
        var presentedIndex = presented.startIndex
        for byte in utf8 {
            // Walk the presented bytes cyclically so a shorter input costs the same as a full one.
            let presentedByte: UInt8
            if presented.isEmpty {
                presentedByte = 0
            } else {
                if presentedIndex == presented.endIndex { presentedIndex = presented.startIndex }
                presentedByte = presented[presentedIndex]
                presentedIndex = presented.index(after: presentedIndex)
            }
            difference |= byte ^ presentedByte
        }
        return difference == 0
    }

    public func matches(_ presented: String) -> Bool {
        matches(Array(presented.utf8))
    }
}
