/// A name pattern as policies write them: `*` matches any run of characters (also none), `?` any
/// one character, everything else itself. Compiled once, when a policy loads; matching walks the
/// name's Unicode scalars once, with a single backtrack point per `*`.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let pattern: [Unicode.Scalar]
    /// The common shapes match without walking the pattern: most rules name one tool, a prefix
    /// (`files__*`), a suffix or a fragment (`*__delete*`).
    private let shape: Shape

    private enum Shape: Hashable {
        case everything
        case literal
        case prefix([UInt8])
        case suffix([UInt8])
        case fragment([UInt8])
        case general
    }

    public init(_ text: String) {
        self.description = text
        self.pattern = Array(text.unicodeScalars)
        let stars = text.filter { $0 == "*" }.count
        if text.contains("?") {
            shape = .general
        } else if stars == 0 {
            shape = .literal
        } else if text.allSatisfy({ $0 == "*" }) {
            shape = .everything
        } else if stars == 1, text.hasSuffix("*") {
            shape = .prefix(Array(text.utf8.dropLast()))
        } else if stars == 1, text.hasPrefix("*") {
            shape = .suffix(Array(text.utf8.dropFirst()))
        } else if stars == 2, text.hasPrefix("*"), text.hasSuffix("*") {
            shape = .fragment(Array(text.utf8.dropFirst().dropLast()))
        } else {
            shape = .general
        }
    }

    public var matchesEverything: Bool { shape == .everything }

    public func matches(_ name: String) -> Bool {
        switch shape {
        case .everything: return true
        case .literal: return name == description
        // Byte comparisons: names are compared as written, and String's own searches (which
        // build a table per call) cost more than the whole rest of a decision.
        case .prefix(let prefix): return name.utf8.starts(with: prefix)
        case .suffix(let suffix): return name.utf8.reversed().starts(with: suffix.reversed())
        case .fragment(let fragment): return Self.contains(fragment, in: name)
        case .general: break
        }
        let text = Array(name.unicodeScalars)
        var textIndex = 0
        var patternIndex = 0
        var starIndex: Int?
        var starTextIndex = 0
        while textIndex < text.count {
            if patternIndex < pattern.count, pattern[patternIndex] == "?" || pattern[patternIndex] == text[textIndex] {
                textIndex += 1
                patternIndex += 1
            } else if patternIndex < pattern.count, pattern[patternIndex] == "*" {
                starIndex = patternIndex
                starTextIndex = textIndex
                patternIndex += 1
            } else if let star = starIndex {
                patternIndex = star + 1
                starTextIndex += 1
                textIndex = starTextIndex
            } else {
                return false
            }
        }
        while patternIndex < pattern.count, pattern[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == pattern.count
    }
}

extension Glob {
    static func contains(_ fragment: [UInt8], in name: String) -> Bool {
        guard !fragment.isEmpty else { return true }
        if let found = name.utf8.withContiguousStorageIfAvailable({ search(fragment, in: $0) }) { return found }
        return Array(name.utf8).withUnsafeBufferPointer { search(fragment, in: $0) }
    }

    private static func search(_ fragment: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= fragment.count else { return false }
        for start in 0...(bytes.count - fragment.count) where bytes[start] == fragment[0] {
            var offset = 1
            while offset < fragment.count, bytes[start + offset] == fragment[offset] { offset += 1 }
            if offset == fragment.count { return true }
        }
        return false
    }
}

extension [Glob] {
    func anyMatches(_ name: String) -> Bool { contains { $0.matches(name) } }
}
