internal import Foundation
internal import Synchronization

/// A finished span as Gatehouse exports and stores it: plain values, free of any exporter's types,
/// so the OTLP encoder, the Langfuse exporter and the local store all read the same record.
public struct SpanRecord: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case `internal`
        case server
        case client
    }

    public enum Status: Sendable, Equatable {
        case unset
        case ok
        case error(String)
    }

    /// 32 lowercase hex digits, as in `traceparent`.
    public var traceID: String
    /// 16 lowercase hex digits.
    public var spanID: String
    public var parentSpanID: String?
    public var name: String
    public var kind: Kind
    /// Unix time in nanoseconds.
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64
    public var attributes: [SpanAttribute]
    public var events: [SpanEvent]
    public var links: [SpanLink]
    public var status: Status

    public init(
        traceID: String,
        spanID: String,
        parentSpanID: String?,
        name: String,
        kind: Kind,
        startNanoseconds: UInt64,
        endNanoseconds: UInt64,
        attributes: [SpanAttribute] = [],
        events: [SpanEvent] = [],
        links: [SpanLink] = [],
        status: Status = .unset
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = max(endNanoseconds, startNanoseconds)
        self.attributes = attributes
        self.events = events
        self.links = links
        self.status = status
    }

    /// The first value of an attribute, for tests and the viewer.
    public subscript(attribute key: String) -> SpanAttribute.Value? {
        attributes.first { $0.key == key }?.value
    }
}

/// One attribute. Values are the OTLP scalar kinds and string arrays (`gen_ai.response.finish_reasons`).
public struct SpanAttribute: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        case strings([String])
    }

    public let key: String
    public let value: Value

    public init(_ key: String, _ value: Value) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: String) { self.init(key, .string(value)) }
    public init(_ key: String, _ value: Int) { self.init(key, .int(Int64(value))) }
    public init(_ key: String, _ value: Bool) { self.init(key, .bool(value)) }
}

/// Something that happened at an instant inside a span (a policy decision, a retry).
public struct SpanEvent: Sendable, Equatable {
    public let name: String
    public let timeNanoseconds: UInt64
    public let attributes: [SpanAttribute]

    public init(name: String, timeNanoseconds: UInt64, attributes: [SpanAttribute] = []) {
        self.name = name
        self.timeNanoseconds = timeNanoseconds
        self.attributes = attributes
    }
}

/// A link to a span elsewhere (a tool span to the chat span that asked for the call).
public struct SpanLink: Sendable, Equatable {
    public let traceID: String
    public let spanID: String
    public let attributes: [SpanAttribute]

    public init(traceID: String, spanID: String, attributes: [SpanAttribute] = []) {
        self.traceID = traceID
        self.spanID = spanID
        self.attributes = attributes
    }
}

/// Trace and span ids in lowercase hex (never all zero, as W3C Trace Context requires).
public enum TraceIdentifiers {
    /// A trace id: the Unix time in seconds in its first 4 bytes, the fraction of that second in
    /// 1/65536ths in the next 2, random in the other 10 (W3C Trace Context level 2 asks for
    /// randomness in the rightmost 7). Ids made close in time sort close together, so the local
    /// store's trace index grows at its end instead of touching a random page for every span
    /// (within one busy second as well), and the first 8 hex digits still name the start second.
    public static func traceID<R: RandomNumberGenerator>(
        using random: inout R,
        nanoseconds: UInt64? = nil
    ) -> String {
        let nanoseconds = nanoseconds ?? TraceClock.now()
        let seconds = nanoseconds / 1_000_000_000
        let fraction = (nanoseconds % 1_000_000_000) << 16 / 1_000_000_000
        let high = (seconds & 0xFFFF_FFFF) << 32 | fraction << 16 | (random.next() & 0xFFFF)
        return hex(high == 0 ? 1 : high) + hex(random.next())
    }

    public static func spanID<R: RandomNumberGenerator>(using random: inout R) -> String {
        hex(nonZero(&random))
    }

    /// A trace id for a run that starts at `nanoseconds` (Unix), else now.
    public static func traceID(nanoseconds: UInt64? = nil) -> String {
        var random = FastIdentifiers()
        return traceID(using: &random, nanoseconds: nanoseconds)
    }

    public static func spanID() -> String {
        var random = FastIdentifiers()
        return spanID(using: &random)
    }

    /// Ids on the request path without a system call each: SplitMix64 over a process-wide counter
    /// that starts at a random point. Unique within the process and unpredictable enough for
    /// trace ids, which are identifiers, not secrets (W3C Trace Context asks for randomness
    /// against collisions, not against guessing).
    struct FastIdentifiers: RandomNumberGenerator {
        private static let counter = Atomic<UInt64>(UInt64.random(in: 1 ... .max))

        mutating func next() -> UInt64 {
            var z = Self.counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static func nonZero<R: RandomNumberGenerator>(_ random: inout R) -> UInt64 {
        while true {
            let value: UInt64 = random.next()
            if value != 0 { return value }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// 16 lowercase hex digits, zero-padded.
    private static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = hexDigits[Int((value >> UInt64(60 - 4 * index)) & 0xF)]
            }
            return 16
        }
    }
}
