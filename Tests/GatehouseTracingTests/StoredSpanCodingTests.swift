import Store
import Testing

@testable import GatehouseTracing

@Suite("Stored spans")
struct StoredSpanCodingTests {
    let trace = "0af7651916cd43dd8448eb211c80319c"

    @Test func aSpanReadsBackAsItWasStored() throws {
        let span = SpanRecord(
            traceID: trace,
            spanID: "1111111111111111",
            parentSpanID: "2222222222222222",
            name: "chat gpt-4o-mini",
            kind: .client,
            startNanoseconds: 1_700_000_000_000_000_000,
            endNanoseconds: 1_700_000_000_500_000_000,
            attributes: [
                SpanAttribute("a.string", "x \"quoted\""), SpanAttribute("a.int", 42),
                SpanAttribute("a.double", .double(0.25)), SpanAttribute("a.bool", true),
                SpanAttribute("a.strings", .strings(["stop", "length"])),
            ],
            events: [
                SpanEvent(
                    name: "retry",
                    timeNanoseconds: 1_700_000_000_100_000_000,
                    attributes: [SpanAttribute("n", 1)]
                )
            ],
            links: [SpanLink(traceID: trace, spanID: "3333333333333333")],
            status: .error("upstream: refused")
        )
        let row = StoredSpanCoding.row(span, agent: "demo", isRunRoot: false)
        #expect(row.agent == "demo" && row.kind == "client" && row.status == "error: upstream: refused")
        #expect(StoredSpanCoding.span(row) == span)
        guard case .bytes(let bytes) = row.detail else {
            Issue.record("a span is stored as its OTLP bytes")
            return
        }
        #expect(OTLPTraceEncoder.decode(bytes) == span)
        var broken = row
        broken.kind = "sideways"
        #expect(StoredSpanCoding.span(broken) == nil)
        broken = row
        broken.detail = .bytes([0xff, 0xff])
        #expect(StoredSpanCoding.span(broken) == nil)
    }

    @Test func rowsWrittenBeforeAsJSONStillRead() {
        let row = StoredSpan(
            traceID: trace,
            spanID: "1111111111111111",
            parentSpanID: nil,
            isRunRoot: true,
            agent: "demo",
            name: "invoke_agent demo",
            kind: "internal",
            startNanoseconds: 5,
            endNanoseconds: 9,
            status: "ok",
            detail: .text(
                #"{"attributes":[{"key":"gen_ai.operation.name","type":"string","value":"invoke_agent"},"#
                    + #"{"key":"n","type":"int","value":3}],"events":[{"name":"e","time_ns":6,"attributes":[]}],"#
                    + #""links":[]}"#
            )
        )
        let span = StoredSpanCoding.span(row)
        #expect(span?.attributes == [SpanAttribute("gen_ai.operation.name", "invoke_agent"), SpanAttribute("n", 3)])
        #expect(span?.events == [SpanEvent(name: "e", timeNanoseconds: 6)])
        #expect(span?.status == .ok && span?.endNanoseconds == 9)
    }

    @Test func aTraceRendersAsATree() {
        func span(
            _ id: String,
            _ parent: String?,
            _ name: String,
            _ start: UInt64,
            _ end: UInt64,
            _ attributes: [SpanAttribute] = []
        )
            -> SpanRecord
        {
            SpanRecord(
                traceID: trace,
                spanID: id,
                parentSpanID: parent,
                name: name,
                kind: .internal,
                startNanoseconds: start,
                endNanoseconds: end,
                attributes: attributes
            )
        }
        let ms: UInt64 = 1_000_000
        let text = TraceTree.render([
            span("c2", "r", "chat gpt-4o-mini", 40 * ms, 60 * ms),
            span("r", "outside", "invoke_agent demo", 0, 60 * ms),
            span("t", "r", "tools/call notes__add", 25 * ms, 35 * ms, [SpanAttribute("gen_ai.tool.call.id", "call_1")]),
            span("u", "t", "tools/call add", 26 * ms, 34 * ms),
            span(
                "c1",
                "r",
                "chat gpt-4o-mini",
                0,
                20 * ms,
                [SpanAttribute("gen_ai.usage.input_tokens", 12), SpanAttribute("gen_ai.usage.output_tokens", 5)]
            ),
        ])
        #expect(
            text == """
                invoke_agent demo  +0.0 ms, 60.0 ms
                  chat gpt-4o-mini  +0.0 ms, 20.0 ms  [tokens 12 in / 5 out]
                  tools/call notes__add  +25.0 ms, 10.0 ms  [tool call call_1]
                    tools/call add  +26.0 ms, 8.0 ms
                  chat gpt-4o-mini  +40.0 ms, 20.0 ms
                """
        )
    }
}
