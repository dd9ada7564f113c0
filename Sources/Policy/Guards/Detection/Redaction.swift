/// Redaction: the original text with each match's range replaced by its placeholder, everything
/// else byte for byte as it was (including the invisible or fullwidth characters around a match).
public enum Redaction {
    /// Replaces each match's range of `text` with its placeholder. Matches may come in any order:
    /// they are applied by start (the longer first when two start together), and one that overlaps
    /// a match already applied, or whose range is not inside `text`, is skipped.
    public static func apply(_ matches: [DetectorMatch], to text: String) -> String {
        guard !matches.isEmpty else { return text }
        let utf8 = text.utf8
        var result: [UInt8] = []
        result.reserveCapacity(utf8.count)
        var cursor = utf8.startIndex
        let ordered = matches.sorted {
            $0.range.lowerBound != $1.range.lowerBound
                ? $0.range.lowerBound < $1.range.lowerBound : $0.range.upperBound > $1.range.upperBound
        }
        for match in ordered {
            let range = match.range
            guard range.lowerBound >= cursor, range.upperBound <= utf8.endIndex else { continue }
            result.append(contentsOf: utf8[cursor..<range.lowerBound])
            result.append(contentsOf: match.placeholder.utf8)
            cursor = range.upperBound
        }
        result.append(contentsOf: utf8[cursor...])
        return String(decoding: result, as: UTF8.self)
    }
}
