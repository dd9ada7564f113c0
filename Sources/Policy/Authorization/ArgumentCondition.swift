internal import Foundation
internal import GatehouseJSON

/// Where in a tool's arguments a condition looks: `path`, `options.mode`, `$.items[0].url`,
/// `files[*]` (every element). Compiled once from the text a policy writes.
struct ArgumentPath: Sendable, Equatable, CustomStringConvertible {
    enum Step: Sendable, Equatable {
        case key(String)
        case index(Int)
        case everyElement
    }

    let steps: [Step]
    let description: String

    static func parse(_ text: String) -> ArgumentPath? {
        var rest = Substring(text)
        if rest.hasPrefix("$") { rest = rest.dropFirst().drop(while: { $0 == "." }) }
        var steps: [Step] = []
        var key = ""
        var index = rest.startIndex
        func flushKey() -> Bool {
            guard !key.isEmpty else { return true }
            steps.append(.key(key))
            key = ""
            return true
        }
        while index < rest.endIndex {
            let character = rest[index]
            switch character {
            case ".":
                guard !key.isEmpty || steps.last.map({ if case .key = $0 { false } else { true } }) == true else {
                    return nil
                }
                _ = flushKey()
                index = rest.index(after: index)
            case "[":
                _ = flushKey()
                guard let close = rest[index...].firstIndex(of: "]") else { return nil }
                let inner = rest[rest.index(after: index)..<close]
                if inner == "*" {
                    steps.append(.everyElement)
                } else if let position = Int(inner), position >= 0 {
                    steps.append(.index(position))
                } else if inner.count >= 2, inner.first == "'", inner.last == "'" {
                    steps.append(.key(String(inner.dropFirst().dropLast())))
                } else {
                    return nil
                }
                index = rest.index(after: close)
            default:
                key.append(character)
                index = rest.index(after: index)
            }
        }
        _ = flushKey()
        guard !steps.isEmpty else { return nil }
        return ArgumentPath(steps: steps, description: text)
    }

    /// Whether the path names at most one value (no `[*]`).
    var isSingle: Bool { !steps.contains(.everyElement) }

    /// The one value a single path reaches, without building lists (the common case).
    func single(in arguments: JSONValue?) -> JSONValue? {
        var current = arguments
        for step in steps {
            guard let value = current else { return nil }
            switch step {
            case .key(let key): current = value.objectValue?[key]
            case .index(let position):
                guard let items = value.arrayValue, position < items.count else { return nil }
                current = items[position]
            case .everyElement: return nil
            }
        }
        return current
    }

    /// Every value the path reaches; empty when it reaches nothing.
    func resolve(in arguments: JSONValue?) -> [JSONValue] {
        guard let arguments else { return [] }
        var current = [arguments]
        for step in steps {
            var next: [JSONValue] = []
            for value in current {
                switch step {
                case .key(let key):
                    if let member = value.objectValue?[key] { next.append(member) }
                case .index(let position):
                    if let items = value.arrayValue, position < items.count { next.append(items[position]) }
                case .everyElement:
                    if let items = value.arrayValue { next.append(contentsOf: items) }
                }
            }
            current = next
        }
        return current
    }
}

/// One test a condition applies to the (normalised) value.
enum ArgumentCheck: Sendable {
    case equals(JSONValue)
    case oneOf([JSONValue])
    /// For `normalize: path`, a directory the path must lie in; otherwise a string prefix.
    case prefix(String)
    case regex(source: String, compiled: NSRegularExpression)
    case range(minimum: Double?, maximum: Double?)
    /// Characters of a string, or elements of a list.
    case length(minimum: Int?, maximum: Int?)
    case present(Bool)
    /// URL rules: the scheme, lowercased.
    case scheme([String])
    /// URL rules: the host, normalised, against globs.
    case host([Glob])
}

/// A condition on one argument: where it is, how to read it, and what it must satisfy. Every
/// check must hold for every value the path reaches; a missing argument satisfies nothing but
/// `present: false`, unless the condition is `optional` (then it judges the argument only when
/// the agent sent it).
struct ArgumentCondition: Sendable {
    let path: ArgumentPath
    let normalizer: ArgumentNormalizer
    let checks: [ArgumentCheck]
    let isOptional: Bool
    /// `present: true` or `false`, if the condition says.
    private let presence: Bool?
    /// The checks that judge a value (all but `present`), split once at load.
    private let judged: [ArgumentCheck]

    init(path: ArgumentPath, normalizer: ArgumentNormalizer, checks: [ArgumentCheck], isOptional: Bool = false) {
        self.path = path
        self.normalizer = normalizer
        self.checks = checks
        self.isOptional = isOptional
        var presence: Bool?
        var judged: [ArgumentCheck] = []
        for check in checks {
            if case .present(let required) = check { presence = required } else { judged.append(check) }
        }
        self.presence = presence
        self.judged = judged
    }

    /// nil when the condition holds, else why not (safe to show: it never quotes the value).
    func failure(in arguments: JSONValue?) -> String? {
        if path.isSingle {
            let value = path.single(in: arguments)
            if let reason = presenceFailure(found: value != nil) { return reason }
            guard !judged.isEmpty else { return nil }
            guard let value else { return isOptional ? nil : "argument '\(path)' is missing" }
            return failure(of: value, checks: judged)
        }
        let values = path.resolve(in: arguments)
        if let reason = presenceFailure(found: !values.isEmpty) { return reason }
        guard !judged.isEmpty else { return nil }
        guard !values.isEmpty else { return isOptional ? nil : "argument '\(path)' is missing" }
        for value in values {
            if let reason = failure(of: value, checks: judged) { return reason }
        }
        return nil
    }

    private func presenceFailure(found: Bool) -> String? {
        switch presence {
        case true? where !found: "argument '\(path)' is required"
        case false? where found: "argument '\(path)' is not allowed"
        default: nil
        }
    }

    private func failure(of value: JSONValue, checks: [ArgumentCheck]) -> String? {
        var text = value.stringValue
        var url: URLNormalizer.Parsed?
        switch normalizer {
        case .none:
            break
        case .path:
            guard let raw = text else { return "argument '\(path)' must be a string path" }
            switch PathNormalizer.normalize(raw) {
            case .success(let normalized): text = normalized
            case .failure(let refusal): return "argument '\(path)': \(refusal.reason)"
            }
        case .url:
            guard let raw = text else { return "argument '\(path)' must be a string URL" }
            switch URLNormalizer.parse(raw) {
            case .success(let parsed):
                url = parsed
                text = parsed.canonical
            case .failure(let refusal): return "argument '\(path)': \(refusal.reason)"
            }
        }
        for check in checks {
            switch check {
            case .equals(let expected):
                guard Self.same(value, normalized: text, as: expected) else {
                    return "argument '\(path)' does not have the allowed value"
                }
            case .oneOf(let options):
                guard options.contains(where: { Self.same(value, normalized: text, as: $0) }) else {
                    return "argument '\(path)' is not one of the allowed values"
                }
            case .prefix(let prefix):
                guard let text else { return "argument '\(path)' must be a string" }
                let holds =
                    normalizer == .path ? PathNormalizer.isWithin(text, directory: prefix) : text.hasPrefix(prefix)
                if !holds {
                    return normalizer == .path
                        ? "argument '\(path)' must be a path inside \(prefix)"
                        : "argument '\(path)' must start with '\(prefix)'"
                }
            case .regex(let source, let compiled):
                guard let text else { return "argument '\(path)' must be a string" }
                let range = NSRange(text.startIndex..., in: text)
                guard let match = compiled.firstMatch(in: text, options: [.anchored], range: range),
                    match.range == range
                else { return "argument '\(path)' must match /\(source)/" }
            case .range(let minimum, let maximum):
                guard let number = value.doubleValue else { return "argument '\(path)' must be a number" }
                if let minimum, number < minimum { return "argument '\(path)' must be at least \(minimum)" }
                if let maximum, number > maximum { return "argument '\(path)' must be at most \(maximum)" }
            case .length(let minimum, let maximum):
                let count: Int
                if let items = value.arrayValue {
                    count = items.count
                } else if let string = value.stringValue {
                    count = string.count
                } else {
                    return "argument '\(path)' must be a string or a list"
                }
                if let minimum, count < minimum { return "argument '\(path)' must be at least \(minimum) long" }
                if let maximum, count > maximum { return "argument '\(path)' must be at most \(maximum) long" }
            case .scheme(let schemes):
                guard let url, schemes.contains(url.scheme) else {
                    return "argument '\(path)' must use \(schemes.joined(separator: " or "))"
                }
            case .host(let hosts):
                guard let url, hosts.anyMatches(url.host) else {
                    return "argument '\(path)' must point to an allowed host"
                }
            case .present:
                continue
            }
        }
        return nil
    }

    /// Strings compare in their normalised form; numbers by value; everything else exactly.
    private static func same(_ value: JSONValue, normalized: String?, as expected: JSONValue) -> Bool {
        switch (value, expected) {
        case (.string, .string(let wanted)): return normalized == wanted
        case (.number(let left), .number(let right)):
            return left == right || (Double(left) != nil && Double(left) == Double(right))
        default: return value == expected
        }
    }
}

extension JSONValue {
    /// The path of the first object, anywhere inside, that repeats a key. Servers disagree on
    /// which copy wins (the gateway's reader takes the first, Python's `json` the last), so a
    /// rule could judge one value while the server acts on another: such arguments are refused.
    func firstRepeatedKey(path: String = "arguments") -> String? {
        switch self {
        case .object(let object):
            let members = object.members
            if members.count <= 16 {
                // Most argument objects are small: comparing pairs beats building a set.
                for (index, member) in members.enumerated() {
                    for earlier in members[..<index] where earlier.key == member.key {
                        return "\(path).\(member.key)"
                    }
                }
            } else {
                var seen = Set<String>(minimumCapacity: members.count)
                for member in members where !seen.insert(member.key).inserted {
                    return "\(path).\(member.key)"
                }
            }
            for member in members where member.value.mayHoldObjects {
                if let inner = member.value.firstRepeatedKey(path: "\(path).\(member.key)") { return inner }
            }
            return nil
        case .array(let items):
            for (index, item) in items.enumerated() where item.mayHoldObjects {
                if let inner = item.firstRepeatedKey(path: "\(path)[\(index)]") { return inner }
            }
            return nil
        default:
            return nil
        }
    }

    private var mayHoldObjects: Bool {
        switch self {
        case .object, .array: true
        default: false
        }
    }
}
