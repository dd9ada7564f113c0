internal import Foundation
internal import Synchronization

/// A finished span, serialized once for every place it goes. Bytes, not `Data`: every sink
/// reads them as they are (a `Data` made from the writer's bytes, and an array made back from it
/// for the store, were two more allocations and copies per span).
public struct EncodedSpan: Sendable {
    public let record: SpanRecord
    /// The agent whose run the span belongs to.
    public let agent: String
    /// The span as a serialized OTLP `Span`.
    public let otlp: [UInt8]
    /// A span holding only the Langfuse attributes (`LangfuseAttributeEncoder`): a Langfuse
    /// exporter sends it right after `otlp`, inside the same span message, which then reads as one
    /// span with both sets of attributes. Empty when no Langfuse exporter is configured.
    public let langfuse: [UInt8]

    public init(record: SpanRecord, agent: String, otlp: [UInt8], langfuse: [UInt8] = []) {
        self.record = record
        self.agent = agent
        self.otlp = otlp
        self.langfuse = langfuse
    }

    /// Encodes a span (and, when asked, its Langfuse attributes).
    public static func encoding(
        _ record: SpanRecord,
        agent: String,
        langfuse: LangfuseAttributeEncoder? = nil
    ) -> EncodedSpan {
        EncodedSpan(
            record: record,
            agent: agent,
            otlp: OTLPTraceEncoder.encodedBytes(record),
            langfuse: langfuse?.encode(record, agent: agent) ?? []
        )
    }

    /// The span as an exporter sends it.
    func exported(withLangfuseAttributes: Bool) -> ExportedSpan {
        ExportedSpan(span: otlp, attributes: withLangfuseAttributes ? langfuse : [])
    }
}

/// One span as an exporter's request carries it: the span's bytes, then the bytes of a span
/// holding only the attributes this exporter adds (none for a plain OTLP exporter), framed as one
/// span. Kept apart until the request is written, so adding attributes copies no span.
public struct ExportedSpan: Sendable, Equatable {
    public let span: [UInt8]
    public let attributes: [UInt8]

    public init(span: [UInt8], attributes: [UInt8] = []) {
        self.span = span
        self.attributes = attributes
    }

    /// The framed span's length.
    public var count: Int { span.count + attributes.count }
}

/// A span's Langfuse attributes, encoded as a span holding only them, to follow the span's own
/// bytes. The trace and observation groups (an agent's trace name and user, the observation type)
/// repeat, so each agent and type's pair is encoded once and kept: a span then costs one lookup
/// and the encoding of its own group (session and cost).
public final class LangfuseAttributeEncoder: Sendable {
    /// Agents are bounded by configuration plus JWT subjects; past this many kept groups, a
    /// group is encoded every time instead of kept.
    static let maximumKeptGroups = 10_000

    private struct GroupKey: Hashable {
        let agent: String
        let observation: LangfuseAttributes.Observation
    }

    private let kept = Mutex<[GroupKey: [UInt8]]>([:])

    public init() {}

    /// The span's Langfuse attributes, as a span holding only them.
    public func encode(_ span: SpanRecord, agent: String) -> [UInt8] {
        let key = GroupKey(agent: agent, observation: LangfuseAttributes.Observation(of: span))
        let group: [UInt8]
        if let known = kept.withLock({ $0[key] }) {
            group = known
        } else {
            var groupWriter = OTLPSpanWriter()
            groupWriter.writeSpanAttributes(
                LangfuseAttributes.traceAttributes(traceName: LangfuseAttributes.traceName(agent: agent), userID: agent)
                    + key.observation.attributes
            )
            group = groupWriter.bytes
            kept.withLock { [group] kept in
                if kept.count < Self.maximumKeptGroups { kept[key] = group }
            }
        }
        var writer = OTLPSpanWriter(capacity: group.count + 96)
        writer.append(contentsOf: group)
        writer.writeSpanAttributes(
            LangfuseAttributes.ownAttributes(of: span, sessionID: LangfuseAttributes.session(of: span))
        )
        return writer.bytes
    }
}

/// Takes encoded spans; must not wait (an exporter's queue, the local store's buffer).
public protocol EncodedSpanSink: Sendable {
    func accept(_ spans: [EncodedSpan])
}

/// Finished spans on their way to the exporters and the local store. The request path only
/// appends what a call reported to a bounded buffer (a full buffer drops the new spans and counts
/// them); a background loop builds the spans, hands the records to the sinks that read them (the
/// trace metrics), then serializes each span once and hands the same bytes to every encoded sink,
/// so adding an exporter adds no encoding. All of it a batch at a time, off the request path.
public final class SpanEncodingPipeline: SpanSink {
    public let capacity: Int
    /// Spans buffered before the loop is woken ahead of its interval.
    public let batchSize: Int
    public let interval: Duration
    private let sinks: [any EncodedSpanSink]
    private let recordSinks: [any SpanSink]
    /// Set when a Langfuse exporter is configured.
    private let langfuse: LangfuseAttributeEncoder?
    /// What calls reported, not yet built into spans; `spanCount` is how many spans that makes.
    private let state = Mutex<(sources: [(SpanSource, String)], spanCount: Int, dropped: Int)>(([], 0, 0))
    private let wakeUps: AsyncStream<Void>.Continuation
    private let wakeUpStream: AsyncStream<Void>

    public init(
        sinks: [any EncodedSpanSink],
        recordSinks: [any SpanSink] = [],
        addsLangfuseAttributes: Bool,
        capacity: Int = 20_000,
        batchSize: Int = 128,
        interval: Duration = .milliseconds(100)
    ) {
        self.sinks = sinks
        self.recordSinks = recordSinks
        self.langfuse = addsLangfuseAttributes ? LangfuseAttributeEncoder() : nil
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.interval = interval
        (wakeUpStream, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func accept(_ spans: [SpanRecord], agent: String) {
        accept(SpanSource(spans), agent: agent)
    }

    /// Keeps what a call reported, to build its spans in the next batch. A source that does not
    /// fit is dropped whole (spans already built, as many as fit).
    public func accept(_ source: SpanSource, agent: String) {
        let count = source.spanCount
        let wake = state.withLock { state -> Bool in
            let room = max(0, capacity - state.spanCount)
            if count <= room {
                state.sources.append((source, agent))
                state.spanCount += count
            } else if case .records(let spans) = source.kind, room > 0 {
                state.sources.append((SpanSource(Array(spans.prefix(room))), agent))
                state.spanCount += room
                state.dropped += count - room
            } else {
                state.dropped += count
            }
            return state.spanCount >= batchSize
        }
        if wake { wakeUps.yield() }
    }

    /// Spans dropped because the buffer was full (the sinks never saw them).
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Builds and encodes what is buffered and hands it to the sinks (also at shutdown, after the
    /// last run ended).
    public func drain() {
        let taken = state.withLock { state in
            defer {
                state.sources.removeAll(keepingCapacity: true)
                state.spanCount = 0
            }
            return state.sources
        }
        guard !taken.isEmpty else { return }
        var records: [(SpanRecord, String)] = []
        records.reserveCapacity(taken.count * 2)
        for (source, agent) in taken {
            for span in source.spans() { records.append((span, agent)) }
        }
        if !recordSinks.isEmpty { handRecords(records) }
        let encoded = records.map { record, agent in EncodedSpan.encoding(record, agent: agent, langfuse: langfuse) }
        for sink in sinks { sink.accept(encoded) }
    }

    /// The records to the sinks that read them, each run of one agent's spans in one call.
    private func handRecords(_ taken: [(SpanRecord, String)]) {
        var start = 0
        while start < taken.count {
            let agent = taken[start].1
            var end = start + 1
            while end < taken.count, taken[end].1 == agent { end += 1 }
            let records = taken[start..<end].map(\.0)
            for sink in recordSinks { sink.accept(records, agent: agent) }
            start = end
        }
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
