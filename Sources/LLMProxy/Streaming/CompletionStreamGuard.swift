internal import GatehouseJSON
internal import GatehouseSSE
internal import NIOCore
internal import Policy

/// What the stream guard needs of a scanner: text in, the part the client may get now out, and a
/// match once a blocked pattern was found. `StreamScanner` is the real one; tests bring their own.
protocol StreamTextScanner: Sendable {
    associatedtype Match: Sendable
    mutating func scan(_ delta: String) -> ScannedText<Match>
    /// The text still held back at the end of a channel (a choice, a block, a content part).
    mutating func scanEnd() -> ScannedText<Match>
}

struct ScannedText<Match: Sendable>: Sendable {
    var release: String
    var match: Match?
}

extension StreamScanner: StreamTextScanner {
    mutating func scan(_ delta: String) -> ScannedText<DetectorMatch> {
        let step = feed(delta)
        return ScannedText(release: step.release, match: step.match)
    }

    mutating func scanEnd() -> ScannedText<DetectorMatch> {
        let step = finish()
        return ScannedText(release: step.release, match: step.match)
    }
}

/// The completion guard of a stream: a pure stage between the relay's output (client-dialect SSE
/// events) and the client. It passes every event's text delta (chat `choices[].delta.content`,
/// Anthropic `text_delta`, Responses `response.output_text.delta`) through a scanner, one per
/// channel (chat choice, Anthropic content block, Responses content part), and re-emits the event
/// with the text the scanner released: unchanged bytes when it released the delta as it came,
/// rewritten when it held some back, dropped when it released nothing and the event carried
/// nothing else. Held-back text is flushed before the event that closes its channel.
///
/// On a match the stream ends cleanly in the client's dialect, with none of the blocked text:
/// chat, a chunk with `finish_reason: "content_filter"` and `data: [DONE]`; Anthropic,
/// `content_block_stop` (if a block is open), `message_delta` with `stop_reason: "refusal"` and
/// `message_stop`; Responses, `response.incomplete` with `incomplete_details.reason:
/// "content_filter"`. After that it emits nothing, and the caller stops reading the upstream.
///
/// Tool-call arguments, thinking and refusal deltas are not scanned.
struct CompletionStreamGuard<Scanner: StreamTextScanner>: Sendable {
    enum Dialect: Sendable {
        case openAIChat
        case anthropicMessages
        case openAIResponses
    }

    let dialect: Dialect
    private let freshScanner: Scanner
    /// Open text channels, in the order they opened (held-back text is flushed in that order).
    private var channels: [Channel] = []
    /// What the scanner found; set once, when the stream was ended.
    private(set) var match: Scanner.Match?
    private(set) var isStopped = false

    // What the terminal events are built from.
    /// Chat: the stream's `id`, `object`, `created`, `model` (every chunk repeats them).
    private var chatHeader: JSONObject?
    /// Chat: the choices that have not finished yet.
    private var unfinishedChoices: [Int] = []
    /// Anthropic: the content block started and not stopped yet.
    private var openBlock: Int?
    /// Anthropic: the last cumulative `output_tokens` the stream reported (message_delta requires one).
    private var outputTokens = JSONValue(0)
    /// Responses: the response object of `response.created`, and the last sequence number.
    private var response: JSONObject?
    private var sequenceNumber = -1

    private struct Channel: Sendable {
        let key: String
        /// Chat choice index or Anthropic block index.
        let index: Int
        var scanner: Scanner
        /// Responses: the last delta event of the part, to write a flushed delta like it.
        var template: JSONObject?
    }

    init(dialect: Dialect, scanner: Scanner) {
        self.dialect = dialect
        self.freshScanner = scanner
    }

    /// One client-dialect event in, what the client gets for it out.
    mutating func process(_ raw: ByteBuffer) -> [ByteBuffer] {
        guard !isStopped else { return [] }
        guard let event = SSEEvent.parse(raw) else { return [raw] }  // comments, keep-alives
        switch dialect {
        case .openAIChat: return chat(event, raw: raw)
        case .anthropicMessages: return anthropic(event, raw: raw)
        case .openAIResponses: return responses(event, raw: raw)
        }
    }

    /// The upstream ended: flush what is still held back (or end the stream if it completes a match).
    mutating func finish() -> [ByteBuffer] {
        guard !isStopped else { return [] }
        return flushAll()
    }

    // MARK: - OpenAI chat

    private mutating func chat(_ event: SSEEvent, raw: ByteBuffer) -> [ByteBuffer] {
        if event.isOpenAIDone { return passAfterFlush(raw) }
        guard case .object(let chunk)? = try? JSONValue.parse(event.data) else { return [raw] }
        if chunk["error"] != nil { return passAfterFlush(raw) }
        if chatHeader == nil { chatHeader = Self.chatHeader(of: chunk) }
        guard let choices = chunk["choices"]?.arrayValue, !choices.isEmpty else { return [raw] }  // usage chunk
        var rewritten = choices
        var changed = false
        // Whether the chunk still says something once its text is gone (a role, a finish, usage…).
        var carries = chunk["usage"].map { !$0.isNull } ?? false
        for (position, choice) in choices.enumerated() {
            guard var object = choice.objectValue else {
                carries = true
                continue
            }
            let index = object["index"]?.intValue ?? position
            let key = String(index)
            if !unfinishedChoices.contains(index) { unfinishedChoices.append(index) }
            var delta = object["delta"]?.objectValue ?? JSONObject()
            let content = delta["content"]?.stringValue
            let finishes = object["finish_reason"].map { !$0.isNull } ?? false
            var released = ""
            if let content, !content.isEmpty {
                let step = scan(content, key: key, index: index, template: nil)
                released += step.release
                if let found = step.match { return stop(found, releasing: released, index: index, template: nil) }
            }
            if finishes {
                if let step = end(key) {
                    released += step.release
                    if let found = step.match { return stop(found, releasing: released, index: index, template: nil) }
                }
                unfinishedChoices.removeAll { $0 == index }
                carries = true
            }
            if !released.isEmpty || (object["logprobs"].map { !$0.isNull } ?? false)
                || delta.members.contains(where: { $0.key != "content" && !$0.value.isNull })
            {
                carries = true
            }
            if released != (content ?? "") {
                delta["content"] = .string(released)
                object["delta"] = .object(delta)
                rewritten[position] = .object(object)
                changed = true
            }
        }
        guard changed else { return [raw] }
        guard carries else { return [] }
        var edited = chunk
        edited["choices"] = .array(rewritten)
        return [Self.encode(edited, like: event)]
    }

    private static func chatHeader(of chunk: JSONObject) -> JSONObject {
        var header = JSONObject()
        for key in ["id", "object", "created", "model", "system_fingerprint"] {
            if let value = chunk[key] { header[key] = value }
        }
        return header
    }

    private func chatChunk(_ choices: [JSONValue]) -> ByteBuffer {
        var chunk = chatHeader ?? JSONObject(["object": .string("chat.completion.chunk")])
        chunk["choices"] = .array(choices)
        return Self.encode(chunk, event: nil)
    }

    // MARK: - Anthropic Messages

    private mutating func anthropic(_ event: SSEEvent, raw: ByteBuffer) -> [ByteBuffer] {
        guard case .object(var payload)? = try? JSONValue.parse(event.data) else { return [raw] }
        let name = event.event ?? payload["type"]?.stringValue ?? ""
        let index = payload["index"]?.intValue ?? 0
        switch name {
        case "message_start":
            if let tokens = payload["message"]?["usage"]?["output_tokens"] { outputTokens = tokens }
            return [raw]
        case "content_block_start":
            openBlock = index
            guard var block = payload["content_block"]?.objectValue, block["type"]?.stringValue == "text",
                let text = block["text"]?.stringValue, !text.isEmpty
            else { return [raw] }
            // A block that starts with text (rare): the start itself carries the released part.
            let step = scan(text, key: String(index), index: index, template: nil)
            guard step.release != text || step.match != nil else { return [raw] }
            block["text"] = .string(step.release)
            payload["content_block"] = .object(block)
            let start = Self.encode(payload, like: event)
            if let found = step.match { return [start] + stop(found, releasing: "", index: index, template: nil) }
            return [start]
        case "content_block_delta":
            guard var delta = payload["delta"]?.objectValue, delta["type"]?.stringValue == "text_delta",
                let text = delta["text"]?.stringValue, !text.isEmpty
            else { return [raw] }
            let step = scan(text, key: String(index), index: index, template: nil)
            if let found = step.match { return stop(found, releasing: step.release, index: index, template: nil) }
            if step.release == text { return [raw] }
            if step.release.isEmpty { return [] }
            delta["text"] = .string(step.release)
            payload["delta"] = .object(delta)
            return [Self.encode(payload, like: event)]
        case "content_block_stop":
            var output: [ByteBuffer] = []
            if let step = end(String(index)) {
                if let found = step.match { return stop(found, releasing: step.release, index: index, template: nil) }
                if !step.release.isEmpty { output.append(textEvent(step.release, index: index, template: nil)) }
            }
            if openBlock == index { openBlock = nil }
            return output + [raw]
        case "message_delta":
            if let tokens = payload["usage"]?["output_tokens"] { outputTokens = tokens }
            return passAfterFlush(raw)
        case "message_stop", "error":
            return passAfterFlush(raw)
        default:
            return [raw]
        }
    }

    // MARK: - OpenAI Responses

    private mutating func responses(_ event: SSEEvent, raw: ByteBuffer) -> [ByteBuffer] {
        if event.isOpenAIDone { return passAfterFlush(raw) }
        guard case .object(var payload)? = try? JSONValue.parse(event.data) else { return [raw] }
        let name = payload["type"]?.stringValue ?? event.event ?? ""
        if let number = payload["sequence_number"]?.intValue { sequenceNumber = max(sequenceNumber, number) }
        switch name {
        case "response.created", "response.queued", "response.in_progress":
            if let object = payload["response"]?.objectValue { response = object }
            return [raw]
        case "response.output_text.delta":
            guard let text = payload["delta"]?.stringValue, !text.isEmpty else { return [raw] }
            let step = scan(text, key: Self.partKey(payload), index: 0, template: payload)
            if let found = step.match { return stop(found, releasing: step.release, index: 0, template: payload) }
            if step.release == text { return [raw] }
            if step.release.isEmpty { return [] }
            payload["delta"] = .string(step.release)
            return [Self.encode(payload, like: event)]
        case "response.output_text.done":
            let key = Self.partKey(payload)
            let template = channels.first { $0.key == key }?.template
            var output: [ByteBuffer] = []
            if let step = end(key) {
                if let found = step.match { return stop(found, releasing: step.release, index: 0, template: template) }
                if !step.release.isEmpty { output.append(textEvent(step.release, index: 0, template: template)) }
            }
            return output + [raw]
        case "response.content_part.done", "response.output_item.done", "response.completed", "response.incomplete",
            "response.failed", "error":
            return passAfterFlush(raw)
        default:
            return [raw]
        }
    }

    private static func partKey(_ payload: JSONObject) -> String {
        let item = payload["item_id"]?.stringValue ?? ""
        let output = payload["output_index"]?.intValue ?? 0
        let content = payload["content_index"]?.intValue ?? 0
        return "\(item)#\(output)#\(content)"
    }

    // MARK: - Channels

    private mutating func scan(
        _ text: String,
        key: String,
        index: Int,
        template: JSONObject?
    ) -> ScannedText<
        Scanner.Match
    > {
        if let position = channels.firstIndex(where: { $0.key == key }) {
            if let template { channels[position].template = template }
            return channels[position].scanner.scan(text)
        }
        var channel = Channel(key: key, index: index, scanner: freshScanner, template: template)
        let step = channel.scanner.scan(text)
        channels.append(channel)
        return step
    }

    /// Closes a channel: what its scanner still held; nil when it never carried text.
    private mutating func end(_ key: String) -> ScannedText<Scanner.Match>? {
        guard let position = channels.firstIndex(where: { $0.key == key }) else { return nil }
        var channel = channels.remove(at: position)
        return channel.scanner.scanEnd()
    }

    /// Closes every open channel before an event that ends the message, then passes that event.
    private mutating func passAfterFlush(_ raw: ByteBuffer) -> [ByteBuffer] {
        let flushed = flushAll()
        return isStopped ? flushed : flushed + [raw]
    }

    private mutating func flushAll() -> [ByteBuffer] {
        var output: [ByteBuffer] = []
        while !channels.isEmpty {
            var channel = channels.removeFirst()
            let step = channel.scanner.scanEnd()
            if let found = step.match {
                return output + stop(found, releasing: step.release, index: channel.index, template: channel.template)
            }
            if !step.release.isEmpty {
                output.append(textEvent(step.release, index: channel.index, template: channel.template))
            }
        }
        return output
    }

    /// A text delta event of the dialect carrying `text` (held-back text, flushed).
    private func textEvent(_ text: String, index: Int, template: JSONObject?) -> ByteBuffer {
        switch dialect {
        case .openAIChat:
            return chatChunk([
                .object(
                    JSONObject([
                        "index": JSONValue(index), "delta": .object(JSONObject(["content": .string(text)])),
                        "finish_reason": .null,
                    ])
                )
            ])
        case .anthropicMessages:
            return Self.encode(
                JSONObject([
                    "type": .string("content_block_delta"), "index": JSONValue(index),
                    "delta": .object(JSONObject(["type": .string("text_delta"), "text": .string(text)])),
                ]),
                event: "content_block_delta"
            )
        case .openAIResponses:
            var payload = template ?? JSONObject(["type": .string("response.output_text.delta")])
            payload["type"] = .string("response.output_text.delta")
            payload["delta"] = .string(text)
            // Inserted before the event being processed, it shares that event's number.
            payload["sequence_number"] = JSONValue(max(sequenceNumber, 0))
            return Self.encode(payload, event: "response.output_text.delta")
        }
    }

    // MARK: - Ending the stream

    /// Ends the stream: the text released before the match, then the dialect's terminal events.
    private mutating func stop(
        _ found: Scanner.Match,
        releasing released: String,
        index: Int,
        template: JSONObject?
    ) -> [ByteBuffer] {
        var output: [ByteBuffer] = []
        if !released.isEmpty { output.append(textEvent(released, index: index, template: template)) }
        switch dialect {
        case .openAIChat:
            var indices = unfinishedChoices
            if !indices.contains(index) { indices.append(index) }
            output.append(
                chatChunk(
                    indices.map { choice in
                        .object(
                            JSONObject([
                                "index": JSONValue(choice), "delta": .object(JSONObject()),
                                "finish_reason": .string("content_filter"),
                            ])
                        )
                    }
                )
            )
            output.append(ByteBuffer(bytes: SSEEvent.openAIDone.encoded()))
        case .anthropicMessages:
            if let openBlock {
                output.append(
                    Self.encode(
                        JSONObject(["type": .string("content_block_stop"), "index": JSONValue(openBlock)]),
                        event: "content_block_stop"
                    )
                )
            }
            output.append(
                Self.encode(
                    JSONObject([
                        "type": .string("message_delta"),
                        "delta": .object(JSONObject(["stop_reason": .string("refusal"), "stop_sequence": .null])),
                        "usage": .object(JSONObject(["output_tokens": outputTokens])),
                    ]),
                    event: "message_delta"
                )
            )
            output.append(Self.encode(JSONObject(["type": .string("message_stop")]), event: "message_stop"))
        case .openAIResponses:
            var final = response ?? JSONObject(["object": .string("response")])
            final["status"] = .string("incomplete")
            final["incomplete_details"] = .object(JSONObject(["reason": .string("content_filter")]))
            final["output"] = .array([])
            output.append(
                Self.encode(
                    JSONObject([
                        "type": .string("response.incomplete"), "sequence_number": JSONValue(sequenceNumber + 1),
                        "response": .object(final),
                    ]),
                    event: "response.incomplete"
                )
            )
        }
        channels.removeAll()
        match = found
        isStopped = true
        return output
    }

    // MARK: - Encoding

    private static func encode(_ payload: JSONObject, like event: SSEEvent) -> ByteBuffer {
        ByteBuffer(
            bytes: SSEEvent(event: event.event, data: JSONValue.object(payload).serializedString, id: event.id)
                .encoded()
        )
    }

    private static func encode(_ payload: JSONObject, event: String?) -> ByteBuffer {
        ByteBuffer(bytes: SSEEvent(event: event, data: JSONValue.object(payload).serializedString).encoded())
    }
}
