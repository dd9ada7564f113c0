internal import Foundation

/// Expands `${VAR}` and `${VAR:-default}` in a configuration value, as a shell does:
/// the default applies when the variable is unset or empty. `$$` writes a literal `$`.
public enum EnvironmentSubstitution {
    public enum Expansion: Equatable {
        case expanded(String)
        case failed([Failure])
    }

    public enum Failure: Equatable {
        case unsetVariable(String)
        case malformedReference(String)
    }

    /// Returns the expanded text, or every variable that is missing (so one pass reports them all).
    public static func expand(_ text: String, environment: [String: String]) -> Expansion {
        guard text.contains("$") else { return .expanded(text) }
        var output = ""
        var failures: [Failure] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                output.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                output.append(character)
                index = next
                continue
            }
            let bodyStart = text.index(after: next)
            guard let close = text[bodyStart...].firstIndex(of: "}") else {
                failures.append(.malformedReference(String(text[index...])))
                break
            }
            let body = text[bodyStart..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.range(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            if !isVariableName(name) {
                failures.append(.malformedReference("${\(body)}"))
            } else if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                failures.append(.unsetVariable(String(name)))
            }
            index = text.index(after: close)
        }
        return failures.isEmpty ? .expanded(output) : .failed(failures)
    }

    private static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return name.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
