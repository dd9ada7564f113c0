internal import GatehouseJSON
public import Store

/// Spans to and from the local trace store's rows: the columns the viewer filters on, and the
/// rest (attributes, events, links) as the row's `detail` JSON, typed so a value reads back as it
/// was (an integer stays an integer, a string array stays an array).
public enum StoredSpanCoding {
    public static func row(_ span: SpanRecord, agent: String, isRunRoot: Bool) -> StoredSpan {
        // Written straight into bytes (no JSON value tree): rows are made for every span.
        var detail: [UInt8] = []
        detail.reserveCapacity(64 * (span.attributes.count + 4))
        append("{\"attributes\":", to: &detail)
        write(span.attributes, into: &detail)
        append(",\"events\":[", to: &detail)
        for (index, event) in span.events.enumerated() {
            if index > 0 { detail.append(UInt8(ascii: ",")) }
            append("{\"name\":", to: &detail)
            JSONValue.writeString(event.name, into: &detail)
            append(",\"time_ns\":", to: &detail)
            append(String(event.timeNanoseconds), to: &detail)
            append(",\"attributes\":", to: &detail)
            write(event.attributes, into: &detail)
            detail.append(UInt8(ascii: "}"))
        }
        append("],\"links\":[", to: &detail)
        for (index, link) in span.links.enumerated() {
            if index > 0 { detail.append(UInt8(ascii: ",")) }
            append("{\"trace_id\":", to: &detail)
            JSONValue.writeString(link.traceID, into: &detail)
            append(",\"span_id\":", to: &detail)
            JSONValue.writeString(link.spanID, into: &detail)
            append(",\"attributes\":", to: &detail)
            write(link.attributes, into: &detail)
            detail.append(UInt8(ascii: "}"))
        }
        append("]}", to: &detail)
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
            detail: String(decoding: detail, as: UTF8.self)
        )
    }

    /// The span a row holds; nil when the row is not one this coding wrote.
    public static func span(_ row: StoredSpan) -> SpanRecord? {
        guard let kind = SpanRecord.Kind(rawValue: row.kind), let detail = try? JSONValue.parse(row.detail) else {
            return nil
        }
        let status: SpanRecord.Status =
            row.status == "ok"
            ? .ok
            : row.status.hasPrefix("error: ") ? .error(String(row.status.dropFirst("error: ".count))) : .unset
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

    private static func append(_ text: String, to output: inout [UInt8]) {
        output.append(contentsOf: text.utf8)
    }

    /// Attributes as `[{"key", "type", "value"}]`, typed so each reads back as it was.
    private static func write(_ list: [SpanAttribute], into output: inout [UInt8]) {
        output.append(UInt8(ascii: "["))
        for (index, attribute) in list.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            append("{\"key\":", to: &output)
            JSONValue.writeString(attribute.key, into: &output)
            switch attribute.value {
            case .string(let text):
                append(",\"type\":\"string\",\"value\":", to: &output)
                JSONValue.writeString(text, into: &output)
            case .int(let number):
                append(",\"type\":\"int\",\"value\":", to: &output)
                append(String(number), to: &output)
            case .double(let number):
                append(",\"type\":\"double\",\"value\":", to: &output)
                append(number.isFinite ? "\(number)" : "null", to: &output)
            case .bool(let flag):
                append(",\"type\":\"bool\",\"value\":", to: &output)
                append(flag ? "true" : "false", to: &output)
            case .strings(let texts):
                append(",\"type\":\"strings\",\"value\":[", to: &output)
                for (position, text) in texts.enumerated() {
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    JSONValue.writeString(text, into: &output)
                }
                output.append(UInt8(ascii: "]"))
            }
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: "]"))
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
