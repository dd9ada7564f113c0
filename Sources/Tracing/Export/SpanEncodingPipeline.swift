public import Foundation
internal import Synchronization

/// A finished span, serialized once for every place it goes.
public struct EncodedSpan: Sendable {
    public let record: SpanRecord
    /// The agent whose run the span belongs to.
    public let agent: String
    /// The span as a serialized OTLP `Span`.
    public let otlp: Data
    /// The span as a Langfuse exporter sends it: `otlp` followed by a span holding only the
    /// Langfuse attributes (`LangfuseAttributeEncoder`), put together in one buffer. Empty when no
    /// Langfuse exporter is configured.
    public let langfuse: Data

    public init(record: SpanRecord, agent: String, otlp: Data, langfuse: Data = Data()) {
        self.record = record
        self.agent = agent
        self.otlp = otlp
        self.langfuse = langfuse
    }

    /// Encodes a span (and, when asked, its Langfuse form); nil if it cannot be encoded.
    public static func encoding(
        _ record: SpanRecord,
        agent: String,
        langfuse: LangfuseAttributeEncoder? = nil
    ) -> EncodedSpan? {
        guard let otlp = try? OTLPTraceEncoder.encode(record) else { return nil }
        var withAttributes = Data()
        if let langfuse {
            guard let encoded = try? langfuse.encode(record, agent: agent, after: otlp) else { return nil }
            withAttributes = encoded
        }
        return EncodedSpan(record: record, agent: agent, otlp: otlp, langfuse: withAttributes)
    }
}

/// A span's Langfuse attributes, encoded to follow the span's own bytes. The trace and
/// observation groups (an agent's trace name and user, the observation type) repeat, so each
/// agent and type's pair is encoded once and kept: a span then costs one lookup and the encoding
/// of its own group (session and cost).
public final class LangfuseAttributeEncoder: Sendable {
    /// Agents are bounded by configuration plus JWT subjects; past this many kept groups, a
    /// group is encoded every time instead of kept.
    static let maximumKeptGroups = 10_000

    private struct GroupKey: Hashable {
        let agent: String
        let observation: LangfuseAttributes.Observation
    }

    private let kept = Mutex<[GroupKey: Data]>([:])

    public init() {}

    /// The span's Langfuse attributes, as a span holding only them.
    public func encode(_ span: SpanRecord, agent: String) throws(OTLPTraceEncoder.EncodingError) -> Data {
        try encode(span, agent: agent, after: Data())
    }

    /// `encoded` (the span's own bytes) followed by its Langfuse attributes, in one buffer.
    public func encode(
        _ span: SpanRecord,
        agent: String,
        after encoded: Data
    ) throws(OTLPTraceEncoder.EncodingError) -> Data {
        let key = GroupKey(agent: agent, observation: LangfuseAttributes.Observation(of: span))
        let group: Data
        if let known = kept.withLock({ $0[key] }) {
            group = known
        } else {
            group = try OTLPTraceEncoder.encodeAttributes(
                LangfuseAttributes.traceAttributes(traceName: LangfuseAttributes.traceName(agent: agent), userID: agent)
                    + key.observation.attributes
            )
            kept.withLock { [group] kept in
                if kept.count < Self.maximumKeptGroups { kept[key] = group }
            }
        }
        let own = try OTLPTraceEncoder.encodeAttributes(
            LangfuseAttributes.ownAttributes(of: span, sessionID: LangfuseAttributes.session(of: span))
        )
        var whole = Data(capacity: encoded.count + group.count + own.count)
        whole.append(encoded)
        whole.append(group)
        whole.append(own)
        return whole
    }
}

/// Takes encoded spans; must not wait (an exporter's queue, the local store's buffer).
public protocol EncodedSpanSink: Sendable {
    func accept(_ spans: [EncodedSpan])
}

/// Finished spans on their way to the exporters and the local store. The request path only
/// appends to a bounded buffer (a full buffer drops the new spans and counts them); a background
/// loop serializes each span once and hands the same bytes to every sink, so adding an exporter
/// adds no encoding.
public final class SpanEncodingPipeline: SpanSink {
    public let capacity: Int
    /// Spans buffered before the loop is woken ahead of its interval.
    public let batchSize: Int
    public let interval: Duration
    private let sinks: [any EncodedSpanSink]
    /// Set when a Langfuse exporter is configured.
    private let langfuse: LangfuseAttributeEncoder?
    private let state = Mutex<(spans: [(SpanRecord, String)], dropped: Int)>(([], 0))
    private let wakeUps: AsyncStream<Void>.Continuation
    private let wakeUpStream: AsyncStream<Void>

    public init(
        sinks: [any EncodedSpanSink],
        addsLangfuseAttributes: Bool,
        capacity: Int = 20_000,
        batchSize: Int = 128,
        interval: Duration = .milliseconds(100)
    ) {
        self.sinks = sinks
        self.langfuse = addsLangfuseAttributes ? LangfuseAttributeEncoder() : nil
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.interval = interval
        (wakeUpStream, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func accept(_ spans: [SpanRecord], agent: String) {
        let wake = state.withLock { state -> Bool in
            let room = max(0, capacity - state.spans.count)
            for span in spans.prefix(room) { state.spans.append((span, agent)) }
            state.dropped += spans.count - min(room, spans.count)
            return state.spans.count >= batchSize
        }
        if wake { wakeUps.yield() }
    }

    /// Spans dropped because the buffer was full (the sinks never saw them).
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Encodes what is buffered and hands it to the sinks (also at shutdown, after the last run ended).
    public func drain() {
        let taken = state.withLock { state in
            defer { state.spans.removeAll(keepingCapacity: true) }
            return state.spans
        }
        guard !taken.isEmpty else { return }
        var encoded: [EncodedSpan] = []
        encoded.reserveCapacity(taken.count)
        var failed = 0
        for (record, agent) in taken {
            if let span = EncodedSpan.encoding(record, agent: agent, langfuse: langfuse) {
                encoded.append(span)
            } else {
                failed += 1
            }
        }
        if failed > 0 { state.withLock { $0.dropped += failed } }
        for sink in sinks { sink.accept(encoded) }
    }

    /// Drains every `interval`, and sooner when `batchSize` spans wait, until cancelled. One loop
    /// consumes the wake-ups for the pipeline's whole life (a wake-up stream whose consumer is
    /// cancelled is finished for good).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wakeUps, interval] in
                while (try? await Task.sleep(for: interval)) != nil { wakeUps.yield() }
            }
            for await _ in wakeUpStream {
                drain()
                if Task.isCancelled { break }
            }
            group.cancelAll()
        }
    }
}
