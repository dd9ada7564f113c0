internal import Foundation
internal import OTLPProtos
internal import SwiftProtobuf

/// Spans as an OTLP/HTTP protobuf request body (`ExportTraceServiceRequest`), through the types
/// generated from the OpenTelemetry protos (`Sources/OTLPProtos`) and swift-protobuf: the wire
/// format is never written by hand. (OTLP/JSON is not offered: it writes ids as hex where the
/// generic protobuf JSON mapping writes base64.)
public enum OTLPTraceEncoder {
    public static let contentType = "application/x-protobuf"

    public struct EncodingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// One request: the resource (`service.name` and the rest), one instrumentation scope, the spans.
    public static func encode(
        _ spans: [SpanRecord],
        resource: [SpanAttribute],
        scope: (name: String, version: String)
    ) throws(EncodingError) -> [UInt8] {
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource.attributes = resource.map(keyValue)
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = scope.name
        scopeSpans.scope.version = scope.version
        scopeSpans.spans = spans.map(span)
        resourceSpans.scopeSpans = [scopeSpans]
        request.resourceSpans = [resourceSpans]
        do {
            let data: Data = try request.serializedBytes()
            return Array(data)
        } catch {
            throw EncodingError(description: "cannot encode the spans: \(error)")
        }
    }

    private static func span(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = bytes(hex: record.traceID)
        span.spanID = bytes(hex: record.spanID)
        if let parent = record.parentSpanID { span.parentSpanID = bytes(hex: parent) }
        span.name = record.name
        switch record.kind {
        case .internal: span.kind = .internal
        case .server: span.kind = .server
        case .client: span.kind = .client
        }
        span.startTimeUnixNano = record.startNanoseconds
        span.endTimeUnixNano = record.endNanoseconds
        span.attributes = record.attributes.map(keyValue)
        span.events = record.events.map { event in
            var encoded = Opentelemetry_Proto_Trace_V1_Span.Event()
            encoded.name = event.name
            encoded.timeUnixNano = event.timeNanoseconds
            encoded.attributes = event.attributes.map(keyValue)
            return encoded
        }
        span.links = record.links.map { link in
            var encoded = Opentelemetry_Proto_Trace_V1_Span.Link()
            encoded.traceID = bytes(hex: link.traceID)
            encoded.spanID = bytes(hex: link.spanID)
            encoded.attributes = link.attributes.map(keyValue)
            return encoded
        }
        switch record.status {
        case .unset: break
        case .ok: span.status.code = .ok
        case .error(let message):
            span.status.code = .error
            span.status.message = message
        }
        return span
    }

    private static func keyValue(_ attribute: SpanAttribute) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var keyValue = Opentelemetry_Proto_Common_V1_KeyValue()
        keyValue.key = attribute.key
        keyValue.value = anyValue(attribute.value)
        return keyValue
    }

    private static func anyValue(_ value: SpanAttribute.Value) -> Opentelemetry_Proto_Common_V1_AnyValue {
        var encoded = Opentelemetry_Proto_Common_V1_AnyValue()
        switch value {
        case .string(let text): encoded.stringValue = text
        case .int(let number): encoded.intValue = number
        case .double(let number): encoded.doubleValue = number
        case .bool(let flag): encoded.boolValue = flag
        case .strings(let texts):
            var array = Opentelemetry_Proto_Common_V1_ArrayValue()
            array.values = texts.map { text in
                var item = Opentelemetry_Proto_Common_V1_AnyValue()
                item.stringValue = text
                return item
            }
            encoded.arrayValue = array
        }
        return encoded
    }

    /// Hex ids as bytes; an id that is not even-length hex becomes empty (OTLP's "no id").
    static func bytes(hex: String) -> Data {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return Data() }
        var data = Data(capacity: digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return Data() }
            data.append(high << 4 | low)
            index += 2
        }
        return data
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
