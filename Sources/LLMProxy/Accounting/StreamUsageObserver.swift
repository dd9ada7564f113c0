internal import GatehouseJSON
internal import GatehouseSSE
public import NIOCore

/// The upstream wire formats whose usage the gateway reads.
public enum UpstreamWireFormat: Sendable {
    case openAIChat
    case openAIResponses
    case openAIEmbeddings
    case anthropicMessages
}

/// Reads token usage from a complete (non-streaming) upstream response body.
public enum ResponseUsageReader {
    public static func usage(in body: ByteBuffer, format: UpstreamWireFormat) -> TokenUsage? {
        guard let object = try? TopLevelJSONObject(scanning: body) else { return nil }
        return usage(in: body, members: object, format: format)
    }

    /// The same, from a scan of the body its caller already made (and reads more of).
    public static func usage(
        in body: ByteBuffer,
        members: TopLevelJSONObject,
        format: UpstreamWireFormat
    ) -> TokenUsage? {
        guard let member = members.member("usage"), let usage = body.jsonValue(at: member.valueRange) else {
            return nil
        }
        switch format {
        case .openAIChat, .openAIEmbeddings: return TokenUsage.fromOpenAIChat(usage)
        case .openAIResponses: return TokenUsage.fromOpenAIResponses(usage)
        case .anthropicMessages: return TokenUsage.fromAnthropic(usage).tokenUsage
        }
    }
}

/// Follows a stream's events on the side and keeps the usage they report: the final usage chunk
/// of OpenAI chat, Anthropic's `message_start` and cumulative `message_delta`, the Responses
/// terminal event. It also tells which events end the stream.
public struct StreamUsageObserver: Sendable {
    public let format: UpstreamWireFormat
    public private(set) var usage: TokenUsage?
    private var anthropicFields = AnthropicUsageFields()
    public private(set) var sawTerminalEvent = false
    /// The model the provider says answered, from the events already parsed for usage.
    public private(set) var responseModel: String?

    public init(format: UpstreamWireFormat) {
        self.format = format
    }

    /// What an event turned out to be, for the relay's decisions.
    public enum Observation: Sendable, Equatable {
        case ordinary
        /// An OpenAI chat chunk with `choices: []` and a usage object (requested with include_usage).
        case usageOnlyChunk
        case terminal
    }

    public mutating func observe(_ raw: ByteBuffer) -> Observation {
        switch format {
        case .openAIChat, .openAIEmbeddings:
            guard
                raw.readableBytesView.containsSubsequence(Self.usageKey)
                    || raw.readableBytesView.containsSubsequence(Self.done)
            else { return .ordinary }
            guard let event = SSEEvent.parse(raw) else { return .ordinary }
            if event.isOpenAIDone {
                sawTerminalEvent = true
                return .terminal
            }
            guard let chunk = try? JSONValue.parse(Array(event.data.utf8)) else { return .ordinary }
            if let model = chunk["model"]?.stringValue { responseModel = model }
            guard let usageValue = chunk["usage"], let reported = TokenUsage.fromOpenAIChat(usageValue)
            else { return .ordinary }
            usage = reported
            return chunk["choices"]?.arrayValue?.isEmpty == true ? .usageOnlyChunk : .ordinary
        case .anthropicMessages:
            // Deltas are most of the stream; parse only the events that carry usage or end it.
            let bytes = raw.readableBytesView
            guard
                bytes.containsSubsequence(Self.messageEventPrefix) || bytes.containsSubsequence(Self.errorEvent)
                    || bytes.containsSubsequence(Self.messageEventPrefixNoSpace)
                    || bytes.containsSubsequence(Self.errorEventNoSpace)
            else { return .ordinary }
            guard let event = SSEEvent.parse(raw), let name = event.event else { return .ordinary }
            switch name {
            case "message_start":
                let message = try? JSONValue.parse(Array(event.data.utf8))
                if let model = message?["message"]?["model"]?.stringValue { responseModel = model }
                if let usageValue = message?["message"]?["usage"] {
                    anthropicFields = TokenUsage.fromAnthropic(usageValue)
                    usage = anthropicFields.tokenUsage
                }
            case "message_delta":
                // Cumulative: overwrite the fields it carries, keep the others.
                if let delta = try? JSONValue.parse(Array(event.data.utf8)), let usageValue = delta["usage"] {
                    anthropicFields = TokenUsage.fromAnthropic(usageValue, base: anthropicFields)
                    usage = anthropicFields.tokenUsage
                }
            case "message_stop", "error":
                sawTerminalEvent = true
                return .terminal
            default:
                break
            }
            return .ordinary
        case .openAIResponses:
            guard let event = SSEEvent.parse(raw) else { return .ordinary }
            let name = event.event ?? ""
            guard
                name == "response.completed" || name == "response.incomplete" || name == "response.failed"
                    || event.data.hasPrefix("{\"type\":\"response.completed\"")
            else {
                if event.isOpenAIDone {
                    sawTerminalEvent = true
                    return .terminal
                }
                return .ordinary
            }
            let payload = try? JSONValue.parse(Array(event.data.utf8))
            if let model = payload?["response"]?["model"]?.stringValue { responseModel = model }
            if let usageValue = payload?["response"]?["usage"] {
                usage = TokenUsage.fromOpenAIResponses(usageValue)
            }
            sawTerminalEvent = true
            return .terminal
        }
    }

    private static let usageKey = Array("\"usage\"".utf8)
    private static let done = Array("[DONE]".utf8)
    private static let messageEventPrefix = Array("event: message_".utf8)
    private static let errorEvent = Array("event: error".utf8)
    // SSE allows the field without the space after the colon.
    private static let messageEventPrefixNoSpace = Array("event:message_".utf8)
    private static let errorEventNoSpace = Array("event:error".utf8)
}

extension ByteBuffer {
    /// Parses the JSON value in `range` of the readable bytes.
    func jsonValue(at range: Range<Int>) -> JSONValue? {
        guard let bytes = getBytes(at: readerIndex + range.lowerBound, length: range.count) else { return nil }
        return try? JSONValue.parse(bytes)
    }
}

extension Collection where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= count else { return needle.isEmpty }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].starts(with: needle) { return true }
            index = self.index(after: found)
        }
        return false
    }
}
