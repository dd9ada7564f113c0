public import Foundation
internal import Synchronization

/// A finished span, serialized once for every place it goes.
public struct EncodedSpan: Sendable {
    public let record: SpanRecord
    /// The agent whose run the span belongs to.
    public let agent: String
    /// The span as a serialized OTLP `Span`.
    public let otlp: Data
    /// A span holding only the Langfuse attributes of this one (`OTLPTraceEncoder.encodeAttributes`):
    /// `otlp` followed by these bytes is the span as a Langfuse exporter sends it. Empty when no
    /// Langfuse exporter is configured.
    public let langfuseAttributes: Data

    public init(record: SpanRecord, agent: String, otlp: Data, langfuseAttributes: Data = Data()) {
        self.record = record
        self.agent = agent
        self.otlp = otlp
        self.langfuseAttributes = langfuseAttributes
    }

    /// Encodes a span (and, when asked, its Langfuse attributes); nil if it cannot be encoded.
    public static func encoding(
        _ record: SpanRecord,
        agent: String,
        langfuse: LangfuseAttributeEncoder? = nil
    ) -> EncodedSpan? {
        guard let otlp = try? OTLPTraceEncoder.encode(record) else { return nil }
        var extra = Data()
        if let langfuse {
            guard let encoded = try? langfuse.encode(record, agent: agent) else { return nil }
            extra = encoded
        }
        return EncodedSpan(record: record, agent: agent, otlp: otlp, langfuseAttributes: extra)
    }
}

/// A span's Langfuse attributes, encoded to follow the span's own bytes. The groups that repeat
/// (an agent's trace name and user, an observation type) are encoded once and kept; only the
/// span's session and cost are encoded each time.
public final class LangfuseAttributeEncoder: Sendable {
    /// Agents are bounded by configuration plus JWT subjects; past this many, an agent's group
    /// is encoded every time instead of kept.
    static let maximumKeptAgents = 10_000
    private let kept = Mutex<(agents: [String: Data], observations: [String: Data])>(([:], [:]))

    public init() {}

    public func encode(_ span: SpanRecord, agent: String) throws(OTLPTraceEncoder.EncodingError) -> Data {
        let parts = LangfuseAttributes.parts(for: span, agent: agent)
        let (trace, observation) = kept.withLock { ($0.agents[agent], $0.observations[parts.observationKey]) }
        var encoded: Data
        if let trace {
            encoded = trace
        } else {
            encoded = try OTLPTraceEncoder.encodeAttributes(parts.trace)
            kept.withLock { [encoded] kept in
                if kept.agents.count < Self.maximumKeptAgents { kept.agents[agent] = encoded }
            }
        }
        if let observation {
            encoded += observation
        } else {
            let fresh = try OTLPTraceEncoder.encodeAttributes(parts.observation)
            // A handful of types: always kept.
            kept.withLock { $0.observations[parts.observationKey] = fresh }
            encoded += fresh
        }
        encoded += try OTLPTraceEncoder.encodeAttributes(parts.span)
        return encoded
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
