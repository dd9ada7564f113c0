#if canImport(FoundationEssentials)
    internal import FoundationEssentials
#else
    internal import Foundation
#endif

/// Ids and timestamps for translated bodies. Upstream ids are kept as they are (`msg_…` becomes an
/// OpenAI `id`, `chatcmpl-…` an Anthropic `id`) so a log line can be matched with the provider's;
/// an id is only made up when the upstream sent none.
enum ResponseIdentity {
    static func currentUnixTime() -> Int {
        Int(Date().timeIntervalSince1970)
    }

    /// `prefix` followed by 24 random hex digits.
    static func generatedID(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high = String(generator.next() as UInt64, radix: 16)
        let low = String(generator.next() as UInt32, radix: 16)
        return prefix + String(repeating: "0", count: 16 - high.count) + high
            + String(repeating: "0", count: 8 - low.count) + low
    }
}
