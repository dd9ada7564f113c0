internal import Foundation
internal import GatehouseJSON
public import Store

/// Spans to and from the local trace store's rows: the columns the viewer filters on, and the
/// whole span as its `detail`, in the OTLP protobuf bytes the exporters send (encoded once for
/// both). Rows written before that keep their span as typed JSON text, still read.
public enum StoredSpanCoding {
    public static func row(_ span: SpanRecord, agent: String, isRunRoot: Bool) -> StoredSpan {
        row(span, agent: agent, isRunRoot: isRunRoot, encoded: OTLPTraceEncoder.encodedBytes(span))
    }

    /// The row of a span the pipeline encoded.
    public static func row(_ span: EncodedSpan) -> StoredSpan {
        row(
            span.record,
            agent: span.agent,
            isRunRoot: span.record[attribute: GenAIKey.operationName] == .string("invoke_agent"),
            encoded: span.otlp
        )
    }

    private static func row(_ span: SpanRecord, agent: String, isRunRoot: Bool, encoded: [UInt8]) -> StoredSpan {
        let status: String
        switch span.status {
        case .unset: status = "unset"
        case .ok: status = "ok"
        case .error(let message): status = "error: \(message)"
        }
        return StoredSpan(
            traceID: span.traceID,
            spanID: span.spanID,
            parentSpanID: span.parentSpanID,
            isRunRoot: isRunRoot,
            agent: agent,
            name: span.name,
            kind: span.kind.rawValue,
            startNanoseconds: Int64(clamping: span.startNanoseconds),
            endNanoseconds: Int64(clamping: span.endNanoseconds),
            status: status,
            detail: .bytes(encoded)
        )
    }

    /// The span a row holds; nil when the row is not one this coding wrote.
    /// The row's columns say what they hold (ids, name, kind, times, status); the detail adds the
    /// attributes, events and links.
    public static func span(_ row: StoredSpan) -> SpanRecord? {
        guard let kind = SpanRecord.Kind(rawValue: row.kind) else { return nil }
        let status: SpanRecord.Status =
            row.status == "ok"
            ? .ok
            : row.status.hasPrefix("error: ") ? .error(String(row.status.dropFirst("error: ".count))) : .unset
        switch row.detail {
        case .bytes(let bytes):
            guard let detail = OTLPTraceEncoder.decode(bytes) else { return nil }
            return SpanRecord(
                traceID: row.traceID,
                spanID: row.spanID,
                parentSpanID: row.parentSpanID,
                name: row.name,
                kind: kind,
                startNanoseconds: UInt64(max(0, row.startNanoseconds)),
                endNanoseconds: UInt64(max(0, row.endNanoseconds)),
                attributes: detail.attributes,
                events: detail.events,
                links: detail.links,
                status: status
            )
        case .text(let text):
            return legacySpan(row, json: text, kind: kind, status: status)
        }
    }

    /// A row written before spans were kept as OTLP bytes: attributes, events and links as JSON.
    private static func legacySpan(
        _ row: StoredSpan,
        json: String,
        kind: SpanRecord.Kind,
        status: SpanRecord.Status
    ) -> SpanRecord? {
        guard let detail = try? JSONValue.parse(json) else { return nil }
        return SpanRecord(
            traceID: row.traceID,
            spanID: row.spanID,
            parentSpanID: row.parentSpanID,
            name: row.name,
            kind: kind,
            startNanoseconds: UInt64(max(0, row.startNanoseconds)),
            endNanoseconds: UInt64(max(0, row.endNanoseconds)),
            attributes: attributes(detail["attributes"]),
            events: (detail["events"]?.arrayValue ?? []).compactMap { event in
                guard let name = event["name"]?.stringValue, let time = event["time_ns"].flatMap(unsigned) else {
                    return nil
                }
                return SpanEvent(name: name, timeNanoseconds: time, attributes: attributes(event["attributes"]))
            },
            links: (detail["links"]?.arrayValue ?? []).compactMap { link in
                guard let trace = link["trace_id"]?.stringValue, let span = link["span_id"]?.stringValue else {
                    return nil
                }
                return SpanLink(traceID: trace, spanID: span, attributes: attributes(link["attributes"]))
            },
            status: status
        )
    }

    private static func attributes(_ value: JSONValue?) -> [SpanAttribute] {
        (value?.arrayValue ?? []).compactMap { item in
            guard let key = item["key"]?.stringValue, let value = item["value"] else { return nil }
            switch item["type"]?.stringValue {
            case "string": return value.stringValue.map { SpanAttribute(key, .string($0)) }
            case "int":
                guard case .number(let text) = value, let number = Int64(text) else { return nil }
                return SpanAttribute(key, .int(number))
            case "double": return value.doubleValue.map { SpanAttribute(key, .double($0)) }
            case "bool": return value.boolValue.map { SpanAttribute(key, .bool($0)) }
            case "strings": return value.arrayValue.map { SpanAttribute(key, .strings($0.compactMap(\.stringValue))) }
            default: return nil
            }
        }
    }

    private static func unsigned(_ value: JSONValue) -> UInt64? {
        guard case .number(let text) = value else { return nil }
        return UInt64(text)
    }
}

/// A trace as an indented tree, for `gatehouse traces show`: each span under its parent, in start
/// order, with its offset from the trace's start, its duration, and the attributes a reader looks
/// for first (tokens, cost, tool call id, errors, policy decisions).
public enum TraceTree {
    public static func render(_ spans: [SpanRecord]) -> String {
        guard let start = spans.map(\.startNanoseconds).min() else { return "" }
        return TraceSpanTree(spans).ordered.map { span, depth in
            let offset = milliseconds(span.startNanoseconds - start)
            let duration = milliseconds(span.endNanoseconds - span.startNanoseconds)
            var line = String(repeating: "  ", count: depth) + span.name + "  +\(offset) ms, \(duration) ms"
            let details = highlights(span)
            if !details.isEmpty { line += "  [" + details.joined(separator: ", ") + "]" }
            return line
        }.joined(separator: "\n")
    }

    private static func milliseconds(_ nanoseconds: UInt64) -> String {
        let tenths = nanoseconds / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func highlights(_ span: SpanRecord) -> [String] {
        var details: [String] = []
        if case .int(let input)? = span[attribute: GenAIKey.inputTokens],
            case .int(let output)? = span[attribute: GenAIKey.outputTokens]
        {
            details.append("tokens \(input) in / \(output) out")
        }
        if case .double(let cost)? = span[attribute: GatehouseKey.costUSD] {
            details.append("cost \(TraceFormat.usd(cost))")
        }
        if case .string(let id)? = span[attribute: GenAIKey.toolCallID] { details.append("tool call \(id)") }
        if case .strings(let reasons)? = span[attribute: GenAIKey.finishReasons] {
            details.append("finish \(reasons.joined(separator: ","))")
        }
        if case .error(let message) = span.status { details.append("error: \(message)") }
        if let decision = DecisionAttributes.describe(span.attributes) { details.append(decision) }
        for event in span.events {
            if let decision = DecisionAttributes.describe(event.attributes) { details.append(decision) }
        }
        return details
    }
}
