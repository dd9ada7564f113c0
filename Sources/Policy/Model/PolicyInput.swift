public import GatehouseCore
public import GatehouseJSON

/// What a plane asks the policy about: who, and what they want to do. Plain values, so a
/// `tools/call` that arrived over HTTP, stdio or a WebSocket is judged the same way.
public struct PolicyInput: Sendable {
    public let identity: Identity
    public let action: PolicyAction
    /// The request the action belongs to, for the audit log.
    public let requestID: RequestID?
    /// The MCP session and agent run the request belongs to, for session rules.
    public let session: SessionKeys
    /// For an LLM call: the providers its route may reach, for session rules on providers.
    public let providers: [String]

    public init(
        identity: Identity,
        action: PolicyAction,
        requestID: RequestID? = nil,
        session: SessionKeys = .none,
        providers: [String] = []
    ) {
        self.identity = identity
        self.action = action
        self.requestID = requestID
        self.session = session
        self.providers = providers
    }
}

/// A federated tool as policies name it: `{server}__{tool}` whatever endpoint listed it.
public struct ToolTarget: Sendable, Hashable {
    public let server: String
    /// The agent-visible, prefixed name (`files__read`).
    public let name: String

    public init(server: String, name: String) {
        self.server = server
        self.name = name
    }
}

public enum PolicyAction: Sendable {
    /// Whether `tools/list` shows the tool.
    case listTool(ToolTarget)
    /// A `tools/call`, with the arguments as the agent sent them.
    case callTool(ToolTarget, arguments: JSONValue?)
    /// Listing or using a server's prompts and resources.
    case useServer(String)
    /// Whether `/v1/models` shows the model.
    case listModel(String)
    /// A completion (or embedding) on a client-facing model name.
    case callModel(String)

    var verb: String {
        switch self {
        case .listTool: "list tool"
        case .callTool: "call tool"
        case .useServer: "use server"
        case .listModel: "list model"
        case .callModel: "use model"
        }
    }

    /// The audit log's name for the action, and its plane.
    var auditName: (plane: String, action: String) {
        switch self {
        case .listTool: ("mcp", "list_tool")
        case .callTool: ("mcp", "call_tool")
        case .useServer: ("mcp", "use_server")
        case .listModel: ("llm", "list_model")
        case .callModel: ("llm", "call_model")
        }
    }

    var subject: String {
        switch self {
        case .listTool(let tool), .callTool(let tool, _): tool.name
        case .useServer(let server): server
        case .listModel(let model), .callModel(let model): model
        }
    }
}
