internal import Foundation
public import GatehouseCore
public import Yams

/// Walks a parsed YAML document and reads typed values out of it, recording every problem it
/// meets instead of stopping at the first, so `gatehouse validate` can list them all.
///
/// Each accessor returns nil after recording a diagnostic; callers then keep the default and go
/// on reading the rest of the file.
public struct ConfigReader {
    public let file: String
    public let environment: [String: String]
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    public mutating func report(_ node: Node?, path: String, _ message: String, hint: String? = nil) {
        let mark = node?.mark
        diagnostics.append(
            ConfigDiagnostic(
                file: file,
                line: mark?.line ?? 1,
                column: mark?.column ?? 1,
                path: path,
                message: message,
                hint: hint
            )
        )
    }

    /// The entries of a mapping whose keys are all in `allowedKeys`; each unknown key is reported
    /// with the nearest known one as a suggestion. Returns nil (reported) when `node` is not a mapping.
    public mutating func mapping(_ node: Node, path: String, allowedKeys: [String]) -> [String: Node]? {
        if case .scalar(let scalar) = node, scalar.tag.description.hasSuffix("null") || scalar.string.isEmpty {
            return [:]  // an empty section (`server:`) means "all defaults"
        }
        guard let mapping = node.mapping else {
            report(node, path: path, "expected a mapping (key: value lines), found \(Self.kind(of: node))")
            return nil
        }
        var entries: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(keyNode, path: path, "keys must be plain names")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowedKeys.contains(key) else {
                let suggestion =
                    Self.nearest(to: key, in: allowedKeys).map { "did you mean '\($0)'?" }
                    ?? "known keys here: \(allowedKeys.joined(separator: ", "))"
                report(keyNode, path: keyPath, "unknown key '\(key)'", hint: suggestion)
                continue
            }
            if entries[key] != nil {
                report(keyNode, path: keyPath, "key '\(key)' appears twice", hint: "keep one of them")
                continue
            }
            entries[key] = valueNode
        }
        return entries
    }

    public mutating func sequence(_ node: Node, path: String) -> [Node]? {
        guard let sequence = node.sequence else {
            report(
                node,
                path: path,
                "expected a list, found \(Self.kind(of: node))",
                hint: "write each item on its own '- ' line"
            )
            return nil
        }
        return Array(sequence)
    }

    /// A scalar with `${VAR}` references expanded.
    public mutating func string(_ node: Node, path: String) -> String? {
        guard let scalar = node.scalar else {
            report(node, path: path, "expected a single value, found \(Self.kind(of: node))")
            return nil
        }
        switch EnvironmentSubstitution.expand(scalar.string, environment: environment) {
        case .expanded(let value):
            return value
        case .failed(let failures):
            for failure in failures {
                switch failure {
                case .unsetVariable(let name):
                    report(
                        node,
                        path: path,
                        "environment variable \(name) is not set",
                        hint: "export \(name)=… before starting, or write ${\(name):-default}"
                    )
                case .malformedReference(let reference):
                    report(
                        node,
                        path: path,
                        "malformed variable reference '\(reference)'",
                        hint: "write ${NAME} or ${NAME:-default}; $$ for a literal $"
                    )
                }
            }
            return nil
        }
    }

    public mutating func secret(_ node: Node, path: String) -> Secret? {
        string(node, path: path).map(Secret.init)
    }

    public mutating func nonEmptyString(_ node: Node, path: String) -> String? {
        guard let value = string(node, path: path) else { return nil }
        guard !value.isEmpty else {
            report(node, path: path, "must not be empty")
            return nil
        }
        return value
    }

    public mutating func integer(_ node: Node, path: String, range: ClosedRange<Int>, example: String) -> Int? {
        guard let text = scalarText(node, path: path, expected: "an integer", example: example) else { return nil }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            report(node, path: path, "expected an integer", hint: "for example \(example)")
            return nil
        }
        guard range.contains(value) else {
            report(node, path: path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    public mutating func decimal(_ node: Node, path: String, range: ClosedRange<Double>, example: String) -> Double? {
        guard let text = scalarText(node, path: path, expected: "a number", example: example) else { return nil }
        guard let value = Double(text), value.isFinite else {
            report(node, path: path, "expected a number", hint: "for example \(example)")
            return nil
        }
        guard range.contains(value) else {
            report(node, path: path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return value
    }

    /// An http(s) URL without query or fragment.
    public mutating func baseURL(_ node: Node, path: String, example: String) -> String? {
        guard let text = nonEmptyString(node, path: path) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil, url.query == nil, url.fragment == nil
        else {
            report(
                node,
                path: path,
                "expected an http:// or https:// URL without query",
                hint: "for example \(example)"
            )
            return nil
        }
        return text
    }

    /// A size in bytes: a plain integer, or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB).
    public mutating func byteSize(_ node: Node, path: String, range: ClosedRange<Int>, example: String) -> Int? {
        guard let text = scalarText(node, path: path, expected: "a size", example: example) else { return nil }
        guard let bytes = ByteSizeSyntax.parse(text) else {
            report(node, path: path, "expected a size such as 4MiB, 512KiB or 1048576", hint: "for example \(example)")
            return nil
        }
        guard range.contains(bytes) else {
            report(
                node,
                path: path,
                "must be between \(ByteSizeSyntax.format(range.lowerBound)) and \(ByteSizeSyntax.format(range.upperBound))"
            )
            return nil
        }
        return bytes
    }

    /// A duration with a unit: 250ms, 10s, 5m, 1h.
    public mutating func duration(
        _ node: Node,
        path: String,
        range: ClosedRange<Duration>,
        example: String
    ) -> Duration? {
        guard let text = scalarText(node, path: path, expected: "a duration", example: example) else { return nil }
        guard let value = DurationSyntax.parse(text) else {
            report(node, path: path, "expected a duration with a unit (ms, s, m, h, d)", hint: "for example \(example)")
            return nil
        }
        guard range.contains(value) else {
            report(
                node,
                path: path,
                "must be between \(DurationSyntax.format(range.lowerBound)) and \(DurationSyntax.format(range.upperBound))"
            )
            return nil
        }
        return value
    }

    public mutating func choice(_ node: Node, path: String, options: [String]) -> String? {
        guard let value = string(node, path: path) else { return nil }
        guard options.contains(value) else {
            report(node, path: path, "must be one of: \(options.joined(separator: ", "))")
            return nil
        }
        return value
    }

    private mutating func scalarText(_ node: Node, path: String, expected: String, example: String) -> String? {
        guard node.scalar != nil else {
            report(
                node,
                path: path,
                "expected \(expected), found \(Self.kind(of: node))",
                hint: "for example \(example)"
            )
            return nil
        }
        return string(node, path: path)?.trimmingCharacters(in: .whitespaces)
    }

    public static func kind(of node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar: "a single value"
        case .alias: "an alias"
        }
    }

    /// The known key closest to a misspelt one, if it is close enough to be what was meant.
    public static func nearest(to key: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(key, $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, key.count / 3) ? best.0 : nil
    }

    public static func editDistance(_ left: String, _ right: String) -> Int {
        let left = Array(left), right = Array(right)
        guard !left.isEmpty else { return right.count }
        guard !right.isEmpty else { return left.count }
        var previous = Array(0...right.count)
        for (i, leftCharacter) in left.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: right.count)
            for (j, rightCharacter) in right.enumerated() {
                current[j + 1] = Swift.min(
                    previous[j + 1] + 1,
                    current[j] + 1,
                    previous[j] + (leftCharacter == rightCharacter ? 0 : 1)
                )
            }
            previous = current
        }
        return previous[right.count]
    }
}
