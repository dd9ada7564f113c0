import Foundation
import OTLPProtos
import Testing

@testable import GatehouseTracing

@Suite("OTLP trace encoding")
struct OTLPTraceEncoderTests {
    let chat = SpanRecord(
        traceID: "0af7651916cd43dd8448eb211c80319c",
        spanID: "b7ad6b7169203331",
        parentSpanID: "00f067aa0ba902b7",
        name: "chat gpt-4o-mini",
        kind: .client,
        startNanoseconds: 1_700_000_000_000_000_000,
        endNanoseconds: 1_700_000_000_250_000_000,
        attributes: [
            SpanAttribute(GenAIKey.operationName, "chat"),
            SpanAttribute(GenAIKey.inputTokens, 12),
            SpanAttribute(GenAIKey.finishReasons, .strings(["tool_calls"])),
            SpanAttribute(GatehouseKey.costUSD, .double(0.000_012)),
            SpanAttribute(GenAIKey.requestStream, false),
        ],
        events: [
            SpanEvent(
                name: "gen_ai.guardrail",
                timeNanoseconds: 1_700_000_000_010_000_000,
                attributes: [SpanAttribute(GatehouseKey.policyRule, "defaults.yaml#no-secrets")]
            )
        ],
        links: [SpanLink(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "1111111111111111")],
        status: .error("upstream refused")
    )

    @Test func protobufCarriesEverySpanField() throws {
        let body = try OTLPTraceEncoder.encode(
            [chat],
            resource: [SpanAttribute("service.name", "gatehouse")],
            scope: ("gatehouse", "1.0")
        )
        let request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        let resource = try #require(request.resourceSpans.first)
        #expect(resource.resource.attributes.map(\.key) == ["service.name"])
        #expect(resource.resource.attributes.first?.value.stringValue == "gatehouse")
        let scope = try #require(resource.scopeSpans.first)
        #expect(scope.scope.name == "gatehouse" && scope.scope.version == "1.0")
        let span = try #require(scope.spans.first)
        #expect(
            span.traceID
                == Data([
                    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c,
                ])
        )
        #expect(span.spanID.count == 8 && span.parentSpanID.count == 8)
        #expect(span.name == "chat gpt-4o-mini" && span.kind == .client)
        #expect(
            span.startTimeUnixNano == 1_700_000_000_000_000_000 && span.endTimeUnixNano == 1_700_000_000_250_000_000
        )
        let attributes = Dictionary(uniqueKeysWithValues: span.attributes.map { ($0.key, $0.value) })
        #expect(attributes[GenAIKey.operationName]?.stringValue == "chat")
        #expect(attributes[GenAIKey.inputTokens]?.intValue == 12)
        #expect(attributes[GenAIKey.finishReasons]?.arrayValue.values.map(\.stringValue) == ["tool_calls"])
        #expect(attributes[GatehouseKey.costUSD]?.doubleValue == 0.000_012)
        #expect(attributes[GenAIKey.requestStream]?.boolValue == false)
        #expect(span.events.first?.name == "gen_ai.guardrail" && span.events.first?.attributes.count == 1)
        #expect(span.links.first?.spanID == Data([0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]))
        #expect(span.status.code == .error && span.status.message == "upstream refused")
    }

    @Test func idsThatAreNotHexBecomeEmpty() {
        #expect(OTLPTraceEncoder.bytes(hex: "0aF7") == Data([0x0a, 0xf7]))
        #expect(OTLPTraceEncoder.bytes(hex: "abc").isEmpty)
        #expect(OTLPTraceEncoder.bytes(hex: "zz").isEmpty)
    }

    @Test func preEncodedSpansMakeTheSameRequestACollectorDecodes() throws {
        let root = SpanRecord(
            traceID: chat.traceID,
            spanID: "00f067aa0ba902b7",
            parentSpanID: nil,
            name: "invoke_agent demo",
            kind: .internal,
            startNanoseconds: 1_700_000_000_000_000_000,
            endNanoseconds: 1_700_000_000_300_000_000,
            attributes: [SpanAttribute(GenAIKey.operationName, "invoke_agent")]
        )
        let body = try OTLPTraceEncoder.request(
            [OTLPTraceEncoder.encode(chat), OTLPTraceEncoder.encode(root)],
            resource: [SpanAttribute("service.name", "gatehouse")],
            scope: ("gatehouse", "1.0")
        )
        // Read as OTLP's own request type: the bytes fields are the spans as embedded messages.
        let request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: body)
        let scope = try #require(request.resourceSpans.first?.scopeSpans.first)
        #expect(request.resourceSpans.first?.resource.attributes.first?.value.stringValue == "gatehouse")
        #expect(
            scope.scope.name == "gatehouse" && scope.spans.map(\.name) == ["chat gpt-4o-mini", "invoke_agent demo"]
        )
        #expect(
            scope.spans[0] == (try Opentelemetry_Proto_Trace_V1_Span(serializedBytes: OTLPTraceEncoder.encode(chat)))
        )
        #expect(scope.spans[1].parentSpanID.isEmpty && scope.spans[1].kind == .internal)
    }

    @Test func aSpanDecodesAsItWasEncoded() throws {
        #expect(OTLPTraceEncoder.decode(Array(OTLPTraceEncoder.encode(chat))) == chat)
        #expect(OTLPTraceEncoder.decode([0xff, 0xff, 0xff]) == nil)
    }

    @Test func attributesAppendedAsASecondSpanReadAsOneSpan() throws {
        let decorated = try #require(LangfuseAttributes.decorate([chat], agent: "demo").first)
        let extra = OTLPTraceEncoder.encodeAttributes(LangfuseAttributes.attributes(for: chat, agent: "demo"))
        let merged = OTLPTraceEncoder.encode(chat) + extra
        #expect(OTLPTraceEncoder.decode(Array(merged)) == decorated)
        #expect(decorated.attributes.count > chat.attributes.count)
        #expect(OTLPTraceEncoder.encodeAttributes([]).isEmpty)
    }

    @Test func theRequestFramingWritesWhatSwiftProtobufWritesForTheWholeRequest() throws {
        let resource = [SpanAttribute("service.name", "gatehouse"), SpanAttribute("service.version", "1.2.3")]
        let framing = try OTLPTraceEncoder.RequestFraming(resource: resource, scope: ("gatehouse", "1.2.3"))
        func reference(_ spans: [Data]) throws -> [UInt8] {
            var scopeSpans = Gatehouse_Otlp_V1_PreEncodedScopeSpans()
            scopeSpans.scope.name = "gatehouse"
            scopeSpans.scope.version = "1.2.3"
            scopeSpans.spans = spans
            var resourceSpans = Gatehouse_Otlp_V1_PreEncodedResourceSpans()
            resourceSpans.resource.attributes = resource.map(OTLPTraceEncoder.keyValue)
            resourceSpans.scopeSpans = [scopeSpans]
            var request = Gatehouse_Otlp_V1_PreEncodedTraceRequest()
            request.resourceSpans = [resourceSpans]
            return try request.serializedBytes()
        }
        var random = SeededRandom(seed: 5)
        // Lengths either side of each varint width (1, 2 and 3 bytes), one span and many.
        let batches: [[Data]] = [
            [],
            [Data()],
            [OTLPTraceEncoder.encode(chat)],
            [Data(repeating: 7, count: 127), Data(repeating: 8, count: 128)],
            [Data(repeating: 1, count: 16_383), Data(repeating: 2, count: 16_384)],
            (0..<300).map { _ in
                Data((0..<Int(random.next() % 2_000)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            },
            [OTLPTraceEncoder.encode(chat)],
        ]
        // One buffer for every batch, as an exporter keeps it: each request replaces the last.
        var body: [UInt8] = []
        for spans in batches {
            framing.write(spans, into: &body)
            #expect(body == (try reference(spans)), "\(spans.count) spans")
        }
        // Each span's bytes split in two (a span and the attributes an exporter adds) frame as
        // the one span they make.
        for spans in batches {
            let split = spans.map { data in
                let bytes = Array(data)
                return ExportedSpan(
                    span: Array(bytes[..<(bytes.count / 3)]),
                    attributes: Array(bytes[(bytes.count / 3)...])
                )
            }
            framing.write(split, into: &body)
            #expect(body == (try reference(spans)), "\(spans.count) split spans")
        }
        #expect(
            try OTLPTraceEncoder.request(batches[5], resource: resource, scope: ("gatehouse", "1.2.3"))
                == (try reference(batches[5]))
        )
    }

    /// What swift-protobuf writes for the generated message: the reference for `OTLPSpanWriter`.
    func reference(_ record: SpanRecord) throws -> [UInt8] {
        try OTLPTraceEncoder.message(record).serializedBytes()
    }

    @Test func theWriterWritesWhatSwiftProtobufWritesForEveryKindOfField() throws {
        let long = String(repeating: "é", count: 9_000)
        let edges = SpanRecord(
            traceID: "0AF7651916CD43DD8448EB211C80319C",
            spanID: "b7ad6b716920333",
            parentSpanID: "not-hex!",
            name: "",
            kind: .server,
            startNanoseconds: 0,
            endNanoseconds: 0,
            attributes: [
                SpanAttribute("", "no key"),
                SpanAttribute("empty", ""),
                SpanAttribute("zero", 0),
                SpanAttribute("negative", .int(-1)),
                SpanAttribute("smallest", .int(.min)),
                SpanAttribute("largest", .int(.max)),
                SpanAttribute("false", false),
                SpanAttribute("true", true),
                SpanAttribute("zero.double", .double(0)),
                SpanAttribute("negative.zero", .double(-0.0)),
                SpanAttribute("infinity", .double(-.infinity)),
                SpanAttribute("no.strings", .strings([])),
                SpanAttribute("strings", .strings(["", "stop", "🙂 emoji", long])),
                SpanAttribute("long", long),
            ],
            events: [
                SpanEvent(name: "", timeNanoseconds: 0),
                SpanEvent(name: "apply_guardrail", timeNanoseconds: 5, attributes: [SpanAttribute("rule", long)]),
            ],
            links: [
                SpanLink(traceID: "", spanID: ""),
                SpanLink(traceID: chat.traceID, spanID: "1111111111111111", attributes: [SpanAttribute("n", 1)]),
            ],
            status: .error("")
        )
        var ok = chat
        ok.status = .ok
        var unset = chat
        unset.status = .unset
        unset.parentSpanID = nil
        for record in [chat, edges, ok, unset] {
            #expect(Array(OTLPTraceEncoder.encode(record)) == (try reference(record)))
        }
        var attributesOnly = Opentelemetry_Proto_Trace_V1_Span()
        attributesOnly.attributes = OTLPTraceEncoder.message(edges).attributes
        #expect(Array(OTLPTraceEncoder.encodeAttributes(edges.attributes)) == (try attributesOnly.serializedBytes()))
    }

    @Test func theWriterWritesWhatSwiftProtobufWritesForManyRandomSpans() throws {
        var random = SeededRandom(seed: 11)
        func text() -> String {
            let pieces = ["a", "chat", "é", "🙂", "tools/call", " ", "0", String(repeating: "x", count: 130)]
            return (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random) ?? "" }
                .joined()
        }
        func hex(_ digits: Int) -> String {
            String((0..<digits).map { _ in "0123456789abcdef".randomElement(using: &random) ?? "0" })
        }
        func value() -> SpanAttribute.Value {
            switch Int.random(in: 0..<5, using: &random) {
            case 0: .string(text())
            case 1: .int(Int64.random(in: .min ... .max, using: &random) >> Int64.random(in: 0...63, using: &random))
            case 2: .double(Double.random(in: -1e6...1e6, using: &random))
            case 3: .bool(Bool.random(using: &random))
            default: .strings((0..<Int.random(in: 0...3, using: &random)).map { _ in text() })
            }
        }
        func attributes() -> [SpanAttribute] {
            (0..<Int.random(in: 0...20, using: &random)).map { _ in SpanAttribute(text(), value()) }
        }
        for _ in 0..<300 {
            let start = UInt64.random(in: 0...UInt64.max / 2, using: &random)
            let record = SpanRecord(
                traceID: hex(32),
                spanID: hex(16),
                parentSpanID: Bool.random(using: &random) ? hex(16) : nil,
                name: text(),
                kind: [.internal, .server, .client].randomElement(using: &random) ?? .internal,
                startNanoseconds: start,
                endNanoseconds: start + UInt64.random(in: 0...1_000_000_000, using: &random),
                attributes: attributes(),
                events: (0..<Int.random(in: 0...2, using: &random)).map { _ in
                    SpanEvent(
                        name: text(),
                        timeNanoseconds: UInt64.random(in: 0...UInt64.max, using: &random),
                        attributes: attributes()
                    )
                },
                links: (0..<Int.random(in: 0...1, using: &random)).map { _ in
                    SpanLink(traceID: hex(32), spanID: hex(16), attributes: attributes())
                },
                status: [.unset, .ok, .error(text())].randomElement(using: &random) ?? .unset
            )
            let encoded = OTLPTraceEncoder.encodedBytes(record)
            #expect(encoded == (try reference(record)))
            // The buffer is sized up front: writing never grows it.
            #expect(OTLPSpanWriter.capacity(for: record) >= encoded.count)
        }
    }
}

/// SplitMix64 from a fixed seed: the same spans on every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
