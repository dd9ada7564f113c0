internal import GatehouseJSON
internal import GatehouseSSE
internal import GatehouseTracing
internal import NIOCore

/// What a model's answer said besides its usage, for its trace: the model that answered, why it
/// stopped, the tool calls it asked for (ids as the client sees them), and its text. Read from
/// the answer in the client's dialect, so a translated answer yields the ids the client will use.
struct AnswerSummary: Sendable, Equatable {
    var responseModel: String?
    var finishReasons: [String] = []
    var toolCalls: [RequestedToolCall] = []
    /// The answer's text, at most `textLimit` bytes kept (0 when content is not captured).
    var text = ""

    /// The output as the GenAI conventions' `gen_ai.output.messages` spell it.
    var outputMessages: String {
        var parts: [JSONValue] = []
        if !text.isEmpty {
            parts.append(.object(JSONObject(["type": .string("text"), "content": .string(text)])))
        }
        for call in toolCalls {
            parts.append(
                .object(
                    JSONObject([
                        "type": .string("tool_call"), "id": .string(call.id), "name": .string(call.name),
                        "arguments": .string(call.arguments),
                    ])
                )
            )
        }
        var message = JSONObject(["role": .string("assistant"), "parts": .array(parts)])
        if let reason = finishReasons.first { message["finish_reason"] = .string(reason) }
        return String(decoding: JSONValue.array([.object(message)]).serialized(), as: UTF8.self)
    }

    /// A complete answer's body, passed on as it came: only the members `read` looks at are
    /// parsed (not its id, usage and the rest); nil when the body is not a JSON object.
    static func read(_ body: ByteBuffer, format: UpstreamWireFormat, textLimit: Int) -> AnswerSummary? {
        guard let scanned = try? TopLevelJSONObject(scanning: body) else { return nil }
        return read(body, members: scanned, format: format, textLimit: textLimit)
    }

    /// The same, from a scan of the body its caller already made (for its usage).
    static func read(
        _ body: ByteBuffer,
        members: TopLevelJSONObject,
        format: UpstreamWireFormat,
        textLimit: Int
    ) -> AnswerSummary {
        var answer = JSONObject()
        for name in readMembers(format) {
            if let member = members.member(name), let value = body.jsonValue(at: member.valueRange) {
                answer[name] = value
            }
        }
        return read(answer, format: format, textLimit: textLimit)
    }

    /// Answers at most this large (the members read) may be read after the call, off its path.
    static let maximumLaterReadBytes = 2048

    /// The answer's model and finish reasons, read when its span is built rather than now: for a
    /// small answer that asks for no tool calls (the run needs those at once) and whose text is
    /// not captured. The members read are copied (a few hundred bytes), so the body itself is
    /// not kept. Nil when the answer must be read now.
    static func readLater(
        _ body: ByteBuffer,
        members: TopLevelJSONObject,
        format: UpstreamWireFormat,
        textLimit: Int
    ) -> (@Sendable () -> (responseModel: String?, finishReasons: [String]))? {
        guard textLimit == 0 else { return nil }
        let kept = readMembers(format).compactMap { name in members.member(name).map { (name, $0.valueRange) } }
        let size = kept.reduce(0) { $0 + $1.1.count }
        guard size <= maximumLaterReadBytes else { return nil }
        let marker = toolCallMarker(format)
        let readable = body.readableBytesView
        // `{"name":value,...}` of the members read, for the parser later.
        var object: [UInt8] = [UInt8(ascii: "{")]
        object.reserveCapacity(size + 16 * kept.count + 2)
        for (offset, (name, range)) in kept.enumerated() {
            let value = readable[(readable.startIndex + range.lowerBound)..<(readable.startIndex + range.upperBound)]
            if value.containsSubsequence(marker) { return nil }
            if offset > 0 { object.append(UInt8(ascii: ",")) }
            object.append(UInt8(ascii: "\""))
            object.append(contentsOf: name.utf8)
            object.append(contentsOf: "\":".utf8)
            object.append(contentsOf: value)
        }
        object.append(UInt8(ascii: "}"))
        return { [object] in
            guard let answer = (try? JSONValue.parse(object))?.objectValue else { return (nil, []) }
            let summary = read(answer, format: format, textLimit: 0)
            return (summary.responseModel, summary.finishReasons)
        }
    }

    /// The key or type that a tool call in an answer of `format` cannot be written without.
    private static func toolCallMarker(_ format: UpstreamWireFormat) -> [UInt8] {
        switch format {
        case .openAIChat, .openAIEmbeddings: chatToolCallMarker
        case .anthropicMessages: anthropicToolCallMarker
        case .openAIResponses: responsesToolCallMarker
        }
    }

    private static let chatToolCallMarker = Array("tool_calls".utf8)
    private static let anthropicToolCallMarker = Array("tool_use".utf8)
    private static let responsesToolCallMarker = Array("function_call".utf8)

    /// The top-level members `read` looks at, by dialect.
    private static func readMembers(_ format: UpstreamWireFormat) -> [String] {
        switch format {
        case .openAIChat, .openAIEmbeddings: ["model", "choices"]
        case .anthropicMessages: ["model", "stop_reason", "content"]
        case .openAIResponses: ["model", "status", "output"]
        }
    }

    /// A complete answer in a client dialect.
    static func read(_ answer: JSONObject, format: UpstreamWireFormat, textLimit: Int) -> AnswerSummary {
        var summary = AnswerSummary(responseModel: answer["model"]?.stringValue)
        func keep(_ text: String?) {
            guard let text, summary.text.utf8.count < textLimit else { return }
            summary.text += text
        }
        switch format {
        case .openAIChat, .openAIEmbeddings:
            for choice in answer["choices"]?.arrayValue ?? [] {
                if let reason = choice["finish_reason"]?.stringValue { summary.finishReasons.append(reason) }
                keep(choice["message"]?["content"]?.stringValue)
                for call in choice["message"]?["tool_calls"]?.arrayValue ?? [] {
                    guard let id = call["id"]?.stringValue, let name = call["function"]?["name"]?.stringValue else {
                        continue
                    }
                    let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
                    summary.toolCalls.append(
                        RequestedToolCall(id: id, name: name, arguments: ToolArguments.canonical(json: arguments))
                    )
                }
            }
        case .anthropicMessages:
            if let reason = answer["stop_reason"]?.stringValue { summary.finishReasons.append(reason) }
            for block in answer["content"]?.arrayValue ?? [] {
                switch block["type"]?.stringValue {
                case "text"?: keep(block["text"]?.stringValue)
                case "tool_use"?:
                    guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else { continue }
                    summary.toolCalls.append(
                        RequestedToolCall(id: id, name: name, arguments: ToolArguments.canonical(block["input"]))
                    )
                default: break
                }
            }
        case .openAIResponses:
            if let status = answer["status"]?.stringValue { summary.finishReasons.append(status) }
            for item in answer["output"]?.arrayValue ?? [] {
                switch item["type"]?.stringValue {
                case "message"?:
                    for part in item["content"]?.arrayValue ?? [] where part["type"]?.stringValue == "output_text" {
                        keep(part["text"]?.stringValue)
                    }
                case "function_call"?:
                    guard let id = item["call_id"]?.stringValue, let name = item["name"]?.stringValue else {
                        continue
                    }
                    let arguments = item["arguments"]?.stringValue ?? "{}"
                    summary.toolCalls.append(
                        RequestedToolCall(id: id, name: name, arguments: ToolArguments.canonical(json: arguments))
                    )
                default: break
                }
            }
        }
        if summary.text.utf8.count > textLimit { summary.text = TraceContent.cut(summary.text, limit: textLimit) }
        return summary
    }
}

/// Follows a stream as the client receives it and puts its answer together for the trace: tool
/// calls assembled from their deltas, the finish reason, the model, and (when captured) the text.
/// Parses only while tracing is on; bounded by the tool calls' and the text's limits.
struct StreamAnswerCollector: Sendable {
    let format: UpstreamWireFormat
    let textLimit: Int
    private(set) var summary = AnswerSummary()
    /// Tool calls being streamed, by their index in the answer.
    private var partialCalls: [Int: (id: String, name: String, arguments: String)] = [:]
    private var callOrder: [Int] = []
    private var hasFirstChunk = false

    /// Largest tool-call argument text assembled for matching.
    static let maximumArgumentBytes = 64 << 10

    init(format: UpstreamWireFormat, textLimit: Int) {
        self.format = format
        self.textLimit = textLimit
    }

    mutating func observe(_ raw: ByteBuffer) {
        // Without captured text, most events (text deltas) say nothing the trace keeps: parse
        // only those that can, once the model is known.
        if textLimit == 0, summary.responseModel != nil, !Self.mayMatter(raw.readableBytesView, format: format) {
            return
        }
        guard let event = SSEEvent.parse(raw), !event.isOpenAIDone,
            let payload = try? JSONValue.parse(Array(event.data.utf8))
        else { return }
        switch format {
        case .openAIChat, .openAIEmbeddings:
            if summary.responseModel == nil { summary.responseModel = payload["model"]?.stringValue }
            for choice in payload["choices"]?.arrayValue ?? [] {
                if let reason = choice["finish_reason"]?.stringValue { summary.finishReasons.append(reason) }
                keep(choice["delta"]?["content"]?.stringValue)
                for call in choice["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    let index = call["index"]?.intValue ?? 0
                    append(
                        index: index,
                        id: call["id"]?.stringValue,
                        name: call["function"]?["name"]?.stringValue,
                        arguments: call["function"]?["arguments"]?.stringValue
                    )
                }
            }
        case .anthropicMessages:
            switch payload["type"]?.stringValue ?? event.event {
            case "message_start"?:
                summary.responseModel = payload["message"]?["model"]?.stringValue
            case "content_block_start"?:
                let block = payload["content_block"]
                if block?["type"]?.stringValue == "tool_use" {
                    append(
                        index: payload["index"]?.intValue ?? 0,
                        id: block?["id"]?.stringValue,
                        name: block?["name"]?.stringValue,
                        arguments: nil
                    )
                }
            case "content_block_delta"?:
                let delta = payload["delta"]
                switch delta?["type"]?.stringValue {
                case "text_delta"?: keep(delta?["text"]?.stringValue)
                case "input_json_delta"?:
                    append(
                        index: payload["index"]?.intValue ?? 0,
                        id: nil,
                        name: nil,
                        arguments: delta?["partial_json"]?.stringValue
                    )
                default: break
                }
            case "message_delta"?:
                if let reason = payload["delta"]?["stop_reason"]?.stringValue { summary.finishReasons.append(reason) }
            default: break
            }
        case .openAIResponses:
            let type = payload["type"]?.stringValue ?? event.event ?? ""
            if type == "response.completed" || type == "response.incomplete" || type == "response.failed",
                let response = payload["response"]?.objectValue
            {
                summary = AnswerSummary.read(response, format: .openAIResponses, textLimit: textLimit)
                partialCalls = [:]
                callOrder = []
            }
        }
    }

    /// Whether an event may carry a tool call, a finish reason or the final response.
    private static func mayMatter(_ bytes: ByteBufferView, format: UpstreamWireFormat) -> Bool {
        switch format {
        case .openAIChat, .openAIEmbeddings:
            return bytes.containsSubsequence(toolCallsKey) || bytes.containsSubsequence(finishReasonSet)
                || bytes.containsSubsequence(finishReasonSetSpaced)
        case .anthropicMessages:
            return bytes.containsSubsequence(toolUse) || bytes.containsSubsequence(inputJSONDelta)
                || bytes.containsSubsequence(messageEvent)
        case .openAIResponses:
            return responseEnds.contains { bytes.containsSubsequence($0) }
        }
    }

    private static let toolCallsKey = Array("\"tool_calls\"".utf8)
    private static let finishReasonSet = Array("\"finish_reason\":\"".utf8)
    private static let finishReasonSetSpaced = Array("\"finish_reason\": \"".utf8)
    private static let toolUse = Array("\"tool_use\"".utf8)
    private static let inputJSONDelta = Array("input_json_delta".utf8)
    private static let messageEvent = Array("message_".utf8)
    private static let responseEnds = ["response.completed", "response.incomplete", "response.failed"].map {
        Array($0.utf8)
    }

    /// The answer once the stream ended (tool calls whose arguments were cut are kept by name).
    var finished: AnswerSummary {
        var result = summary
        for index in callOrder {
            guard let call = partialCalls[index], !call.name.isEmpty else { continue }
            let arguments = call.arguments.isEmpty ? "{}" : call.arguments
            result.toolCalls.append(
                RequestedToolCall(id: call.id, name: call.name, arguments: ToolArguments.canonical(json: arguments))
            )
        }
        return result
    }

    private mutating func keep(_ text: String?) {
        guard let text, textLimit > 0, summary.text.utf8.count < textLimit else { return }
        summary.text += text
        if summary.text.utf8.count > textLimit { summary.text = TraceContent.cut(summary.text, limit: textLimit) }
    }

    private mutating func append(index: Int, id: String?, name: String?, arguments: String?) {
        var call = partialCalls[index] ?? ("", "", "")
        if partialCalls[index] == nil { callOrder.append(index) }
        if let id, !id.isEmpty { call.id = id }
        if let name, !name.isEmpty { call.name += call.name.isEmpty ? name : "" }
        if let arguments, call.arguments.utf8.count + arguments.utf8.count <= Self.maximumArgumentBytes {
            call.arguments += arguments
        }
        partialCalls[index] = call
    }
}
