internal import Foundation
internal import Synchronization

/// A normalised view of a text for content detectors, mapped back to the original.
///
/// Per Unicode scalar: NFKC (fullwidth `４` → `4`, `ﬁ` → `fi`, `①` → `1`), optionally lowercase,
/// and the invisible characters attackers hide inside words (`isInvisible`) removed. Every byte of
/// the view remembers the original scalar it came from, so a match found in the view becomes a
/// range of the original text, the one redaction edits. Scalars are normalised one at a time
/// (not whole strings): cheap, and a match never depends on text outside it.
///
/// Pure ASCII is the common case on the request path, and there the view is the text itself:
/// no copy, no map (when folding case, a lowercased copy with the same offsets). Cyrillic and
/// Greek look-alikes (`а` for `a`) are not folded: NFKC keeps them apart, and so does this view.
public struct NormalizedText: Sendable {
    /// The text the view was made from.
    public let original: String
    /// Whether `original` is pure ASCII (then every view offset is the original offset).
    public let isASCII: Bool
    /// The view's UTF-8, or nil when it is `original` itself.
    private let bytes: [UInt8]?
    /// For each byte of `bytes`, the UTF-8 offset in `original` of the scalar it came from;
    /// nil when the offsets are the original ones.
    private let sources: [Int]?

    /// - Parameter foldingCase: also lowercase (for case-insensitive matching). Without it the
    ///   view keeps case, which secrets (`AKIA…`), entropy and case-sensitive patterns need.
    public init(_ text: String, foldingCase: Bool = true) {
        original = text
        let (ascii, upper) = Self.classify(text)
        isASCII = ascii
        if ascii {
            sources = nil
            bytes = foldingCase && upper ? text.utf8.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 } : nil
            return
        }
        var out: [UInt8] = []
        var map: [Int] = []
        let utf8 = text.utf8
        let normalize = { (source: UnsafeBufferPointer<UInt8>) in
            out.reserveCapacity(source.count)
            map.reserveCapacity(source.count)
            Self.normalize(source, foldingCase: foldingCase, into: &out, sources: &map)
        }
        if utf8.withContiguousStorageIfAvailable(normalize) == nil {
            Array(utf8).withUnsafeBufferPointer(normalize)
        }
        bytes = out
        sources = map
    }

    /// Whether the view is the original text, byte for byte.
    public var isIdentity: Bool { bytes == nil }

    /// The normalised text.
    public var text: String {
        guard let bytes else { return original }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The range of `original` that the view's bytes `range` came from (UTF-8 offsets into
    /// `text`). Stripped characters inside the range are part of it; an empty or out-of-bounds
    /// range gives an empty range.
    public func originalRange(utf8Offsets range: Range<Int>) -> Range<String.Index> {
        let (start, end) = originalOffsets(range.lowerBound, range.upperBound)
        let utf8 = original.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: start)
        return lower..<utf8.index(lower, offsetBy: end - start)
    }

    /// The range of `original` that a range of `text` came from.
    public func originalRange(of range: Range<String.Index>) -> Range<String.Index> {
        let view = text
        let start = view.utf8.distance(from: view.startIndex, to: range.lowerBound)
        let end = view.utf8.distance(from: view.startIndex, to: range.upperBound)
        return originalRange(utf8Offsets: start..<end)
    }

    /// Calls `body` with the view's UTF-8.
    func withUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let bytes { return bytes.withUnsafeBufferPointer(body) }
        if let result = original.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(original.utf8).withUnsafeBufferPointer(body)
    }

    /// Original UTF-8 offsets for view offsets `start..<end`, clamped to the text.
    func originalOffsets(_ start: Int, _ end: Int) -> (Int, Int) {
        let count = bytes?.count ?? original.utf8.count
        let start = max(0, min(start, count))
        let end = max(start, min(end, count))
        guard let sources else { return (start, end) }
        guard start < end else {
            let offset = start < count ? sources[start] : original.utf8.count
            return (offset, offset)
        }
        let last = sources[end - 1]
        let utf8 = original.utf8
        return (sources[start], last + Self.scalarLength(utf8[utf8.index(utf8.startIndex, offsetBy: last)]))
    }

    /// The characters the view removes: zero-width spaces and joiners, word joiner and invisible
    /// operators, byte order mark, soft hyphen, Mongolian vowel separator, left-to-right and
    /// right-to-left marks, bidi embeddings, overrides and isolates, and Unicode tag characters.
    public static func isInvisible(_ value: UInt32) -> Bool {
        switch value {
        case 0x00AD, 0x180E, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF,
            0xE0000...0xE007F:
            return true
        default:
            return false
        }
    }

    // MARK: - Building

    /// (pure ASCII, contains A-Z), eight bytes at a time.
    private static func classify(_ text: String) -> (Bool, Bool) {
        let scan = { (bytes: UnsafeBufferPointer<UInt8>) -> (Bool, Bool) in
            var upper = false
            var index = 0
            let count = bytes.count
            if let base = bytes.baseAddress {
                let raw = UnsafeRawPointer(base)
                while index + 8 <= count {
                    let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { return (false, upper) }
                    if !upper {
                        // A byte is in 0x41...0x5A when adding 0x3F sets bit 7 and adding 0x25 does not.
                        let high = (word &+ 0x3F3F_3F3F_3F3F_3F3F) & ~(word &+ 0x2525_2525_2525_2525)
                        upper = high & 0x8080_8080_8080_8080 != 0
                    }
                    index += 8
                }
            }
            while index < count {
                let byte = bytes[index]
                if byte >= 0x80 { return (false, upper) }
                if byte &- 0x41 < 26 { upper = true }
                index += 1
            }
            return (true, upper)
        }
        return text.utf8.withContiguousStorageIfAvailable(scan) ?? Array(text.utf8).withUnsafeBufferPointer(scan)
    }

    private static func normalize(
        _ source: UnsafeBufferPointer<UInt8>,
        foldingCase: Bool,
        into out: inout [UInt8],
        sources map: inout [Int]
    ) {
        var index = 0
        let count = source.count
        while index < count {
            if source[index] < 0x80 {
                // A run of ASCII in one go: the bytes (lowercased if folding), offsets one to one.
                var end = index + 1
                while end < count, source[end] < 0x80 { end += 1 }
                if foldingCase {
                    for offset in index..<end {
                        let byte = source[offset]
                        out.append(byte &- 0x41 < 26 ? byte | 0x20 : byte)
                    }
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: source[index..<end]))
                }
                map.append(contentsOf: index..<end)
                index = end
                continue
            }
            let (value, length) = decodeScalar(source, at: index)
            defer { index += length }
            if isInvisible(value) { continue }
            guard let scalar = Unicode.Scalar(value) else { continue }
            switch kind(of: scalar) {
            case .stable:
                for offset in index..<min(index + length, count) {
                    out.append(source[offset])
                    map.append(index)
                }
                continue
            case .caseOnly(let lower):
                appendUTF8(foldingCase ? lower : scalar, to: &out, sources: &map, source: index)
                continue
            case .mapped:
                break
            }
            for mapped in compatibilityMapping(scalar).unicodeScalars
            where !isInvisible(mapped.value) {
                if foldingCase {
                    for folded in mapped.properties.lowercaseMapping.unicodeScalars {
                        appendUTF8(folded, to: &out, sources: &map, source: index)
                    }
                } else {
                    appendUTF8(mapped, to: &out, sources: &map, source: index)
                }
            }
        }
    }

    private enum Kind {
        /// Unchanged by NFKC and by lowercasing.
        case stable
        /// Unchanged by NFKC; lowercases to this one scalar (`Ä` → `ä`, `Д` → `д`).
        case caseOnly(Unicode.Scalar)
        /// Needs NFKC (`ß`, `ﬁ`, fullwidth forms, …).
        case mapped
    }

    /// Unicode property lookups cost tens of nanoseconds each, so the two-byte UTF-8 range (Latin,
    /// Greek, Cyrillic, Armenian, Hebrew, Arabic: most non-ASCII text) is classified once.
    private static let twoByteKinds: [Kind] = (0x80..<0x800).map { value in
        Unicode.Scalar(UInt32(value)).map(classify) ?? .mapped
    }

    @inline(__always) private static func kind(of scalar: Unicode.Scalar) -> Kind {
        let value = Int(scalar.value)
        if value < 0x800 { return twoByteKinds[value - 0x80] }
        if value >= 0x4E00, value <= 0x9FFF { return .stable }  // CJK unified ideographs
        return classify(scalar)
    }

    private static func classify(_ scalar: Unicode.Scalar) -> Kind {
        let properties = scalar.properties
        if !properties.changesWhenNFKCCaseFolded { return .stable }
        // Only a case difference: the lowercase is stable, so is the scalar under NFKC.
        let lower = properties.lowercaseMapping.unicodeScalars
        if let single = lower.first, lower.count == 1, single != scalar, !single.properties.changesWhenNFKCCaseFolded {
            return .caseOnly(single)
        }
        return .mapped
    }

    /// NFKC of one scalar. Foundation's normalisation costs microseconds a call, and the scalars
    /// that need it (`ß`, ligatures, fullwidth forms) repeat, so results are remembered process-wide
    /// (a few thousand at most: after that, computed each time).
    private static func compatibilityMapping(_ scalar: Unicode.Scalar) -> String {
        if let known = compatibilityMemo.withLock({ $0[scalar.value] }) { return known }
        let mapped = String(scalar).precomposedStringWithCompatibilityMapping
        compatibilityMemo.withLock { memo in
            if memo.count < 4096 { memo[scalar.value] = mapped }
        }
        return mapped
    }

    private static let compatibilityMemo = Mutex<[UInt32: String]>([:])

    private static func appendUTF8(
        _ scalar: Unicode.Scalar,
        to out: inout [UInt8],
        sources map: inout [Int],
        source: Int
    ) {
        for unit in scalar.utf8 {
            out.append(unit)
            map.append(source)
        }
    }

    /// The scalar starting at `index` of well-formed UTF-8 (Swift strings always are) and its length.
    static func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (UInt32, Int) {
        let lead = bytes[index]
        let length = scalarLength(lead)
        guard index + length <= bytes.count else { return (0xFFFD, 1) }
        var value: UInt32
        switch length {
        case 2: value = UInt32(lead & 0x1F)
        case 3: value = UInt32(lead & 0x0F)
        case 4: value = UInt32(lead & 0x07)
        default: return (UInt32(lead), 1)
        }
        for offset in 1..<length {
            value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
        }
        return (value, length)
    }

    /// The length of a UTF-8 sequence from its first byte (1 for a stray continuation byte).
    static func scalarLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }
}
