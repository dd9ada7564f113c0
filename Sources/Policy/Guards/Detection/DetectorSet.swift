// Content detectors compiled once from a policy (built-ins, custom regular expressions, keyword
// lists) and run on prompts, completions and tool results. A scan normalises the text once
// (`NormalizedText`), runs every detector over the view, and reports matches as ranges of the
// ORIGINAL text, which is what redaction edits.

/// One detector as a policy names it.
public enum DetectorSpec: Sendable, Hashable {
    case builtin(BuiltinDetector)
    /// Matched on the normalised view (NFKC, invisible characters removed, case kept).
    case regex(name: String, pattern: String, caseInsensitive: Bool, placeholder: String)
    /// Words or phrases, matched case-insensitively on the normalised view at word boundaries.
    case keywords(name: String, words: [String], placeholder: String)
}

public struct DetectorError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public var description: String { message }

    init(_ message: String) {
        self.message = message
    }
}

/// A match in the scanned text. `detector` is the built-in's YAML name (`payment_card`) or the
/// custom detector's name.
public struct DetectorMatch: Sendable, Equatable {
    public let detector: String
    public let placeholder: String
    public let range: Range<String.Index>

    public init(detector: String, placeholder: String, range: Range<String.Index>) {
        self.detector = detector
        self.placeholder = placeholder
        self.range = range
    }
}

public struct DetectorSet: Sendable {
    private struct Label: Sendable {
        let name: String
        let placeholder: String
    }

    /// One bit per `BuiltinDetector.ordinal`.
    private let builtinMask: UInt32
    private let regexes: [RegexDetector]
    private let keywordLists: [KeywordDetector]
    /// Names and placeholders by detector index: built-in ordinals first, then custom detectors.
    private let labels: [Label]

    private static let invisibleBit: UInt32 = 1 << BuiltinDetector.invisibleText.ordinal

    /// Compiles the specs. A repeated built-in counts once. A custom detector needs a name; an
    /// empty placeholder means `[REDACTED]`. Errors: an invalid regular expression (the message
    /// names it), an empty keyword list or keyword.
    public init(_ specs: [DetectorSpec]) throws(DetectorError) {
        var mask: UInt32 = 0
        var labels = BuiltinDetector.allCases.map { Label(name: $0.rawValue, placeholder: $0.placeholder) }
        var regexes: [RegexDetector] = []
        var keywordLists: [KeywordDetector] = []
        for spec in specs {
            switch spec {
            case .builtin(let detector):
                mask |= 1 << detector.ordinal
            case .regex(let name, let pattern, let caseInsensitive, let placeholder):
                guard !name.isEmpty else { throw DetectorError("a regex detector needs a name") }
                regexes.append(
                    try RegexDetector(
                        detector: labels.count,
                        name: name,
                        pattern: pattern,
                        caseInsensitive: caseInsensitive
                    )
                )
                labels.append(Label(name: name, placeholder: placeholder.isEmpty ? "[REDACTED]" : placeholder))
            case .keywords(let name, let words, let placeholder):
                guard !name.isEmpty else { throw DetectorError("a keywords detector needs a name") }
                keywordLists.append(try KeywordDetector(detector: labels.count, name: name, words: words))
                labels.append(Label(name: name, placeholder: placeholder.isEmpty ? "[REDACTED]" : placeholder))
            }
        }
        self.builtinMask = mask
        self.regexes = regexes
        self.keywordLists = keywordLists
        self.labels = labels
    }

    /// Expands group names (`pii`, `secrets`, `injection`) and built-in names into built-ins, in
    /// order, each once. Unknown names are an error listing the valid ones.
    public static func builtins(named names: [String]) throws(DetectorError) -> [BuiltinDetector] {
        var result: [BuiltinDetector] = []
        for name in names {
            let expanded: [BuiltinDetector]
            if let group = BuiltinDetector.groups[name] {
                expanded = group
            } else if let detector = BuiltinDetector(rawValue: name) {
                expanded = [detector]
            } else {
                let valid = BuiltinDetector.groups.keys.sorted() + BuiltinDetector.allCases.map(\.rawValue)
                throw DetectorError("unknown detector '\(name)'; valid names: \(valid.joined(separator: ", "))")
            }
            for detector in expanded where !result.contains(detector) { result.append(detector) }
        }
        return result
    }

    public var isEmpty: Bool { builtinMask == 0 && regexes.isEmpty && keywordLists.isEmpty }

    /// Every match, sorted by start. Overlapping matches are merged into one covering both, named
    /// after the one that starts first (at the same start: the longer; then the built-in order,
    /// which puts specific secrets before `high_entropy_token`, then custom detectors in order).
    public func scan(_ text: String) -> [DetectorMatch] {
        let found = collect(text, firstOnly: false)
        guard !found.isEmpty else { return [] }
        var merged: [RawMatch] = []
        for match in found.sorted(by: Self.precedes) {
            if let last = merged.last, match.start < last.end {
                merged[merged.count - 1].end = max(last.end, match.end)
            } else {
                merged.append(match)
            }
        }
        return merged.map { makeMatch($0, in: text) }
    }

    /// The match `scan` would list first, without merging (its range may be shorter), found with
    /// each detector stopping at its own first match: for actions that only need to know whether
    /// and what.
    public func firstMatch(in text: String) -> DetectorMatch? {
        collect(text, firstOnly: true).min(by: Self.precedes).map { makeMatch($0, in: text) }
    }

    private static func precedes(_ left: RawMatch, _ right: RawMatch) -> Bool {
        if left.start != right.start { return left.start < right.start }
        if left.end != right.end { return left.end > right.end }
        return left.detector < right.detector
    }

    private func makeMatch(_ match: RawMatch, in text: String) -> DetectorMatch {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: match.start)
        let upper = utf8.index(lower, offsetBy: match.end - match.start)
        let label = labels[match.detector]
        return DetectorMatch(detector: label.name, placeholder: label.placeholder, range: lower..<upper)
    }

    /// Matches of every detector in ORIGINAL UTF-8 offsets, unsorted.
    private func collect(_ text: String, firstOnly: Bool) -> [RawMatch] {
        guard !isEmpty, !text.isEmpty else { return [] }
        var found: [RawMatch] = []
        let view = NormalizedText(text, foldingCase: false)
        if builtinMask & ~Self.invisibleBit != 0 {
            var sink = MatchSink(enabled: builtinMask & ~Self.invisibleBit, firstOnly: firstOnly)
            view.withUTF8 { BuiltinScanner.run(ScanText($0), into: &sink) }
            for match in sink.matches {
                let (start, end) = view.originalOffsets(match.start, match.end)
                found.append(RawMatch(start: start, end: end, detector: match.detector))
            }
        }
        if builtinMask & Self.invisibleBit != 0, !view.isASCII {
            let detector = BuiltinDetector.invisibleText.ordinal
            let ranges =
                text.utf8.withContiguousStorageIfAvailable {
                    BuiltinScanner.invisibleText($0, firstOnly: firstOnly)
                } ?? Array(text.utf8).withUnsafeBufferPointer { BuiltinScanner.invisibleText($0, firstOnly: firstOnly) }
            for range in ranges {
                found.append(RawMatch(start: range.lowerBound, end: range.upperBound, detector: detector))
            }
        }
        if !regexes.isEmpty {
            let string = view.text
            for regex in regexes {
                for range in regex.matches(in: string, firstOnly: firstOnly) {
                    let (start, end) = view.originalOffsets(range.lowerBound, range.upperBound)
                    found.append(RawMatch(start: start, end: end, detector: regex.detector))
                }
            }
        }
        if !keywordLists.isEmpty {
            let folded = NormalizedText(text, foldingCase: true)
            folded.withUTF8 { bytes in
                let scanText = ScanText(bytes)
                for list in keywordLists {
                    for range in list.matches(in: scanText, firstOnly: firstOnly) {
                        let (start, end) = folded.originalOffsets(range.lowerBound, range.upperBound)
                        found.append(RawMatch(start: start, end: end, detector: list.detector))
                    }
                }
            }
        }
        return found
    }
}
