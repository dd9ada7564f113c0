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
            [try OTLPTraceEncoder.encode(chat), try OTLPTraceEncoder.encode(root)],
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
        #expect(OTLPTraceEncoder.decode(Array(try OTLPTraceEncoder.encode(chat))) == chat)
        #expect(OTLPTraceEncoder.decode([0xff, 0xff, 0xff]) == nil)
    }

    @Test func attributesAppendedAsASecondSpanReadAsOneSpan() throws {
        let decorated = try #require(LangfuseAttributes.decorate([chat], agent: "demo").first)
        let extra = try OTLPTraceEncoder.encodeAttributes(LangfuseAttributes.attributes(for: chat, agent: "demo"))
        let merged = try OTLPTraceEncoder.encode(chat) + extra
        #expect(OTLPTraceEncoder.decode(Array(merged)) == decorated)
        #expect(decorated.attributes.count > chat.attributes.count)
        #expect(try OTLPTraceEncoder.encodeAttributes([]).isEmpty)
    }
}
