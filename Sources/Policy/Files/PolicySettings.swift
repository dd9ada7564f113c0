public import GatehouseConfig
public import Yams

/// The main configuration's `policy:` section: where the policy files are.
public struct PolicySettings: Sendable, Equatable {
    /// The policies directory, relative to the working directory; nil means no policies (every
    /// authenticated agent may use every model and tool).
    public var directory: String?

    public init(directory: String? = nil) {
        self.directory = directory
    }

    public static let knownKeys = ["directory"]

    /// Reads the section; problems go to `reader`.
    public static func decode(_ node: Node, reader: inout ConfigReader) -> PolicySettings {
        var settings = PolicySettings()
        guard let entries = reader.mapping(node, path: "policy", allowedKeys: knownKeys) else { return settings }
        if let node = entries["directory"], let directory = reader.nonEmptyString(node, path: "policy.directory") {
            settings.directory = directory
        }
        return settings
    }
}
