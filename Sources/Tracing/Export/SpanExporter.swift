internal import Foundation
internal import Synchronization

/// Sends one encoded batch to a collector. The executable implements it over its HTTP client
/// (the tracing module opens no sockets). Throws when the collector cannot be reached.
public protocol SpanExportTransport: Sendable {
    func post(_ body: [UInt8], contentType: String) async throws -> SpanExportResponse
}

public struct SpanExportResponse: Sendable, Equatable {
    public let status: Int
    /// The collector's `Retry-After`, when it sent one.
    public let retryAfter: Duration?

    public init(status: Int, retryAfter: Duration? = nil) {
        self.status = status
        self.retryAfter = retryAfter
    }
}

/// What to do after one attempt to export a batch: OTLP's rules (retry only 429, 502, 503 and 504,
/// and an unreachable collector, honouring `Retry-After`; anything else is final).
public enum SpanExportRetry: Equatable, Sendable {
    case delivered
    case retry(after: Duration)
    case drop(reason: String)

    public static func decide(
        _ outcome: Result<SpanExportResponse, SpanExportUnreachable>,
        attempt: Int,
        maximumAttempts: Int
    ) -> SpanExportRetry {
        let backoff = Duration.milliseconds(500) * (1 << min(max(attempt - 1, 0), 6))
        switch outcome {
        case .success(let response) where (200..<300).contains(response.status):
            return .delivered
        case .success(let response) where [429, 502, 503, 504].contains(response.status):
            guard attempt < maximumAttempts else {
                return .drop(reason: "HTTP \(response.status) after \(attempt) attempts")
            }
            return .retry(after: min(response.retryAfter ?? backoff, .seconds(60)))
        case .success(let response):
            return .drop(reason: "HTTP \(response.status)")
        case .failure:
            guard attempt < maximumAttempts else { return .drop(reason: "unreachable after \(attempt) attempts") }
            return .retry(after: min(backoff, .seconds(30)))
        }
    }
}

public struct SpanExportUnreachable: Error, Equatable, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// One exporter's pipeline: a bounded queue the request path only appends to (never waiting: a
/// full queue drops the new spans and counts them), and a loop that sends batches, retrying as
/// `SpanExportRetry` says. A dead collector costs at most `capacity` spans of memory.
public final class SpanExporter: EncodedSpanSink {
    public struct Counts: Sendable, Equatable {
        public var queued = 0
        public var exported = 0
        /// Dropped because the queue was full.
        public var droppedQueueFull = 0
        /// Dropped after the collector refused them or stayed unreachable.
        public var droppedByCollector = 0

        public static let zero = Counts()
    }

    public let name: String
    public let capacity: Int
    public let batchSize: Int
    public let flushInterval: Duration
    public let maximumAttempts: Int
    private let transport: any SpanExportTransport
    private let contentType: String
    /// Writes a request body of the spans' bytes (as this exporter sends them) into an empty buffer.
    private let encode: @Sendable ([ExportedSpan], inout [UInt8]) -> Void
    /// A Langfuse exporter's spans carry its attributes (see `EncodedSpan.langfuse`).
    private let addsLangfuseAttributes: Bool
    private let sleep: @Sendable (Duration) async throws -> Void
    /// Only the bytes wait here, not the spans they came from.
    private let state = Mutex<(spans: [ExportedSpan], counts: Counts)>(([], Counts()))
    private let wakeUps: AsyncStream<Void>.Continuation
    private let wakeUpStream: AsyncStream<Void>
    private let lastProblem = Mutex<String?>(nil)
    /// The last body's storage, written over by the next one: a batch's body is large, and a fresh
    /// one each time would come as fresh pages to fault in.
    private let keptBody = Mutex<[UInt8]>([])
    /// A body larger than this (spans with much captured content) is not kept.
    public static let maximumKeptBodyBytes = 4 << 20

    public init(
        name: String,
        transport: any SpanExportTransport,
        contentType: String,
        encode: @escaping @Sendable ([ExportedSpan], inout [UInt8]) -> Void,
        addsLangfuseAttributes: Bool = false,
        capacity: Int = 4096,
        batchSize: Int = 512,
        flushInterval: Duration = .seconds(1),
        maximumAttempts: Int = 5,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.name = name
        self.transport = transport
        self.contentType = contentType
        self.encode = encode
        self.addsLangfuseAttributes = addsLangfuseAttributes
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.flushInterval = flushInterval
        self.maximumAttempts = max(1, maximumAttempts)
        self.sleep = sleep
        (wakeUpStream, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues spans; never suspends. What does not fit is dropped and counted.
    public func accept(_ spans: [EncodedSpan]) {
        let full = state.withLock { state -> Bool in
            let room = capacity - state.spans.count
            let taken = spans.prefix(max(0, room))
            for span in taken { state.spans.append(span.exported(withLangfuseAttributes: addsLangfuseAttributes)) }
            state.counts.droppedQueueFull += spans.count - taken.count
            state.counts.queued = state.spans.count
            return state.spans.count >= batchSize
        }
        if full { wakeUps.yield() }
    }

    public var counts: Counts { state.withLock { $0.counts } }
    /// Why the last batch was dropped, for the logs and the admin API.
    public var lastDropReason: String? { lastProblem.withLock { $0 } }

    /// Sends batches until the task is cancelled: when a batch is full, else every `flushInterval`.
    /// One loop consumes the wake-ups for the exporter's whole life (a wake-up stream whose
    /// consumer is cancelled is finished for good), and a ticker adds one every interval.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [wakeUps, sleep, flushInterval] in
                while (try? await sleep(flushInterval)) != nil { wakeUps.yield() }
            }
            for await _ in wakeUpStream {
                await exportQueued()
                if Task.isCancelled { break }
            }
            group.cancelAll()
        }
    }

    /// Sends everything queued now, batch by batch (also at shutdown).
    public func exportQueued() async {
        while true {
            let batch = state.withLock { state -> [ExportedSpan] in
                let batch = Array(state.spans.prefix(batchSize))
                state.spans.removeFirst(batch.count)
                state.counts.queued = state.spans.count
                return batch
            }
            guard !batch.isEmpty else { return }
            await send(batch)
        }
    }

    private func send(_ batch: [ExportedSpan]) async {
        var body = keptBody.withLock { kept in
            defer { kept = [] }
            return kept
        }
        body.removeAll(keepingCapacity: true)
        encode(batch, &body)
        defer {
            if body.capacity <= Self.maximumKeptBodyBytes { keptBody.withLock { [body] kept in kept = body } }
        }
        var attempt = 1
        while true {
            let outcome: Result<SpanExportResponse, SpanExportUnreachable>
            do {
                outcome = .success(try await transport.post(body, contentType: contentType))
            } catch {
                outcome = .failure(SpanExportUnreachable("\(error)"))
            }
            switch SpanExportRetry.decide(outcome, attempt: attempt, maximumAttempts: maximumAttempts) {
            case .delivered:
                state.withLock { $0.counts.exported += batch.count }
                return
            case .drop(let reason):
                drop(batch, reason: reason)
                return
            case .retry(let wait):
                guard (try? await sleep(wait)) != nil else {
                    drop(batch, reason: "stopped while waiting to retry")
                    return
                }
                attempt += 1
            }
        }
    }

    private func drop(_ batch: [ExportedSpan], reason: String) {
        state.withLock { $0.counts.droppedByCollector += batch.count }
        lastProblem.withLock { $0 = reason }
    }
}
