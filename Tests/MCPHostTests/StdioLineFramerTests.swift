import Testing

@testable import MCPHost

@Suite("StdioLineFramer")
struct StdioLineFramerTests {
    /// What the framer hands on, comparable across chunkings.
    enum Event: Equatable, CustomStringConvertible {
        case line(String)
        case tooLong

        var description: String {
            switch self {
            case .line(let text): return "line(\(text))"
            case .tooLong: return "tooLong"
            }
        }
    }

    static func events(_ outputs: [StdioLineFramer.Output]) -> [Event] {
        outputs.map { output in
            switch output {
            case .line(let buffer): return .line(String(decoding: buffer.readableBytesView, as: UTF8.self))
            case .lineTooLong: return .tooLong
            }
        }
    }

    static func feed(_ chunks: [[UInt8]], maximumLineLength: Int = 1 << 20) -> (events: [Event], unterminated: Int) {
        var framer = StdioLineFramer(maximumLineLength: maximumLineLength)
        var events: [Event] = []
        for chunk in chunks { events += Self.events(framer.append(chunk)) }
        return (events, framer.unterminatedByteCount)
    }

    /// Every way to cut `bytes` in two, plus byte by byte and a few uneven chunk sizes.
    static func chunkings(_ bytes: [UInt8]) -> [[[UInt8]]] {
        var result: [[[UInt8]]] = [[bytes]]
        for offset in 0...bytes.count { result.append([Array(bytes[..<offset]), Array(bytes[offset...])]) }
        result.append(bytes.map { [$0] })
        for size in [2, 3, 5, 7] {
            result.append(
                stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            )
        }
        return result
    }

    /// Lines as an MCP server writes them (messages from the 2025-11-25 lifecycle and tools pages),
    /// with the variations a real stream has: CRLF, blank lines, multi-byte UTF-8, a batch line.
    static let stream = Array(
        (#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"ExampleServer","version":"1.0.0"}}}"#
            + "\n"
            + #"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"# + "\r\n"
            + "\n\r\n  \t\n"
            + #"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"Température: 22 °C — 晴れ 🌤"}],"isError":false}}"#
            + "\n"
            + #"[{"jsonrpc":"2.0","id":3,"result":{}},{"jsonrpc":"2.0","id":4,"result":{}}]"# + "\n"
            + #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"partial"#).utf8
    )

    static let expectedStream: [Event] = [
        .line(
            #"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"ExampleServer","version":"1.0.0"}}}"#
        ),
        .line(#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#),
        .line(
            #"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"Température: 22 °C — 晴れ 🌤"}],"isError":false}}"#
        ),
        .line(#"[{"jsonrpc":"2.0","id":3,"result":{}},{"jsonrpc":"2.0","id":4,"result":{}}]"#),
    ]

    @Test func sameLinesHoweverTheBytesArrive() {
        let unterminated =
            #"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"partial"#.utf8.count
        for chunks in Self.chunkings(Self.stream) {
            let result = Self.feed(chunks)
            #expect(result.events == Self.expectedStream, "chunks: \(chunks.map(\.count))")
            #expect(result.unterminated == unterminated)
        }
    }

    @Test func linesDecodeAsMessages() throws {
        var framer = StdioLineFramer()
        let outputs = framer.append(Self.stream)
        var kinds: [String] = []
        for output in outputs {
            guard case .line(let buffer) = output else { continue }
            switch try JSONRPCMessage.decode(buffer.readableBytesView) {
            case .single(let message): kinds.append(message.method ?? message.id?.description ?? "?")
            case .batch(let items): kinds.append("batch of \(items.count)")
            }
        }
        #expect(kinds == ["1", "notifications/tools/list_changed", "2", "batch of 2"])
    }

    @Test func overLongLinesAreReportedOnceAndSkipped() {
        let bytes = Array(
            "short\n\(String(repeating: "x", count: 17))\nafter\n0123456789abcdef\r\n0123456789abcdefg\r\nend\n".utf8
        )
        for chunks in Self.chunkings(bytes) {
            let result = Self.feed(chunks, maximumLineLength: 16)
            #expect(
                result.events == [
                    .line("short"), .tooLong, .line("after"), .line("0123456789abcdef"), .tooLong, .line("end"),
                ],
                "chunks: \(chunks.map(\.count))"
            )
            #expect(result.unterminated == 0)
        }
    }

    @Test func aLineMuchLongerThanTheLimitAcrossManyChunks() {
        var framer = StdioLineFramer(maximumLineLength: 8)
        var events: [Event] = []
        for _ in 0..<100 { events += Self.events(framer.append(Array("abcdefghij".utf8))) }
        #expect(events == [.tooLong])
        #expect(framer.unterminatedByteCount == 0)
        events += Self.events(framer.append(Array("tail\nok\n".utf8)))
        #expect(events == [.tooLong, .line("ok")])
    }

    @Test func lineAtTheLimitWithCRLFWaitsForTheLF() {
        var framer = StdioLineFramer(maximumLineLength: 4)
        #expect(framer.append(Array("abcd\r".utf8)).isEmpty)
        #expect(framer.unterminatedByteCount == 5)
        #expect(Self.events(framer.append(Array("\n".utf8))) == [.line("abcd")])
        // A CR inside a line counts towards it.
        #expect(Self.events(framer.append(Array("abc\r".utf8))) == [])
        #expect(Self.events(framer.append(Array("d\n".utf8))) == [.tooLong])
    }

    @Test func onlyLFEndsALine() {
        let result = Self.feed([Array("a\rb\n".utf8)])
        #expect(result.events == [.line("a\rb")])
    }

    // MARK: Writing

    @Test func frameEndsWithTheOnlyNewline() throws {
        let message = JSONRPCMessage.response(
            id: JSONRPCID(1),
            result: .object(.init(["text": .string("two\nlines\r\nhere\u{2028}")]))
        )
        let line = StdioLineFramer.frame(message)
        #expect(
            utf8(line) == #"{"jsonrpc":"2.0","id":1,"result":{"text":"two\nlines\r\nhere"# + "\u{2028}" + #""}}"# + "\n"
        )
        #expect(line.filter { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") } == [UInt8(ascii: "\n")])
        #expect(try decodeSingle(utf8(Array(line.dropLast()))) == message)
    }

    @Test func frameTurnsRawNewlinesIntoSpaces() throws {
        let pretty = "{\r\n  \"jsonrpc\": \"2.0\",\n  \"id\": 5,\n  \"method\": \"ping\"\n}"
        let line = StdioLineFramer.frame(json: Array(pretty.utf8))
        #expect(utf8(line) == "{    \"jsonrpc\": \"2.0\",   \"id\": 5,   \"method\": \"ping\" }\n")
        #expect(try decodeSingle(utf8(Array(line.dropLast()))) == (try decodeSingle(pretty)))
        // Even a hand-built number with a newline cannot break the framing.
        let broken = JSONRPCMessage.response(id: JSONRPCID(1), result: .number("1\n2"))
        #expect(StdioLineFramer.frame(broken).filter { $0 == UInt8(ascii: "\n") }.count == 1)
    }

    @Test func framedMessagesReadBackByteByByte() throws {
        let messages: [JSONRPCMessage] = [
            .request(id: .string("a"), method: "tools/call", params: .object(.init(["name": .string("x\ny")]))),
            .notification(method: "notifications/progress"),
            .errorResponse(id: nil, error: JSONRPCErrorObject(code: -32700, message: "Parse error")),
        ]
        let stream = messages.flatMap { StdioLineFramer.frame($0) }
        var framer = StdioLineFramer()
        var decoded: [JSONRPCMessage] = []
        for byte in stream {
            for case .line(let buffer) in framer.append([byte]) {
                decoded.append(try decodeSingle(String(decoding: buffer.readableBytesView, as: UTF8.self)))
            }
        }
        #expect(decoded == messages)
    }
}
