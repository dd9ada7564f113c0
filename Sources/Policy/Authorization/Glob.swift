/// A name pattern as policies write them: `*` matches any run of characters (also none), `?` any
/// one character, everything else itself. Compiled once, when a policy loads; matching walks the
/// name's Unicode scalars once, with a single backtrack point per `*`.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let pattern: [Unicode.Scalar]
    /// A pattern without wildcards compares as a string (most rules name one tool or model).
    private let isLiteral: Bool

    public init(_ text: String) {
        self.description = text
        self.pattern = Array(text.unicodeScalars)
        self.isLiteral = !text.contains("*") && !text.contains("?")
    }

    public var matchesEverything: Bool { description == "*" }

    public func matches(_ name: String) -> Bool {
        if isLiteral { return name == description }
        if matchesEverything { return true }
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

extension [Glob] {
    func anyMatches(_ name: String) -> Bool { contains { $0.matches(name) } }
}
