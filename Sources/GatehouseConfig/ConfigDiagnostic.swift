/// One problem found in a configuration file, located by line, column and key path.
///
/// Messages never quote a configured value: a secret written in the wrong place must not be
/// printed back by `gatehouse validate`, a reload error or a log line.
///
/// Encodes as `{file, line, column, path, message, hint}` (the admin API's shape for problems).
public struct ConfigDiagnostic: Sendable, Equatable, Encodable, CustomStringConvertible {
    /// The file as the user named it, or `<embedded defaults>`.
    public let file: String
    public let line: Int
    public let column: Int
    /// Dotted key path, with list positions in brackets: `agents[0].api_keys[1]`.
    public let path: String
    public let message: String
    /// How to fix it, when there is something better to say than the message.
    public let hint: String?

    public init(file: String, line: Int, column: Int, path: String, message: String, hint: String?) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
        self.hint = hint
    }

    private enum CodingKeys: String, CodingKey {
        case file, line, column, path, message, hint
    }

    public var description: String {
        let location = "\(file):\(line):\(column)"
        let subject = path.isEmpty ? "" : "\(path): "
        let fix = hint.map { " (\($0))" } ?? ""
        return "\(location): error: \(subject)\(message)\(fix)"
    }
}

/// The outcome of reading a configuration: the validated value, or every problem found.
public enum ConfigValidation<Value: Sendable>: Sendable {
    case valid(Value)
    case invalid([ConfigDiagnostic])
}
