internal import Foundation

/// Sizes as users write them: `4MiB`, `512KiB`, `1MB`, `1048576`.
public enum ByteSizeSyntax {
    private static let units: [(suffix: String, multiplier: Int)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
    ]

    /// Sizes too large for `Int` read as `Int.max`, so the key's range diagnostic reports them.
    public static func parse(_ text: String) -> Int? {
        for (suffix, multiplier) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = nonNegativeInteger(number) else { return nil }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
            return overflow ? .max : bytes
        }
        return Int(text) ?? nonNegativeInteger(text)
    }

    public static func format(_ bytes: Int) -> String {
        for (suffix, multiplier) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= multiplier && bytes % multiplier == 0 {
            return "\(bytes / multiplier)\(suffix)"
        }
        return "\(bytes)B"
    }
}

/// Durations as users write them: `250ms`, `10s`, `5m`, `1h`, `30d`.
public enum DurationSyntax {
    /// Counts above this are clamped: far past any range a key allows, so the key's range
    /// diagnostic reports them, and small enough that no conversion of the duration overflows.
    public static let largestCount = 1_000_000_000

    public static func parse(_ text: String) -> Duration? {
        let units: [(suffix: String, make: (Int) -> Duration)] = [
            ("ms", { .milliseconds($0) }), ("s", { .seconds($0) }), ("m", { .seconds($0 * 60) }),
            ("h", { .seconds($0 * 3600) }), ("d", { .seconds($0 * 86_400) }),
        ]
        for (suffix, make) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = nonNegativeInteger(number) else { return nil }
            return make(min(value, largestCount))
        }
        return nil
    }

    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 86_400_000 == 0 && milliseconds > 0 { return "\(milliseconds / 86_400_000)d" }
        if milliseconds % 3_600_000 == 0 && milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 && milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}

/// A non-negative integer as written; digits too many for `Int` read as `Int.max` (too large
/// for every key, which is what the range check then says).
private func nonNegativeInteger(_ text: String) -> Int? {
    if let value = Int(text) { return value >= 0 ? value : nil }
    guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
        return nil
    }
    return .max
}
