import GatehouseJSON
import GatehouseSSE
import NIOCore
import Policy
import Testing

@testable import LLMProxy

/// A scanner for one literal pattern that holds back the last `holdBack` characters, so the stage
/// can be tested without the real detectors.
private struct NeedleScanner: StreamTextScanner {
    let needle: String
    var holdBack = 4
    private var pending = ""
    private var found = false

    init(needle: String = "p5.", holdBack: Int = 4) {
        self.needle = needle
        self.holdBack = holdBack
    }

    mutating func scan(_ delta: String) -> ScannedText<String> {
        guard !found else { return ScannedText(release: "", match: needle) }
        pending += delta
        if let range = pending.range(of: needle) {
            found = true
            let before = String(pending[..<range.lowerBound])
            pending = ""
            return ScannedText(release: before, match: needle)
        }
        let cut = pending.index(pending.endIndex, offsetBy: -min(holdBack, pending.count))
        let release = String(pending[..<cut])
        pending = String(pending[cut...])
        return ScannedText(release: release, match: nil)
    }

    mutating func scanEnd() -> ScannedText<String> {
        guard !found else { return ScannedText(release: "", match: needle) }
        defer { pending = "" }
        return ScannedText(release: pending, match: nil)
    }
}

/// Runs events through a stage, the upstream ending after the last one.
private func run<Scanner: StreamTextScanner>(
    _ events: [String],
    dialect: CompletionStreamGuard<Scanner>.Dialect,
    scanner: Scanner,
    finishing: Bool = true
) -> (output: [String], stage: CompletionStreamGuard<Scanner>) {
    var stage = CompletionStreamGuard(dialect: dialect, scanner: scanner)
    var output: [String] = []
    for event in events {
        output += stage.process(ByteBuffer(string: event)).map { String(buffer: $0) }
    }
    if finishing { output += stage.finish().map { String(buffer: $0) } }
    return (output, stage)
}

private func payload(_ raw: String) -> JSONValue? {
    guard let event = SSEEvent.parse(ByteBuffer(string: raw)) else { return nil }
    return try? JSONValue.parse(event.data)
}

private func eventName(_ raw: String) -> String? {
    SSEEvent.parse(ByteBuffer(string: raw))?.event
}

// MARK: - Hand-written streams

private func chatChunk(_ delta: String, finish: String? = nil, index: Int = 0) -> String {
    var deltaObject = JSONObject()
    if !delta.isEmpty { deltaObject["content"] = .string(delta) }
    let chunk = JSONValue.object(
        JSONObject([
            "id": .string("chatcmpl-1"), "object": .string("chat.completion.chunk"),
            "created": JSONValue(1_700_000_000),
            "model": .string("gpt-x"),
            "choices": .array([
                .object(
                    JSONObject([
                        "index": JSONValue(index), "delta": .object(deltaObject),
                        "finish_reason": finish.map { .string($0) } ?? .null,
                    ])
                )
            ]),
        ])
    )
    return "data: \(chunk.serializedString)\n\n"
}

private let chatRole =
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
    + "\n\n"
private let chatUsage =
    #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#
    + "\n\n"
private let chatDone = "data: [DONE]\n\n"

private func chatStream(_ deltas: [String], usage: Bool = true) -> [String] {
    [chatRole] + deltas.map { chatChunk($0) } + [chatChunk("", finish: "stop")] + (usage ? [chatUsage] : []) + [
        chatDone
    ]
}

/// The text a chat client assembles from the chunks.
private func chatText(_ output: [String]) -> String {
    output.compactMap { payload($0)?["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
}

private func anthropicEvent(_ name: String, _ json: String) -> String {
    "event: \(name)\ndata: \(json)\n\n"
}

private let anthropicStart = anthropicEvent(
    "message_start",
    #"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}"#
)

private func anthropicStream(_ deltas: [String]) -> [String] {
    [
        anthropicStart,
        anthropicEvent(
            "content_block_start",
            #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
        ),
        anthropicEvent("ping", #"{"type":"ping"}"#),
    ]
        + deltas.map { text in
            let delta = JSONValue.object(
                JSONObject([
                    "type": .string("content_block_delta"), "index": JSONValue(0),
                    "delta": .object(JSONObject(["type": .string("text_delta"), "text": .string(text)])),
                ])
            )
            return anthropicEvent("content_block_delta", delta.serializedString)
        } + [
            anthropicEvent("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            anthropicEvent(
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":30}}"#
            ),
            anthropicEvent("message_stop", #"{"type":"message_stop"}"#),
        ]
}

private func anthropicText(_ output: [String]) -> String {
    output.compactMap { raw -> String? in
        guard eventName(raw) == "content_block_delta", let delta = payload(raw)?["delta"],
            delta["type"] == .string("text_delta")
        else { return nil }
        return delta["text"]?.stringValue
    }.joined()
}

private func responsesEvent(_ json: JSONObject) -> String {
    "event: \(json["type"]?.stringValue ?? "")\ndata: \(JSONValue.object(json).serializedString)\n\n"
}

private func responsesStream(_ deltas: [String]) -> [String] {
    var sequence = 0
    func event(_ type: String, _ fields: KeyValuePairs<String, JSONValue>) -> String {
        var object = JSONObject(["type": .string(type), "sequence_number": JSONValue(sequence)])
        for (key, value) in fields { object[key] = value }
        sequence += 1
        return responsesEvent(object)
    }
    let text = deltas.joined()
    let response = JSONValue.object(
        JSONObject([
            "id": .string("resp_1"), "object": .string("response"), "status": .string("in_progress"),
            "output": .array([]),
        ])
    )
    var events = [
        event("response.created", ["response": response]),
        event(
            "response.output_item.added",
            [
                "output_index": JSONValue(0),
                "item": .object(JSONObject(["type": .string("message"), "id": .string("msg_1")])),
            ]
        ),
    ]
    for delta in deltas {
        events.append(
            event(
                "response.output_text.delta",
                [
                    "item_id": .string("msg_1"), "output_index": JSONValue(0), "content_index": JSONValue(0),
                    "delta": .string(delta), "logprobs": .array([]),
                ]
            )
        )
    }
    events.append(
        event(
            "response.output_text.done",
            [
                "item_id": .string("msg_1"), "output_index": JSONValue(0), "content_index": JSONValue(0),
                "text": .string(text),
            ]
        )
    )
    events.append(
        event(
            "response.completed",
            ["response": .object(JSONObject(["id": .string("resp_1"), "status": .string("completed")]))]
        )
    )
    return events
}

private func responsesText(_ output: [String]) -> String {
    output.compactMap { raw -> String? in
        guard let json = payload(raw), json["type"] == .string("response.output_text.delta") else { return nil }
        return json["delta"]?.stringValue
    }.joined()
}

private func characters(_ text: String) -> [String] { text.map { String($0) } }

@Suite("CompletionStreamGuard")
struct CompletionStreamGuardTests {
    // MARK: Chat

    @Test func chatCleanStreamKeepsItsTextAndEveryNonTextEvent() {
        let deltas = ["Hello", " there,", " how", " are", " you?"]
        let events = chatStream(deltas)
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner())
        #expect(chatText(result.output) == deltas.joined())
        // The role chunk leaves at once and unchanged; the usage chunk and [DONE] stay last.
        #expect(result.output.first == chatRole)
        #expect(Array(result.output.suffix(2)) == [chatUsage, chatDone])
        #expect(payload(result.output[result.output.count - 3])?["choices"]?[0]?["finish_reason"] == .string("stop"))
        #expect(!result.stage.isStopped)
    }

    @Test func chatScannerThatHoldsNothingBackLeavesTheBytesAlone() {
        let events = chatStream(["a", "b", "c"])
        #expect(run(events, dialect: .openAIChat, scanner: NeedleScanner(holdBack: 0)).output == events)
    }

    @Test func chatPatternSplitAcrossOneCharacterDeltasEndsTheStream() {
        let events = chatStream(characters("we ship p5. tomorrow"))
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner())
        #expect(result.stage.isStopped)
        #expect(result.stage.match == "p5.")
        #expect(chatText(result.output) == "we ship ")
        #expect(!result.output.joined().contains("p5"))
        let terminal = payload(result.output[result.output.count - 2])
        #expect(terminal?["choices"]?[0]?["finish_reason"] == .string("content_filter"))
        #expect(terminal?["id"] == .string("chatcmpl-1"))
        #expect(terminal?["model"] == .string("gpt-x"))
        #expect(result.output.last == chatDone)
        // Nothing of the upstream's own end (finish "stop", usage) follows the terminal chunk.
        #expect(!result.output.contains(chatUsage))
    }

    @Test func chatMatchInTheFirstDelta() {
        let events = [
            chatRole, chatChunk("p5. is the answer"), chatChunk(" indeed"), chatChunk("", finish: "stop"), chatDone,
        ]
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner())
        #expect(result.output.count == 3)
        #expect(result.output[0] == chatRole)
        #expect(payload(result.output[1])?["choices"]?[0]?["finish_reason"] == .string("content_filter"))
        #expect(payload(result.output[1])?["choices"]?[0]?["delta"] == .object(JSONObject()))
        #expect(result.output[2] == chatDone)
    }

    @Test func chatEventsAfterTheEndAreDropped() {
        var stage = CompletionStreamGuard(dialect: .openAIChat, scanner: NeedleScanner())
        _ = stage.process(ByteBuffer(string: chatChunk("p5.")))
        #expect(stage.process(ByteBuffer(string: chatChunk("more"))).isEmpty)
        #expect(stage.process(ByteBuffer(string: chatDone)).isEmpty)
        #expect(stage.finish().isEmpty)
    }

    @Test func chatHeldBackTextRidesOnTheFinishChunkBeforeTheUsageChunk() {
        let events = chatStream(["abcdefgh"])
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner(holdBack: 4))
        let finish = result.output.first { payload($0)?["choices"]?[0]?["finish_reason"] == .string("stop") }
        #expect(finish.flatMap { payload($0)?["choices"]?[0]?["delta"]?["content"] } == .string("efgh"))
        #expect(chatText(result.output) == "abcdefgh")
        #expect(Array(result.output.suffix(2)) == [chatUsage, chatDone])
    }

    @Test func chatDeltaThatReleasesNothingIsDropped() {
        let events = [chatRole, chatChunk("ab"), chatChunk("cdef")]
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner(holdBack: 4), finishing: false)
        // "ab" is held whole (nothing else in its chunk): no event; "cdef" releases "ab".
        #expect(result.output.count == 2)
        #expect(chatText(result.output) == "ab")
    }

    @Test func chatHeldBackTextIsFlushedBeforeDoneWithoutAFinishChunk() {
        let events = [chatRole, chatChunk("hello world"), chatDone]
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner(holdBack: 4))
        #expect(chatText(result.output) == "hello world")
        #expect(result.output.last == chatDone)
    }

    @Test func chatHeldBackTextIsFlushedWhenTheUpstreamEndsWithoutDone() {
        let result = run(
            [chatRole, chatChunk("hello world")],
            dialect: .openAIChat,
            scanner: NeedleScanner(holdBack: 4)
        )
        #expect(chatText(result.output) == "hello world")
        #expect(payload(result.output.last ?? "")?["id"] == .string("chatcmpl-1"))
    }

    @Test func chatErrorEventComesAfterTheFlushedText() {
        let error = #"data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}"# + "\n\n"
        let result = run([chatRole, chatChunk("hello world"), error], dialect: .openAIChat, scanner: NeedleScanner())
        #expect(chatText(result.output) == "hello world")
        #expect(result.output.last == error)
    }

    @Test func chatChoicesAreScannedApart() {
        // "p5" in choice 0 and "." in choice 1 are not one pattern.
        let events = [
            chatRole, chatChunk("p5", index: 0), chatChunk(".", index: 1), chatChunk("", finish: "stop", index: 0),
        ]
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner())
        #expect(!result.stage.isStopped)
    }

    @Test func chatUsageChunkAfterTheEndIsNotForwarded() {
        let events = chatStream(["x p", "5", ".", " y"])
        let result = run(events, dialect: .openAIChat, scanner: NeedleScanner())
        #expect(result.stage.isStopped)
        let withUsage = result.output.filter { payload($0)?["usage"] != nil }
        #expect(withUsage.isEmpty)
    }

    // MARK: Anthropic

    @Test func anthropicCleanStreamKeepsItsTextAndEvents() {
        let deltas = ["Hello", " there,", " friend."]
        let events = anthropicStream(deltas)
        let result = run(events, dialect: .anthropicMessages, scanner: NeedleScanner())
        #expect(anthropicText(result.output) == deltas.joined())
        #expect(result.output.first == anthropicStart)
        #expect(Array(result.output.suffix(3)) == Array(events.suffix(3)))
        // The held-back tail is flushed before content_block_stop.
        #expect(eventName(result.output[result.output.count - 4]) == "content_block_delta")
    }

    @Test func anthropicPatternSplitAcrossOneCharacterDeltas() throws {
        let events = anthropicStream(characters("run p5. now"))
        let result = run(events, dialect: .anthropicMessages, scanner: NeedleScanner())
        #expect(result.stage.isStopped)
        #expect(anthropicText(result.output) == "run ")
        #expect(!result.output.joined().contains("p5"))
        let names = result.output.map(eventName)
        #expect(Array(names.suffix(3)) == ["content_block_stop", "message_delta", "message_stop"])
        let delta = try #require(payload(result.output[result.output.count - 2]))
        #expect(delta["delta"]?["stop_reason"] == .string("refusal"))
        #expect(delta["delta"]?["stop_sequence"] == .null)
        #expect(delta["usage"]?["output_tokens"] == JSONValue(1))
        #expect(payload(result.output[result.output.count - 3])?["index"] == JSONValue(0))
        // The upstream's own end does not follow.
        #expect(names.filter { $0 == "message_stop" }.count == 1)
    }

    @Test func anthropicMatchInTheFirstDelta() {
        let events = anthropicStream(["p5. first", " second"])
        let result = run(events, dialect: .anthropicMessages, scanner: NeedleScanner())
        #expect(
            result.output.map(eventName) == [
                "message_start", "content_block_start", "ping", "content_block_stop", "message_delta", "message_stop",
            ]
        )
    }

    @Test func anthropicBlockStartCarryingThePatternGoesOutWithoutIt() {
        // A second text block whose start already carries text: the start goes out empty, then the end.
        var events = anthropicStream(["fine"])
        events.insert(
            anthropicEvent(
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"p5."}}"#
            ),
            at: 5
        )
        let result = run(events, dialect: .anthropicMessages, scanner: NeedleScanner())
        #expect(result.stage.isStopped)
        #expect(!result.output.joined().contains("p5"))
        let names = result.output.map(eventName)
        #expect(
            Array(names.suffix(4)) == ["content_block_start", "content_block_stop", "message_delta", "message_stop"]
        )
        #expect(payload(result.output[result.output.count - 3])?["index"] == JSONValue(1))
    }

    @Test func anthropicToolUseBlocksPassUntouched() {
        let events = [
            anthropicStart,
            anthropicEvent(
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"w","input":{}}}"#
            ),
            anthropicEvent(
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#
            ),
            anthropicEvent("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        ]
        #expect(run(events, dialect: .anthropicMessages, scanner: NeedleScanner()).output == events)
    }

    // MARK: Responses

    @Test func responsesCleanStreamKeepsItsText() {
        let deltas = ["Hello", " from", " the", " Responses API."]
        let events = responsesStream(deltas)
        let result = run(events, dialect: .openAIResponses, scanner: NeedleScanner())
        #expect(responsesText(result.output) == deltas.joined())
        #expect(Array(result.output.suffix(2)) == Array(events.suffix(2)))
        let flushed = payload(result.output[result.output.count - 3])
        #expect(flushed?["type"] == .string("response.output_text.delta"))
        #expect(flushed?["item_id"] == .string("msg_1"))
    }

    @Test func responsesPatternSplitAcrossOneCharacterDeltas() throws {
        let events = responsesStream(characters("the p5. plan"))
        let result = run(events, dialect: .openAIResponses, scanner: NeedleScanner())
        #expect(result.stage.isStopped)
        #expect(responsesText(result.output) == "the ")
        #expect(!result.output.joined().contains("p5"))
        let last = try #require(result.output.last)
        #expect(eventName(last) == "response.incomplete")
        let terminal = try #require(payload(last))
        #expect(terminal["response"]?["status"] == .string("incomplete"))
        #expect(terminal["response"]?["incomplete_details"]?["reason"] == .string("content_filter"))
        #expect(terminal["response"]?["id"] == .string("resp_1"))
        #expect(terminal["response"]?["output"] == .array([]))
        let numbers = result.output.compactMap { payload($0)?["sequence_number"]?.intValue }
        #expect(numbers == numbers.sorted())
        #expect(terminal["sequence_number"]?.intValue ?? 0 > numbers.dropLast().max() ?? 0)
        // Neither the done event (full text) nor response.completed follows.
        #expect(!result.output.contains { eventName($0) == "response.output_text.done" })
    }

    @Test func responsesMatchInTheFirstDelta() {
        let events = responsesStream(["p5.", " rest"])
        let result = run(events, dialect: .openAIResponses, scanner: NeedleScanner())
        #expect(
            result.output.map(eventName) == ["response.created", "response.output_item.added", "response.incomplete"]
        )
    }

    // MARK: With the policy's scanner

    private func realScanner() throws -> StreamScanner {
        StreamScanner(
            detectors: try DetectorSet([
                .regex(name: "banned", pattern: #"p5\."#, caseInsensitive: false, placeholder: "")
            ]),
            holdBack: 64
        )
    }

    @Test func policyScannerBlocksASplitPatternInEveryDialect() throws {
        let text = characters("Our plan is p5. for sure")
        let chat = run(chatStream(text), dialect: .openAIChat, scanner: try realScanner())
        #expect(chat.stage.isStopped && chat.stage.match?.detector == "banned")
        #expect(!chat.output.joined().contains("p5"))
        let anthropic = run(anthropicStream(text), dialect: .anthropicMessages, scanner: try realScanner())
        #expect(anthropic.stage.isStopped && !anthropic.output.joined().contains("p5"))
        let responses = run(responsesStream(text), dialect: .openAIResponses, scanner: try realScanner())
        #expect(responses.stage.isStopped && !responses.output.joined().contains("p5"))
    }

    @Test func policyScannerCatchesAPatternAtTheVeryEnd() throws {
        // The match is only settled by the flush before content_block_stop.
        let result = run(anthropicStream(["Answer: p5."]), dialect: .anthropicMessages, scanner: try realScanner())
        #expect(result.stage.isStopped)
        #expect(!result.output.joined().contains("p5"))
    }

    @Test func policyScannerLeavesACleanStreamTextuallyIdentical() throws {
        let text = "A longer answer, with numbers like 3.5 and p 5 and p5 alone, that goes on for a while. ".map {
            String($0)
        }
        for dialect in [CompletionStreamGuard<StreamScanner>.Dialect.openAIChat, .anthropicMessages, .openAIResponses] {
            let events: [String]
            let read: ([String]) -> String
            switch dialect {
            case .openAIChat: (events, read) = (chatStream(text), chatText)
            case .anthropicMessages: (events, read) = (anthropicStream(text), anthropicText)
            case .openAIResponses: (events, read) = (responsesStream(text), responsesText)
            }
            let result = run(events, dialect: dialect, scanner: try realScanner())
            #expect(!result.stage.isStopped)
            #expect(read(result.output) == text.joined())
        }
    }
}

extension JSONValue {
    /// Array element lookup for the tests; nil out of range or for anything but an array.
    fileprivate subscript(position: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(position) else { return nil }
        return items[position]
    }
}
