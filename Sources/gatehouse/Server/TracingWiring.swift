internal import AsyncHTTPClient
internal import Foundation
internal import GatehouseCore
internal import GatehouseTracing
internal import Logging
internal import Metrics
internal import NIOCore
internal import NIOHTTP1
internal import ServiceLifecycle
internal import Store
internal import Synchronization

/// Tracing as the gateway runs it: the tracer the planes report to, and where its spans go (the
/// local store, each configured exporter, the trace metrics), with the services that send,
/// write, sweep idle runs and flush at shutdown.
struct TracingRuntime: Sendable {
    /// What the planes get: the tracer, or a recorder that records nothing when tracing is off.
    let recorder: any TraceRecorder
    let tracer: AgentTracer?
    let exporters: [SpanExporter]
    let storeWriter: TraceStoreWriter?
    /// Encodes each span once for the store and every exporter; nil when spans go to neither.
    let pipeline: SpanEncodingPipeline?
    /// The exporters' own HTTP client (shut down by `SpanExportService` when it stops): it fails a
    /// post at once when the collector cannot be reached, leaving retries to the exporter's rules,
    /// where the shared client would keep reconnecting until the post's deadline.
    let client: HTTPClient?

    /// How long shutdown gives the exporters to send what they hold, after the last run ended.
    static let shutdownFlushLimit: Duration = .seconds(2)

    static func make(
        configuration: TracingConfiguration,
        store: Store,
        metrics: any MetricsFactory,
        logger: Logger
    ) -> TracingRuntime {
        guard configuration.isEnabled else {
            logger.info("tracing is off (tracing.enabled: false)")
            return TracingRuntime(
                recorder: NoTraceRecorder(),
                tracer: nil,
                exporters: [],
                storeWriter: nil,
                pipeline: nil,
                client: nil
            )
        }
        let storeWriter =
            configuration.store.isEnabled ? TraceStoreWriter(store: store, settings: configuration.store) : nil
        var encodedSinks: [any EncodedSpanSink] = []
        if let storeWriter { encodedSinks.append(storeWriter) }
        let resource = [
            SpanAttribute("service.name", configuration.serviceName),
            SpanAttribute("service.version", GatehouseVersion.current),
        ]
        var exporters: [SpanExporter] = []
        var client: HTTPClient?
        if !configuration.exporters.isEmpty {
            var settings = HTTPClient.Configuration()
            settings.timeout.connect = .seconds(2)
            settings.connectionPool.retryConnectionEstablishment = false
            // Exporting must not trace itself.
            settings.tracing.tracer = nil
            client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
        }
        let framing: OTLPTraceEncoder.RequestFraming?
        do {
            framing = try OTLPTraceEncoder.RequestFraming(
                resource: resource,
                scope: ("gatehouse", GatehouseVersion.current)
            )
        } catch {
            framing = nil
            logger.error("trace exporters off: cannot encode the service's resource", metadata: ["error": "\(error)"])
        }
        for definition in configuration.exporters {
            guard let client, let framing else { break }
            let isLangfuse = definition.kind == .langfuse
            let exporter = SpanExporter(
                name: definition.name,
                transport: HTTPSpanTransport(definition: definition, client: client),
                contentType: OTLPTraceEncoder.contentType,
                encode: { spans, body in framing.write(spans, into: &body) },
                // A Langfuse exporter's spans carry its trace attributes: the span's bytes followed
                // by those of its Langfuse attributes (see `OTLPTraceEncoder`).
                addsLangfuseAttributes: isLangfuse,
                capacity: definition.queueCapacity,
                batchSize: definition.batchSize,
                flushInterval: definition.flushInterval
            )
            exporters.append(exporter)
            encodedSinks.append(exporter)
            logger.info(
                "trace exporter",
                metadata: [
                    "exporter": "\(definition.name)", "type": "\(definition.kind.rawValue)",
                    "url": "\(DisplayURL.redacted(definition.tracesURL))",
                ]
            )
        }
        for reason in configuration.disabledExporters {
            logger.info("trace exporter off", metadata: ["reason": "\(reason)"])
        }
        let traceMetrics = TraceMetricsSink(factory: metrics)
        var sinks: [any SpanSink] = []
        var pipeline: SpanEncodingPipeline?
        if encodedSinks.isEmpty {
            sinks.append(traceMetrics)
        } else {
            // The metrics are read off the spans in the pipeline's loop, a batch at a time.
            let encoding = SpanEncodingPipeline(
                sinks: encodedSinks,
                recordSinks: [traceMetrics],
                addsLangfuseAttributes: configuration.exporters.contains { $0.kind == .langfuse }
            )
            sinks.append(encoding)
            pipeline = encoding
        }
        let tracer = AgentTracer(sinks: sinks, runs: AgentRuns(idleWindow: configuration.runIdleWindow))
        return TracingRuntime(
            recorder: tracer,
            tracer: tracer,
            exporters: exporters,
            storeWriter: storeWriter,
            pipeline: pipeline,
            client: client
        )
    }
}

/// Posts a batch with the gateway's shared HTTP client, the exporter's headers and time limit.
/// Request bodies' buffers are kept and reused (an exporter sends one batch at a time), so their
/// pages stay mapped instead of being faulted in again for every batch. Two take turns: the HTTP
/// client may still hold the last request's body until its connection starts the next request,
/// and writing into a buffer it holds would copy it.
final class HTTPSpanTransport: SpanExportTransport, Sendable {
    let definition: TraceExporterDefinition
    let client: HTTPClient
    private let keptBuffers = Mutex<[ByteBuffer]>([])

    init(definition: TraceExporterDefinition, client: HTTPClient) {
        self.definition = definition
        self.client = client
    }

    func post(_ body: [UInt8], contentType: String) async throws -> SpanExportResponse {
        var request = HTTPClientRequest(url: definition.tracesURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "gatehouse/\(GatehouseVersion.current)")
        for header in definition.headers {
            request.headers.replaceOrAdd(name: header.name, value: header.value.revealedValue)
        }
        // The one returned longest ago, once both exist.
        var buffer = keptBuffers.withLock { kept in kept.count < 2 ? ByteBuffer() : kept.removeFirst() }
        buffer.clear()
        buffer.writeBytes(body)
        request.body = .bytes(buffer)
        defer {
            if buffer.capacity <= SpanExporter.maximumKeptBodyBytes {
                keptBuffers.withLock { [buffer] kept in if kept.count < 2 { kept.append(buffer) } }
            }
        }
        let response = try await client.execute(request, timeout: TimeAmount(definition.timeout))
        // The answer's body says nothing an exporter acts on; read a little so the connection is reused.
        _ = try? await response.body.collect(upTo: 64 << 10)
        return SpanExportResponse(
            status: Int(response.status.code),
            retryAfter: Self.retryAfter(response.headers.first(name: "Retry-After"))
        )
    }

    /// `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int((date.timeIntervalSince(now) * 1000).rounded())))
    }
}

/// Spans on their way to the local store: a bounded buffer the request path appends to without
/// waiting (a full buffer drops and counts), written in batches by its service, kept to its size
/// limit with every batch and pruned by age once a minute.
final class TraceStoreWriter: EncodedSpanSink, Sendable {
    let store: Store
    let settings: TraceStoreSettings
    let capacity = 20_000
    /// Rows made as the pipeline hands spans over (on its task, not the request's).
    private let state = Mutex<(rows: [StoredSpan], dropped: Int)>(([], 0))
    private let wakeUps: AsyncStream<Void>.Continuation
    let rowsReady: AsyncStream<Void>

    init(store: Store, settings: TraceStoreSettings) {
        self.store = store
        self.settings = settings
        (rowsReady, wakeUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func accept(_ spans: [EncodedSpan]) {
        let rows = spans.map(StoredSpanCoding.row)
        let wake = state.withLock { state -> Bool in
            let room = max(0, capacity - state.rows.count)
            state.rows.append(contentsOf: rows.prefix(room))
            state.dropped += rows.count - min(room, rows.count)
            return state.rows.count >= 256
        }
        if wake { wakeUps.yield() }
    }

    /// Asks the writer's loop to write what is buffered.
    func wake() { wakeUps.yield() }

    func take() -> [StoredSpan] {
        state.withLock { state in
            defer { state.rows.removeAll(keepingCapacity: true) }
            return state.rows
        }
    }

    var queued: Int { state.withLock { $0.rows.count } }
    var dropped: Int { state.withLock { $0.dropped } }

    func noteDropped(_ count: Int) {
        state.withLock { $0.dropped += count }
    }

    /// Writes what is buffered, and removes as many of the oldest spans as the size limit asks
    /// (one transaction): a full store is kept at its size a batch at a time.
    func flush(logger: Logger) async {
        let rows = take()
        guard !rows.isEmpty else { return }
        do {
            try await store.recordSpans(rows, keepingAtMost: settings.maximumSpans)
        } catch {
            noteDropped(rows.count)
            logger.warning(
                "could not write spans to the trace store",
                metadata: ["spans": "\(rows.count)", "error": "\(error)"]
            )
        }
    }

    func prune(logger: Logger) async {
        let cutoff = Int64(clamping: TraceClock.now()) - settings.retention.components.seconds * 1_000_000_000
        do {
            let removed = try await store.pruneTraceSpans(
                olderThanNanoseconds: cutoff,
                maximumSpans: settings.maximumSpans
            )
            if removed > 0 { logger.debug("trace store pruned", metadata: ["spans": "\(removed)"]) }
        } catch {
            logger.warning("could not prune the trace store", metadata: ["error": "\(error)"])
        }
    }
}

struct TraceStoreWriterService: Service {
    let writer: TraceStoreWriter
    let logger: Logger

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await Task.sleep(for: .milliseconds(500))) != nil { writer.wake() }
            }
            group.addTask {
                var lastPrune = ContinuousClock.now
                await writer.prune(logger: logger)
                // One consumer for the service's whole life: a stream whose consumer is cancelled
                // is finished for good.
                for await _ in writer.rowsReady {
                    await writer.flush(logger: logger)
                    if ContinuousClock.now - lastPrune > .seconds(60) {
                        lastPrune = .now
                        await writer.prune(logger: logger)
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // The runs the sweeper ended at shutdown are buffered by now: write them.
        await writer.flush(logger: logger)
    }
}

/// Runs the exporters: batches while the gateway runs, then, at shutdown, what they still hold,
/// all at once within `TracingRuntime.shutdownFlushLimit`; keeps their queue and drop metrics current.
struct SpanExportService: Service {
    let exporters: [SpanExporter]
    let client: HTTPClient
    let metrics: any MetricsFactory
    let logger: Logger

    func run() async {
        let reporters = exporters.map { ExporterMetrics(exporter: $0, factory: metrics) }
        await withTaskGroup(of: Void.self) { group in
            for exporter in exporters { group.addTask { await exporter.run() } }
            group.addTask {
                while !Task.isCancelled {
                    for reporter in reporters { reporter.update(logger: logger) }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskGroup(of: Void.self) { flushes in
                    for exporter in exporters { flushes.addTask { await exporter.exportQueued() } }
                }
            }
            group.addTask { try? await Task.sleep(for: TracingRuntime.shutdownFlushLimit) }
            await group.next()
            group.cancelAll()
        }
        for reporter in reporters { reporter.update(logger: logger) }
        try? await client.shutdown()
    }
}

/// `gatehouse_trace_export_queue_spans`, `gatehouse_trace_spans_exported_total` and
/// `gatehouse_trace_spans_dropped_total{reason}` of one exporter, from its counts.
final class ExporterMetrics: Sendable {
    private let exporter: SpanExporter
    private let queue: Gauge
    private let exported: Counter
    private let droppedQueueFull: Counter
    private let droppedByCollector: Counter
    private let last = Mutex<SpanExporter.Counts?>(nil)
    private let lastReason = Mutex<String?>(nil)

    init(exporter: SpanExporter, factory: any MetricsFactory) {
        self.exporter = exporter
        let name = ("exporter", exporter.name)
        queue = Gauge(label: "gatehouse_trace_export_queue_spans", dimensions: [name], factory: factory)
        exported = Counter(label: "gatehouse_trace_spans_exported_total", dimensions: [name], factory: factory)
        droppedQueueFull = Counter(
            label: "gatehouse_trace_spans_dropped_total",
            dimensions: [name, ("reason", "queue_full")],
            factory: factory
        )
        droppedByCollector = Counter(
            label: "gatehouse_trace_spans_dropped_total",
            dimensions: [name, ("reason", "collector")],
            factory: factory
        )
    }

    func update(logger: Logger) {
        let counts = exporter.counts
        let previous =
            last.withLock { last in
                defer { last = counts }
                return last
            } ?? SpanExporter.Counts.zero
        queue.record(counts.queued)
        exported.increment(by: max(0, counts.exported - previous.exported))
        droppedQueueFull.increment(by: max(0, counts.droppedQueueFull - previous.droppedQueueFull))
        let collectorDrops = max(0, counts.droppedByCollector - previous.droppedByCollector)
        droppedByCollector.increment(by: collectorDrops)
        let reason = exporter.lastDropReason
        let changed = lastReason.withLock { last -> Bool in
            defer { last = reason }
            return last != reason
        }
        if collectorDrops > 0, changed {
            logger.warning(
                "trace exporter dropped spans",
                metadata: ["exporter": "\(exporter.name)", "spans": "\(collectorDrops)", "reason": "\(reason ?? "")"]
            )
        }
    }
}

/// Runs the encoding pipeline; at shutdown (after the sweeper ended every run, before the exporters
/// and the store flush) encodes and hands over what it still holds. Counts its drops as
/// `gatehouse_trace_spans_dropped_total{exporter="all",reason="encoding_queue_full"}`.
struct SpanPipelineService: Service {
    let pipeline: SpanEncodingPipeline
    let metrics: any MetricsFactory

    func run() async {
        let dropped = Counter(
            label: "gatehouse_trace_spans_dropped_total",
            dimensions: [("exporter", "all"), ("reason", "encoding_queue_full")],
            factory: metrics
        )
        let reporter = DropReporter(pipeline: pipeline, counter: dropped)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await pipeline.run() }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(1))) != nil { reporter.report() }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        pipeline.drain()
        reporter.report()
    }

    /// Adds the drops since the last report to the counter.
    final class DropReporter: Sendable {
        let pipeline: SpanEncodingPipeline
        let counter: Counter
        private let reported = Mutex(0)

        init(pipeline: SpanEncodingPipeline, counter: Counter) {
            self.pipeline = pipeline
            self.counter = counter
        }

        func report() {
            let total = pipeline.dropped
            let new = reported.withLock { reported in
                defer { reported = total }
                return total - reported
            }
            if new > 0 { counter.increment(by: new) }
        }
    }
}

/// Ends idle runs every few seconds, and every open run at shutdown (after the HTTP server has
/// drained, so no call is still adding to them).
struct RunSweeper: Service {
    let tracer: AgentTracer

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    tracer.sweep(now: TraceClock.now())
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        tracer.finishAll()
    }
}
