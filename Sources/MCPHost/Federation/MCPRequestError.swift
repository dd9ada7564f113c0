internal import GatehouseJSON
public import Policy

/// Why the federation answered a request with an error of its own. Thrown inside and rendered
/// once, by `MCPFederation.handle`, as a JSON-RPC error in the client's era.
public enum MCPRequestError: Error, Sendable, Equatable {
    case notARequest
    case methodNotFound(method: String)
    case missingToolName
    case unknownTool(name: String)
    /// Tool pinning in `block` mode: the definition changed since it was approved.
    case toolBlockedByPin(name: String)
    case missingPromptName
    case unknownPrompt(name: String)
    case missingResourceURI
    case resourceNotFound(uri: String)
    /// A list cursor the gateway did not mint.
    case invalidCursor
    /// The server that owns the tool, prompt or resource failed the call.
    case upstream(UpstreamCallError)
    /// The caller's policy refused the request, or one of its limits did (`decision.effect`
    /// says which); the upstream never saw it.
    case policyRefused(PolicyDecision)

    /// The error object a client of `era` expects.
    public func jsonRPCError(era: MCPEra) -> JSONRPCErrorObject {
        switch self {
        case .notARequest:
            return JSONRPCErrorObject(code: .invalidRequest, message: "not a request")
        case .methodNotFound(let method):
            return JSONRPCErrorObject(code: .methodNotFound, message: "Method not found: \(method)")
        case .missingToolName:
            return JSONRPCErrorObject(code: .invalidParams, message: "tools/call needs params.name")
        case .unknownTool(let name):
            return JSONRPCErrorObject(code: .invalidParams, message: "Unknown tool: \(name)")
        case .toolBlockedByPin(let name):
            return JSONRPCErrorObject(
                code: .invalidParams,
                message:
                    "Tool \(name) is blocked: its definition changed since it was approved; an administrator must approve it"
            )
        case .missingPromptName:
            return JSONRPCErrorObject(code: .invalidParams, message: "missing prompt name")
        case .unknownPrompt(let name):
            return JSONRPCErrorObject(code: .invalidParams, message: "Unknown prompt: \(name)")
        case .missingResourceURI:
            return JSONRPCErrorObject(code: .invalidParams, message: "missing uri")
        case .resourceNotFound(let uri):
            // 2026-07-28 folds "not found" into invalid params; the session era has its own code.
            let code =
                era.version >= MCPProtocolVersion.firstStateless
                ? JSONRPCErrorCode.invalidParams.rawValue : MCPErrorCode.resourceNotFound
            return JSONRPCErrorObject(
                code: code,
                message: "Resource not found",
                data: .object(JSONObject(["uri": .string(uri)]))
            )
        case .invalidCursor:
            return JSONRPCErrorObject(code: .invalidParams, message: "Invalid cursor")
        case .upstream(let error):
            return error.jsonRPCError
        case .policyRefused(let decision):
            var data = JSONObject(["rule": .string(decision.rule), "decision": .string(decision.effect.rawValue)])
            if let seconds = decision.retryAfterSeconds { data["retryAfterSeconds"] = JSONValue(seconds) }
            let code = decision.effect == .limit ? MCPErrorCode.rateLimited : MCPErrorCode.policyDenied
            return JSONRPCErrorObject(code: code, message: Self.policyMessage(decision), data: .object(data))
        }
    }

    /// What the agent reads: the reason and the rule, so a person can find and fix it.
    static func policyMessage(_ decision: PolicyDecision) -> String {
        switch decision.effect {
        case .limit: "Rate limited: \(decision.reason) (rule \(decision.rule))."
        case .block: "Blocked by policy: \(decision.reason) (rule \(decision.rule))."
        default: "Denied by policy: \(decision.reason) (rule \(decision.rule))."
        }
    }
}

extension MCPRequestError {
    /// What a trace says of the error: its kind, never the text of arguments or results.
    var traceMessage: String {
        switch self {
        case .policyRefused: "refused by policy"
        case .upstream: "the tool server failed"
        default: "JSON-RPC error"
        }
    }
}
