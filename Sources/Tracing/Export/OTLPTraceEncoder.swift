public import Foundation
internal import OTLPProtos
internal import SwiftProtobuf

/// Spans in OTLP protobuf. A span is written by `OTLPSpanWriter` (the same bytes swift-protobuf
/// makes from the generated message, `message(_:)`, several times faster); the export request
/// around spans, and reading a span back, go through the types generated from the OpenTelemetry
/// protos (`Sources/OTLPProtos`) and swift-protobuf (the request's framing around the spans' bytes
/// is written by `RequestFraming`). (OTLP/JSON is not offered: it writes ids as
/// hex where the generic protobuf JSON mapping writes base64.)
///
/// Each span is serialized once (`encode(_:)`), on its own; an export request carries those bytes
/// as they are (`RequestFraming`), so every exporter and the local store share one
/// encoding. A span's bytes followed by the bytes of a span holding only more attributes read as
/// one span with all of them (protobuf merges repeated fields), which is how a Langfuse exporter
/// adds its attributes without encoding the span again.
public enum OTLPTraceEncoder {
    public static let contentType = "application/x-protobuf"

    public struct EncodingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// One span as a serialized `opentelemetry.proto.trace.v1.Span`.
    public static func encode(_ record: SpanRecord) -> Data {
        Data(encodedBytes(record))
    }

    /// The same bytes as `encode(_:)`, as the writer made them (no copy into `Data`).
    public static func encodedBytes(_ record: SpanRecord) -> [UInt8] {
        var writer = OTLPSpanWriter(capacity: OTLPSpanWriter.capacity(for: record))
        writer.write(record)
        return writer.bytes
    }

    /// A span holding only these attributes: appended to a span's bytes, it adds them to that span.
    public static func encodeAttributes(_ attributes: [SpanAttribute]) -> Data {
        guard !attributes.isEmpty else { return Data() }
        var writer = OTLPSpanWriter(capacity: 128)
        writer.writeSpanAttributes(attributes)
        return Data(writer.bytes)
    }

    /// One `ExportTraceServiceRequest` body: the resource (`service.name` and the rest), one
    /// instrumentation scope, and spans already serialized by `encode(_:)`.
    public static func request(
        _ encodedSpans: [Data],
        resource: [SpanAttribute],
        scope: (name: String, version: String)
    ) throws(EncodingError) -> [UInt8] {
        var body: [UInt8] = []
        try RequestFraming(resource: resource, scope: scope).write(encodedSpans, into: &body)
        return body
    }

    /// The export request around spans already serialized, for one exporter: the resource and
    /// scope are serialized once (by swift-protobuf, as the fields they are of `ResourceSpans` and
    /// `ScopeSpans`), and each request is then those bytes and the spans' bytes with the tags and
    /// lengths that nest them, written into a buffer the exporter keeps. A batch is hundreds of
    /// kilobytes: a fresh buffer for each (zeroed by swift-protobuf, then copied) was a fresh
    /// mapping from the allocator, and faulting its pages in cost more than the encoding. Tests
    /// compare the bytes with swift-protobuf's serialization of the whole request.
    public struct RequestFraming: Sendable {
        /// `ResourceSpans.resource`, tag and length included.
        private let resourceField: [UInt8]
        /// `ScopeSpans.scope`, tag and length included.
        private let scopeField: [UInt8]

        public init(resource: [SpanAttribute], scope: (name: String, version: String)) throws(EncodingError) {
            var resourceSpans = Gatehouse_Otlp_V1_PreEncodedResourceSpans()
            resourceSpans.resource.attributes = resource.map(OTLPTraceEncoder.keyValue)
            var scopeSpans = Gatehouse_Otlp_V1_PreEncodedScopeSpans()
            scopeSpans.scope.name = scope.name
            scopeSpans.scope.version = scope.version
            do {
                resourceField = try resourceSpans.serializedBytes()
                scopeField = try scopeSpans.serializedBytes()
            } catch {
                throw EncodingError(description: "cannot encode the resource and scope: \(error)")
            }
        }

        /// Replaces `body`'s bytes (keeping its storage) with the request carrying `spans`.
        public func write(_ spans: [Data], into body: inout [UInt8]) {
            write(spans.map { ExportedSpan(span: Array($0)) }, into: &body)
        }

        /// Replaces `body`'s bytes (keeping its storage) with the request carrying `spans`, each
        /// span's added attributes framed inside it.
        public func write(_ spans: [ExportedSpan], into body: inout [UInt8]) {
            // ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2,
            // ScopeSpans.spans = 2.
            var scopeSpansSize = scopeField.count
            for span in spans { scopeSpansSize += OTLPSpanWriter.lengthDelimitedSize(field: 2, length: span.count) }
            let resourceSpansSize =
                resourceField.count + OTLPSpanWriter.lengthDelimitedSize(field: 2, length: scopeSpansSize)
            var writer = OTLPSpanWriter(reusing: &body)
            writer.reserveCapacity(OTLPSpanWriter.lengthDelimitedSize(field: 1, length: resourceSpansSize))
            writer.writeLengthDelimitedHeader(field: 1, length: resourceSpansSize)
            writer.append(contentsOf: resourceField)
            writer.writeLengthDelimitedHeader(field: 2, length: scopeSpansSize)
            writer.append(contentsOf: scopeField)
            for span in spans {
                writer.writeLengthDelimitedHeader(field: 2, length: span.count)
                writer.append(contentsOf: span.span)
                writer.append(contentsOf: span.attributes)
            }
            writer.finish(into: &body)
        }
    }

    /// Spans as one request body, each encoded on the way.
    public static func encode(
        _ spans: [SpanRecord],
        resource: [SpanAttribute],
        scope: (name: String, version: String)
    ) throws(EncodingError) -> [UInt8] {
        try request(spans.map(encode), resource: resource, scope: scope)
    }

    /// A span back from its serialized bytes (the local store keeps spans so); nil when the bytes
    /// are not a span.
    public static func decode(_ bytes: [UInt8]) -> SpanRecord? {
        guard let span = try? Opentelemetry_Proto_Trace_V1_Span(serializedBytes: bytes) else { return nil }
        let kind: SpanRecord.Kind
        switch span.kind {
        case .server: kind = .server
        case .client: kind = .client
        default: kind = .internal
        }
        let status: SpanRecord.Status
        switch span.status.code {
        case .ok: status = .ok
        case .error: status = .error(span.status.message)
        default: status = .unset
        }
        return SpanRecord(
            traceID: hex(span.traceID),
            spanID: hex(span.spanID),
            parentSpanID: span.parentSpanID.isEmpty ? nil : hex(span.parentSpanID),
            name: span.name,
            kind: kind,
            startNanoseconds: span.startTimeUnixNano,
            endNanoseconds: span.endTimeUnixNano,
            attributes: span.attributes.compactMap(attribute),
            events: span.events.map { event in
                SpanEvent(
                    name: event.name,
                    timeNanoseconds: event.timeUnixNano,
                    attributes: event.attributes.compactMap(attribute)
                )
            },
            links: span.links.map { link in
                SpanLink(
                    traceID: hex(link.traceID),
                    spanID: hex(link.spanID),
                    attributes: link.attributes.compactMap(attribute)
                )
            },
            status: status
        )
    }

    /// The span as the generated message: the reference `OTLPSpanWriter`'s bytes are checked against.
    static func message(_ record: SpanRecord) -> Opentelemetry_Proto_Trace_V1_Span {
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
        if !record.events.isEmpty {
            span.events = record.events.map { event in
                var encoded = Opentelemetry_Proto_Trace_V1_Span.Event()
                encoded.name = event.name
                encoded.timeUnixNano = event.timeNanoseconds
                encoded.attributes = event.attributes.map(keyValue)
                return encoded
            }
        }
        if !record.links.isEmpty {
            span.links = record.links.map { link in
                var encoded = Opentelemetry_Proto_Trace_V1_Span.Link()
                encoded.traceID = bytes(hex: link.traceID)
                encoded.spanID = bytes(hex: link.spanID)
                encoded.attributes = link.attributes.map(keyValue)
                return encoded
            }
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

    static func keyValue(_ attribute: SpanAttribute) -> Opentelemetry_Proto_Common_V1_KeyValue {
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

    /// The attribute kinds `SpanAttribute` knows (what this encoder writes); others are skipped.
    private static func attribute(_ keyValue: Opentelemetry_Proto_Common_V1_KeyValue) -> SpanAttribute? {
        switch keyValue.value.value {
        case .stringValue(let text)?: SpanAttribute(keyValue.key, .string(text))
        case .intValue(let number)?: SpanAttribute(keyValue.key, .int(number))
        case .doubleValue(let number)?: SpanAttribute(keyValue.key, .double(number))
        case .boolValue(let flag)?: SpanAttribute(keyValue.key, .bool(flag))
        case .arrayValue(let array)?:
            SpanAttribute(keyValue.key, .strings(array.values.map(\.stringValue)))
        default: nil
        }
    }

    /// Hex ids as bytes; an id that is not even-length hex becomes empty (OTLP's "no id").
    static func bytes(hex: String) -> Data {
        var digits = hex
        return digits.withUTF8 { utf8 -> Data in
            guard utf8.count % 2 == 0 else { return Data() }
            var data = Data(count: utf8.count / 2)
            let valid = data.withUnsafeMutableBytes { (output: UnsafeMutableRawBufferPointer) -> Bool in
                var index = 0
                while index < utf8.count {
                    guard let high = OTLPSpanWriter.nibble(utf8[index]),
                        let low = OTLPSpanWriter.nibble(utf8[index + 1])
                    else { return false }
                    output[index / 2] = high << 4 | low
                    index += 2
                }
                return true
            }
            return valid ? data : Data()
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex(_ data: Data) -> String {
        String(unsafeUninitializedCapacity: data.count * 2) { buffer in
            var index = 0
            for byte in data {
                buffer[index] = hexDigits[Int(byte >> 4)]
                buffer[index + 1] = hexDigits[Int(byte & 0xF)]
                index += 2
            }
            return index
        }
    }
}
