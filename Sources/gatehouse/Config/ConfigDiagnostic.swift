/// One problem found in a configuration file, located by line, column and key path.
///
/// Messages never quote a configured value: a secret written in the wrong place must not be
/// printed back by `gatehouse validate`, a reload error or a log line.
struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// The file as the user named it, or `<embedded defaults>`.
    let file: String
    let line: Int
    let column: Int
    /// Dotted key path, with list positions in brackets: `agents[0].api_keys[1]`.
    let path: String
    let message: String
    /// How to fix it, when there is something better to say than the message.
    let hint: String?

    var description: String {
        let location = "\(file):\(line):\(column)"
        let subject = path.isEmpty ? "" : "\(path): "
        let fix = hint.map { " (\($0))" } ?? ""
        return "\(location): error: \(subject)\(message)\(fix)"
    }
}

/// The outcome of reading a configuration: the validated value, or every problem found.
enum ConfigValidation<Value: Sendable>: Sendable {
    case valid(Value)
    case invalid([ConfigDiagnostic])
}
