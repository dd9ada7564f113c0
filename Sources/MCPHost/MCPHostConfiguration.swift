/// The MCP plane's configuration, validated by the executable and handed over as values.
public struct MCPHostConfiguration: Sendable, Equatable {
    public var servers: [MCPServerDefinition] = []
    /// What happens when a tool's definition differs from the approved one.
    public var toolPinning: ToolPinningMode = .warn
    /// Browser origins accepted besides the gateway's own host (`scheme://host[:port]`).
    public var allowedOrigins: [String] = []
    /// The deadline of one upstream call.
    public var requestTimeout: Duration = .seconds(60)
    /// Concurrent calls one upstream connection carries before new ones are refused.
    public var maximumPendingPerServer = 1024
    /// Session-era client sessions kept at once; the least recently used goes first.
    public var maximumSessions = 10_000
    /// A session unused this long is forgotten (its next request gets 404 and re-initializes).
    public var sessionIdleTimeout: Duration = .seconds(3600)

    public init() {}
}

public enum ToolPinningMode: String, Sendable, Equatable, CaseIterable {
    /// Log a changed definition and keep serving the tool.
    case warn
    /// Log it and hide the tool until an admin approves the new definition.
    case block
}

public struct MCPServerDefinition: Sendable, Equatable {
    public enum Transport: Sendable, Equatable {
        case stdio(StdioLaunch)
        case streamableHTTP(StreamableHTTPEndpoint)

        public var name: String {
            switch self {
            case .stdio: return "stdio"
            case .streamableHTTP: return "streamable_http"
            }
        }
    }

    public var name: String
    public var transport: Transport
    /// Spawn or connect, handshake and first tool list, together.
    public var startupTimeout: Duration
    /// Overrides `MCPHostConfiguration.toolPinning` for this server.
    public var pinning: ToolPinningMode?
    public var curation: ToolCuration

    public init(
        name: String,
        transport: Transport,
        startupTimeout: Duration = .seconds(20),
        pinning: ToolPinningMode? = nil,
        curation: ToolCuration = ToolCuration()
    ) {
        self.name = name
        self.transport = transport
        self.startupTimeout = startupTimeout
        self.pinning = pinning
        self.curation = curation
    }
}

/// Which of a server's tools are served, and under which name and description. Curation is not
/// authorization: it shapes the catalog for everyone.
public struct ToolCuration: Sendable, Equatable {
    /// Globs (`*`, `?`) on upstream tool names; empty means every tool.
    public var include: [String]
    public var exclude: [String]
    /// Upstream name → name shown (before the server prefix).
    public var rename: [String: String]
    /// Upstream name → description shown.
    public var descriptions: [String: String]

    public init(
        include: [String] = [],
        exclude: [String] = [],
        rename: [String: String] = [:],
        descriptions: [String: String] = [:]
    ) {
        self.include = include
        self.exclude = exclude
        self.rename = rename
        self.descriptions = descriptions
    }

    public func keeps(_ upstreamToolName: String) -> Bool {
        if !include.isEmpty, !include.contains(where: { Glob.matches($0, upstreamToolName) }) { return false }
        return !exclude.contains { Glob.matches($0, upstreamToolName) }
    }

    public func shownName(of upstreamToolName: String) -> String { rename[upstreamToolName] ?? upstreamToolName }
}

/// Shell-style globs: `*` any run of characters, `?` one character, everything else literal.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern.unicodeScalars)[...], Array(text.unicodeScalars)[...])
    }

    private static func matches(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        var pattern = pattern
        var text = text
        // Backtracking point of the last `*`: linear in practice, no recursion.
        var starPattern: ArraySlice<Unicode.Scalar>?
        var starText: ArraySlice<Unicode.Scalar>?
        while let character = text.first {
            if pattern.first == "*" {
                pattern = pattern.dropFirst()
                starPattern = pattern
                starText = text
            } else if let next = pattern.first, next == "?" || next == character {
                pattern = pattern.dropFirst()
                text = text.dropFirst()
            } else if let resumePattern = starPattern, let resumeText = starText {
                pattern = resumePattern
                text = resumeText.dropFirst()
                starText = text
            } else {
                return false
            }
        }
        return pattern.allSatisfy { $0 == "*" }
    }
}
