internal import Foundation

// Detectors a policy defines itself: a regular expression (compiled once, with
// `NSRegularExpression`, matched on the case-preserving normalised view) and a keyword list
// (matched case-insensitively on the case-folded view, at word boundaries, any run of whitespace
// standing for a space in a phrase).

/// A compiled custom regular expression. `NSRegularExpression` is immutable once made and
/// documented as safe to use from several threads at once.
struct RegexDetector: @unchecked Sendable {
    let detector: Int
    let regex: NSRegularExpression

    init(detector: Int, name: String, pattern: String, caseInsensitive: Bool) throws(DetectorError) {
        self.detector = detector
        do {
            regex = try NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
        } catch {
            throw DetectorError("detector '\(name)': invalid regular expression '\(pattern)'")
        }
    }

    /// Non-empty matches as UTF-8 offsets of `string`.
    func matches(in string: String, firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let utf8 = string.utf8
        regex.enumerateMatches(in: string, range: NSRange(string.startIndex..<string.endIndex, in: string)) {
            result,
            _,
            stop in
            guard let result, result.range.length > 0, let range = Range(result.range, in: string) else { return }
            let start = utf8.distance(from: utf8.startIndex, to: range.lowerBound)
            found.append(start..<(start + utf8.distance(from: range.lowerBound, to: range.upperBound)))
            if firstOnly { stop.pointee = true }
        }
        return found
    }
}

/// A compiled keyword list: each keyword NFKC-normalised and lowercased like the text it meets.
struct KeywordDetector: Sendable {
    let detector: Int
    /// Lowercase UTF-8; a single space stands for any run of whitespace.
    let keywords: [[UInt8]]

    init(detector: Int, name: String, words: [String]) throws(DetectorError) {
        self.detector = detector
        guard !words.isEmpty else { throw DetectorError("detector '\(name)': the keyword list is empty") }
        var keywords: [[UInt8]] = []
        for word in words {
            let folded = NormalizedText(word).text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            guard !folded.isEmpty else { throw DetectorError("detector '\(name)': a keyword is empty") }
            keywords.append(Array(folded.utf8))
        }
        self.keywords = keywords
    }

    /// Matches as UTF-8 offsets of the folded view `text`.
    func matches(in text: ScanText, firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        for keyword in keywords {
            guard let first = keyword.first, let last = keyword.last else { continue }
            var search = 0
            while let start = text.firstIndex(of: first, from: search) {
                search = start + 1
                if Self.isWordByte(first), Self.isWordScalar(endingAt: start, in: text) { continue }
                guard let end = Self.match(keyword, text, start) else { continue }
                if Self.isWordByte(last), Self.isWordScalar(startingAt: end, in: text) { continue }
                found.append(start..<end)
                if firstOnly { break }
                search = end
            }
        }
        return found
    }

    private static func match(_ keyword: [UInt8], _ text: ScanText, _ start: Int) -> Int? {
        var index = start
        for byte in keyword {
            if byte == 0x20 {
                let end = text.runEnd(from: index) { $0.isSpace }
                guard end > index else { return nil }
                index = end
            } else {
                guard text[index] == byte else { return nil }
                index += 1
            }
        }
        return index
    }

    /// A word character for boundaries: ASCII letters, digits, `_`, and any non-ASCII scalar.
    private static func isWordByte(_ byte: UInt8) -> Bool {
        byte.isAlnum || byte == 0x5F || byte >= 0x80
    }

    private static func isWordScalar(_ value: UInt32) -> Bool {
        if value < 0x80 { return UInt8(value).isAlnum || value == 0x5F }
        guard let scalar = Unicode.Scalar(value) else { return false }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    private static func isWordScalar(startingAt index: Int, in text: ScanText) -> Bool {
        guard index < text.count else { return false }
        return isWordScalar(NormalizedText.decodeScalar(text.bytes, at: index).0)
    }

    private static func isWordScalar(endingAt index: Int, in text: ScanText) -> Bool {
        var start = index - 1
        while start > 0, text[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 else { return false }
        return isWordScalar(NormalizedText.decodeScalar(text.bytes, at: start).0)
    }
}
