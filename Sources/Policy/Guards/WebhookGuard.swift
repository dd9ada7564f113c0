internal import GatehouseCore
internal import GatehouseJSON

/// Sends a webhook guard's request. The executable implements it over its HTTP client: the Policy
/// module opens no sockets. Throws when the endpoint cannot be reached or does not answer in time.
public protocol GuardWebhookClient: Sendable {
    func post(url: String, body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8])
}

/// The webhook guard's wire format (documented in docs/policies.md, "Webhook guards").
///
/// Request: `{"flow", "agent", "subject", "request_id", "guard", "texts": [..]}`.
/// Answer: `{"action": "allow" | "redact" | "block", "reason"?, "redactions"?: [{"index", "start",
/// "end", "placeholder"?}]}`, where `start` and `end` count Unicode code points of `texts[index]`
/// (what Python's `str` indexes), end exclusive.
enum WebhookGuardCodec {
    enum Answer: Equatable {
        case allow
        case redact([String])
        case block(reason: String)
    }

    struct Problem: Error, Equatable {
        let message: String
    }

    static func request(flow: GuardFlow, guardID: String, context: GuardContext, texts: [String]) -> [UInt8] {
        var object = JSONObject([
            "flow": .string(flow.rawValue),
            "agent": .string(context.identity.agentName),
            "subject": .string(context.subject),
            "guard": .string(guardID),
        ])
        if let requestID = context.requestID { object["request_id"] = .string(requestID.description) }
        object["texts"] = .array(texts.map { .string($0) })
        return JSONValue.object(object).serialized()
    }

    /// Reads an answer about `texts`; a malformed answer is a problem (treated as the endpoint failing).
    static func answer(_ body: [UInt8], texts: [String]) -> Result<Answer, Problem> {
        guard let value = try? JSONValue.parse(body), let object = value.objectValue else {
            return .failure(Problem(message: "the answer is not a JSON object"))
        }
        switch object["action"]?.stringValue {
        case "allow":
            return .success(.allow)
        case "block":
            return .success(.block(reason: object["reason"]?.stringValue ?? "blocked by the webhook guard"))
        case "redact":
            var scalars = texts.map { Array($0.unicodeScalars) }
            var spans: [(index: Int, start: Int, end: Int, placeholder: String)] = []
            for item in object["redactions"]?.arrayValue ?? [] {
                guard let index = item["index"]?.intValue ?? (texts.count == 1 ? 0 : nil),
                    let start = item["start"]?.intValue, let end = item["end"]?.intValue,
                    scalars.indices.contains(index), 0 <= start, start <= end, end <= scalars[index].count
                else {
                    return .failure(Problem(message: "a redaction names no valid span"))
                }
                spans.append((index, start, end, item["placeholder"]?.stringValue ?? "[REDACTED]"))
            }
            // Later spans first, so earlier offsets stay valid; overlapping spans are refused.
            spans.sort { ($0.index, $0.start) > ($1.index, $1.start) }
            for (position, span) in spans.enumerated() {
                if position > 0 {
                    let later = spans[position - 1]
                    if later.index == span.index && later.start < span.end {
                        return .failure(Problem(message: "redactions overlap"))
                    }
                }
                scalars[span.index].replaceSubrange(span.start..<span.end, with: span.placeholder.unicodeScalars)
            }
            return .success(
                .redact(
                    scalars.map { text in
                        var string = String.UnicodeScalarView()
                        string.append(contentsOf: text)
                        return String(string)
                    }
                )
            )
        default:
            return .failure(Problem(message: "the answer's action is not allow, redact or block"))
        }
    }
}
