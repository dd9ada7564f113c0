/// Writes a `SpanRecord` as a serialized OTLP `opentelemetry.proto.trace.v1.Span` in one pass into
/// one buffer, the bytes swift-protobuf makes from the generated message (tests compare the two
/// byte for byte over every kind of field, `OTLPTraceEncoder.message(_:)` being the reference).
///
/// Why it exists: every finished span is encoded once, for the store and every exporter, on the
/// gateway's cores. swift-protobuf builds a heap-backed message per span, attribute and value,
/// then walks it generically, sizing each nested message again for every level above it: about
/// 4 µs per chat span here, which was most of what the trace pipeline cost per request. This
/// writer covers only the fields a `SpanRecord` has, sizes each nested message once, and writes
/// fields in field-number order with proto3's defaults left out, as swift-protobuf does.
struct OTLPSpanWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes into `buffer`'s storage, emptied first (for a caller that keeps one buffer across
    /// writes); `finish(into:)` hands it back.
    init(reusing buffer: inout [UInt8]) {
        swap(&bytes, &buffer)
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func finish(into buffer: inout [UInt8]) {
        swap(&bytes, &buffer)
    }

    mutating func reserveCapacity(_ count: Int) {
        bytes.reserveCapacity(count)
    }

    /// The whole span.
    mutating func write(_ span: SpanRecord) {
        writeID(span.traceID, field: 1)
        writeID(span.spanID, field: 2)
        if let parent = span.parentSpanID { writeID(parent, field: 4) }
        writeString(span.name, field: 5)
        writeVarintField(UInt64(Self.kindNumber(span.kind)), field: 6)
        writeFixed64Field(span.startNanoseconds, field: 7)
        writeFixed64Field(span.endNanoseconds, field: 8)
        writeAttributes(span.attributes, field: 9)
        for event in span.events {
            writeLengthDelimitedHeader(field: 11, length: Self.size(event))
            writeFixed64Field(event.timeNanoseconds, field: 1)
            writeString(event.name, field: 2)
            writeAttributes(event.attributes, field: 3)
        }
        for link in span.links {
            writeLengthDelimitedHeader(field: 13, length: Self.size(link))
            writeID(link.traceID, field: 1)
            writeID(link.spanID, field: 2)
            writeAttributes(link.attributes, field: 4)
        }
        switch span.status {
        case .unset: break
        case .ok:
            writeLengthDelimitedHeader(field: 15, length: Self.statusSize(message: "", code: 1))
            writeVarintField(1, field: 3)
        case .error(let message):
            writeLengthDelimitedHeader(field: 15, length: Self.statusSize(message: message, code: 2))
            writeString(message, field: 2)
            writeVarintField(2, field: 3)
        }
    }

    /// Bytes already encoded (a span's, or attributes' from `writeSpanAttributes`), as they are.
    mutating func append<Bytes: Sequence<UInt8>>(contentsOf encoded: Bytes) {
        bytes.append(contentsOf: encoded)
    }

    /// The tag and length of a length-delimited field whose `length` bytes follow.
    mutating func writeLengthDelimitedHeader(field: Int, length: Int) {
        writeTag(field: field, wireType: .lengthDelimited)
        writeVarint(UInt64(length))
    }

    /// A length-delimited field of `length` bytes, tag and length included.
    static func lengthDelimitedSize(field: Int, length: Int) -> Int {
        varintSize(UInt64(field) << 3) + varintSize(UInt64(length)) + length
    }

    /// Attributes as a span's `attributes` entries (field 9): appended to a span's bytes, they
    /// add to that span's attributes (protobuf merges repeated fields).
    mutating func writeSpanAttributes(_ attributes: [SpanAttribute]) {
        writeAttributes(attributes, field: 9)
    }

    // MARK: - Fields

    private enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    private mutating func writeAttributes(_ attributes: [SpanAttribute], field: Int) {
        for attribute in attributes {
            writeLengthDelimitedHeader(field: field, length: Self.size(attribute))
            writeString(attribute.key, field: 1)
            writeLengthDelimitedHeader(field: 2, length: Self.size(attribute.value))
            writeValue(attribute.value)
        }
    }

    /// The `AnyValue` oneof: the case that is set is written even when it holds its default.
    private mutating func writeValue(_ value: SpanAttribute.Value) {
        switch value {
        case .string(let text):
            writeTag(field: 1, wireType: .lengthDelimited)
            writeStringBody(text)
        case .bool(let flag):
            writeTag(field: 2, wireType: .varint)
            writeVarint(flag ? 1 : 0)
        case .int(let number):
            writeTag(field: 3, wireType: .varint)
            writeVarint(UInt64(bitPattern: number))
        case .double(let number):
            writeTag(field: 4, wireType: .fixed64)
            writeFixed64(number.bitPattern)
        case .strings(let texts):
            writeLengthDelimitedHeader(field: 5, length: Self.arraySize(texts))
            for text in texts {
                writeLengthDelimitedHeader(field: 1, length: Self.stringValueSize(text))
                writeTag(field: 1, wireType: .lengthDelimited)
                writeStringBody(text)
            }
        }
    }

    /// A hex id as its bytes; an id that is not even-length hex is left out (OTLP's "no id"), as
    /// `OTLPTraceEncoder.bytes(hex:)` makes it empty.
    private mutating func writeID(_ hex: String, field: Int) {
        let count = Self.idByteCount(hex)
        guard count > 0 else { return }
        writeLengthDelimitedHeader(field: field, length: count)
        var hex = hex
        hex.withUTF8 { digits in
            var index = 0
            while index < digits.count {
                // Checked by `idByteCount`.
                let high = Self.nibble(digits[index]) ?? 0
                let low = Self.nibble(digits[index + 1]) ?? 0
                bytes.append(high << 4 | low)
                index += 2
            }
        }
    }

    /// A proto3 string field: left out when empty.
    private mutating func writeString(_ text: String, field: Int) {
        guard !text.isEmpty else { return }
        writeTag(field: field, wireType: .lengthDelimited)
        writeStringBody(text)
    }

    private mutating func writeStringBody(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A proto3 varint field: left out when zero.
    private mutating func writeVarintField(_ value: UInt64, field: Int) {
        guard value != 0 else { return }
        writeTag(field: field, wireType: .varint)
        writeVarint(value)
    }

    /// A proto3 fixed64 field: left out when zero.
    private mutating func writeFixed64Field(_ value: UInt64, field: Int) {
        guard value != 0 else { return }
        writeTag(field: field, wireType: .fixed64)
        writeFixed64(value)
    }

    private mutating func writeTag(field: Int, wireType: WireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    private mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func writeFixed64(_ value: UInt64) {
        var value = value.littleEndian
        withUnsafeBytes(of: &value) { bytes.append(contentsOf: $0) }
    }

    // MARK: - Sizes of nested messages

    /// At least the bytes `write(_:)` makes of the span (ids and fixed fields at their largest,
    /// the rest exactly), so its buffer is allocated once instead of grown as it is written.
    static func capacity(for span: SpanRecord) -> Int {
        var total = 3 * 18 + 2 + 2 * 9 + stringFieldSize(span.name) + attributesSize(span.attributes, field: 9)
        for event in span.events { total += lengthDelimitedSize(field: 11, length: size(event)) }
        for link in span.links { total += lengthDelimitedSize(field: 13, length: size(link)) }
        if case .error(let message) = span.status { total += 8 + message.utf8.count } else { total += 8 }
        return total
    }

    private static func size(_ event: SpanEvent) -> Int {
        (event.timeNanoseconds == 0 ? 0 : 9) + stringFieldSize(event.name) + attributesSize(event.attributes, field: 3)
    }

    private static func size(_ link: SpanLink) -> Int {
        idFieldSize(link.traceID) + idFieldSize(link.spanID) + attributesSize(link.attributes, field: 4)
    }

    private static func statusSize(message: String, code: UInt64) -> Int {
        stringFieldSize(message) + 1 + varintSize(code)
    }

    private static func attributesSize(_ attributes: [SpanAttribute], field: Int) -> Int {
        var total = 0
        for attribute in attributes { total += lengthDelimitedSize(field: field, length: size(attribute)) }
        return total
    }

    /// A `KeyValue`: the key (left out when empty) and the value message, always present.
    private static func size(_ attribute: SpanAttribute) -> Int {
        let value = size(attribute.value)
        return stringFieldSize(attribute.key) + 1 + varintSize(UInt64(value)) + value
    }

    private static func size(_ value: SpanAttribute.Value) -> Int {
        switch value {
        case .string(let text): stringValueSize(text)
        case .bool: 2
        case .int(let number): 1 + varintSize(UInt64(bitPattern: number))
        case .double: 9
        case .strings(let texts):
            1 + varintSize(UInt64(arraySize(texts))) + arraySize(texts)
        }
    }

    /// An `AnyValue` holding a string (written even when empty: it is the oneof's case).
    private static func stringValueSize(_ text: String) -> Int {
        let count = text.utf8.count
        return 1 + varintSize(UInt64(count)) + count
    }

    /// An `ArrayValue` of strings: each an `AnyValue` entry of field 1.
    private static func arraySize(_ texts: [String]) -> Int {
        var total = 0
        for text in texts {
            let value = stringValueSize(text)
            total += 1 + varintSize(UInt64(value)) + value
        }
        return total
    }

    private static func stringFieldSize(_ text: String) -> Int {
        let count = text.utf8.count
        return count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count
    }

    private static func idFieldSize(_ hex: String) -> Int {
        let count = idByteCount(hex)
        return count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count
    }

    /// The bytes a hex id stands for; 0 when it is not even-length hex.
    private static func idByteCount(_ hex: String) -> Int {
        var valid = true
        var count = 0
        for digit in hex.utf8 {
            if nibble(digit) == nil {
                valid = false
                break
            }
            count += 1
        }
        return valid && count % 2 == 0 ? count / 2 : 0
    }

    private static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    private static func kindNumber(_ kind: SpanRecord.Kind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        }
    }

    /// A hex digit's value (either case); nil for anything else.
    static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
