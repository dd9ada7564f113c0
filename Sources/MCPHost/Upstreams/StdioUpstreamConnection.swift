internal import Foundation
internal import GatehouseJSON
internal import Logging
internal import NIOCore
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// How to start a stdio server.
public struct StdioLaunch: Sendable, Equatable {
    public var command: String
    public var arguments: [String]
    /// The complete environment of the process (the gateway's own is not inherited).
    public var environment: [String: String]
    public var workingDirectory: String?

    public init(command: String, arguments: [String], environment: [String: String], workingDirectory: String?) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// One stdio server process shared by every client: newline-delimited JSON-RPC on its stdin and
/// stdout, ids and progress tokens rewritten per call (`UpstreamRequestTable`), stderr logged line
/// by line. When the process exits every call in flight fails at once.
final class StdioUpstreamConnection: UpstreamConnection {
    let serverName: String
    private let logger: Logger
    private let handlers: UpstreamEventHandlers
    private let state: Mutex<State>
    private let closedSignal: AsyncStream<String>
    private let closedContinuation: AsyncStream<String>.Continuation
    private let onUpstreamMessage: @Sendable () -> Void

    /// How long each termination step (close stdin, SIGTERM, SIGKILL) may take before the next one.
    static let terminationStepTimeout = UpstreamStopBound.step

    private struct Waiter {
        let continuation: CheckedContinuation<Result<JSONRPCMessage, UpstreamCallError>, Never>
        let onNotification: @Sendable (JSONRPCMessage) -> Void
        var timer: Scheduled<Void>?
    }

    private struct State {
        var table: UpstreamRequestTable
        var waiters: [JSONRPCID: Waiter] = [:]
        /// Calls cancelled before their waiter was registered.
        var cancelledEarly: Set<JSONRPCID> = []
        var closedReason: String?
        var process: ChildProcess?
    }

    var processID: Int32? { state.withLock { $0.process?.pid } }

    private init(
        serverName: String,
        maximumPending: Int,
        handlers: UpstreamEventHandlers,
        logger: Logger,
        onUpstreamMessage: @escaping @Sendable () -> Void
    ) {
        self.serverName = serverName
        self.handlers = handlers
        self.logger = logger
        self.onUpstreamMessage = onUpstreamMessage
        self.state = Mutex(State(table: UpstreamRequestTable(maximumPending: maximumPending)))
        (closedSignal, closedContinuation) = AsyncStream.makeStream(
            of: String.self,
            bufferingPolicy: .bufferingNewest(1)
        )
    }

    /// Starts the process. Throws when it cannot be spawned (missing command, bad directory).
    static func start(
        serverName: String,
        launch: StdioLaunch,
        group: any EventLoopGroup,
        maximumPending: Int,
        maximumLineLength: Int,
        handlers: UpstreamEventHandlers,
        logger: Logger,
        onUpstreamMessage: @escaping @Sendable () -> Void
    ) async throws -> StdioUpstreamConnection {
        let connection = StdioUpstreamConnection(
            serverName: serverName,
            maximumPending: maximumPending,
            handlers: handlers,
            logger: logger,
            onUpstreamMessage: onUpstreamMessage
        )
        let process = try await ChildProcess.spawn(
            command: launch.command,
            arguments: launch.arguments,
            environment: launch.environment,
            workingDirectory: launch.workingDirectory,
            group: group,
            standardStreamsInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        StdioLineHandler(maximumLineLength: maximumLineLength, connection: connection)
                    )
                }
            },
            standardErrorInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StandardErrorLogger(logger: logger))
                }
            }
        )
        connection.state.withLock { $0.process = process }
        logger.info("started stdio server", metadata: ["pid": "\(process.pid)", "command": "\(launch.command)"])
        process.exit.whenSuccess { exit in
            connection.close(reason: "the process \(exit)")
        }
        return connection
    }

    func call(
        _ request: JSONRPCMessage,
        from client: ClientToken,
        timeout: Duration,
        toolHeaders: MCPToolHeaderBindings,
        onNotification: @escaping @Sendable (JSONRPCMessage) -> Void
    ) async throws(UpstreamCallError) -> JSONRPCMessage {
        let prepared: Result<(JSONRPCMessage, ChildProcess), UpstreamCallError> = state.withLock { state in
            guard let process = state.process, state.closedReason == nil else {
                return .failure(.unavailable(server: serverName, reason: state.closedReason ?? "not started"))
            }
            do throws(UpstreamRequestTableError) {
                return .success((try state.table.outgoingRequest(request, from: client), process))
            } catch {
                switch error {
                case .full(let maximum): return .failure(.overloaded(server: serverName, maximumPending: maximum))
                case .duplicateRequestID(let id):
                    return .failure(.invalidReply(server: serverName, reason: "request id \(id) is already in flight"))
                }
            }
        }
        let (outgoing, process) = try prepared.get()
        guard let upstreamID = outgoing.id else { throw .invalidReply(server: serverName, reason: "no request id") }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<JSONRPCMessage, UpstreamCallError>, Never>) in
                let registered: Bool = state.withLock { state in
                    if state.cancelledEarly.remove(upstreamID) != nil { return false }
                    if let reason = state.closedReason {
                        state.table.remove(upstreamID)
                        continuation.resume(returning: .failure(.disconnected(server: serverName, reason: reason)))
                        return true
                    }
                    let timer = process.standardStreams.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                        self.expire(upstreamID, after: timeout)
                    }
                    state.waiters[upstreamID] = Waiter(
                        continuation: continuation,
                        onNotification: onNotification,
                        timer: timer
                    )
                    return true
                }
                guard registered else {
                    continuation.resume(returning: .failure(.disconnected(server: serverName, reason: "cancelled")))
                    return
                }
                write(outgoing, to: process)
            }
        } onCancel: {
            self.cancel(upstreamID, reason: "the client went away")
        }
        return try result.get()
    }

    func notify(_ notification: JSONRPCMessage) async {
        guard let process = state.withLock({ $0.closedReason == nil ? $0.process : nil }) else { return }
        write(notification, to: process)
    }

    func waitUntilClosed() async -> String {
        for await reason in closedSignal { return reason }
        return state.withLock { $0.closedReason } ?? "closed"
    }

    /// Close stdin, then SIGTERM, then SIGKILL to the process group, each after a step without an
    /// exit; finally SIGKILL the group once more, so no process the server started outlives it.
    func shutdown() async {
        guard let process = state.withLock({ $0.process }) else { return }
        try? await process.standardStreams.close(mode: .output)
        if !(await Self.exited(process, within: Self.terminationStepTimeout)) {
            process.signalGroup(SIGTERM)
            if !(await Self.exited(process, within: Self.terminationStepTimeout)) {
                process.signalGroup(SIGKILL)
                // A process in uninterruptible sleep is not reaped at once; its waiter thread
                // reaps it whenever it goes, so the shutdown need not wait longer than a step.
                if !(await Self.exited(process, within: Self.terminationStepTimeout)) {
                    logger.warning("MCP server not reaped one step after SIGKILL", metadata: ["pid": "\(process.pid)"])
                }
            }
        }
        process.signalGroup(SIGKILL)
        close(reason: "stopped by the gateway")
        try? await process.standardStreams.close()
        try? await process.standardError.close()
    }

    private static func exited(_ process: ChildProcess, within limit: Duration) async -> Bool {
        let eventLoop = process.exit.eventLoop
        let promise = eventLoop.makePromise(of: Bool.self)
        let timer = eventLoop.scheduleTask(in: TimeAmount(limit)) { promise.succeed(false) }
        process.exit.whenComplete { _ in
            timer.cancel()
            promise.succeed(true)
        }
        return (try? await promise.futureResult.get()) ?? false
    }

    // MARK: - Inbound

    /// One line from the server's stdout.
    fileprivate func receive(line: ByteBuffer) {
        let decoded: JSONRPCMessageBatch
        do {
            decoded = try JSONRPCMessage.decode(line.readableBytesView)
        } catch {
            logger.warning("ignored a line from the server that is not JSON-RPC", metadata: ["error": "\(error)"])
            return
        }
        switch decoded {
        case .single(let message): receive(message)
        case .batch(let items):
            for case .success(let message) in items { receive(message) }
        }
    }

    private func receive(_ message: JSONRPCMessage) {
        switch message.kind {
        case .response, .errorResponse:
            guard let upstreamID = message.id else { return }
            let delivery: (Waiter, JSONRPCMessage)? = state.withLock { state in
                guard let waiter = state.waiters.removeValue(forKey: upstreamID),
                    let restored = state.table.incomingResponse(message)
                else { return nil }
                return (waiter, restored.message)
            }
            guard let (waiter, restored) = delivery else { return }  // late, after a timeout or cancel
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .success(restored))
        case .notification(let method, _):
            if method == "notifications/progress" {
                let routed: (Waiter, JSONRPCMessage)? = state.withLock { state in
                    guard let (_, rewritten) = state.table.incomingProgress(message),
                        let token = message.params?["progressToken"].flatMap(JSONRPCID.init),
                        let waiter = state.waiters[token]
                    else { return nil }
                    return (waiter, rewritten)
                }
                if let (waiter, rewritten) = routed { waiter.onNotification(rewritten) }
                return
            }
            handlers.onNotification(message)
        case .request:
            let reply = handlers.onRequest(message)
            if let process = state.withLock({ $0.process }) { write(reply, to: process) }
        }
    }

    fileprivate func standardOutputClosed() {
        close(reason: "the server closed its standard output")
    }

    // MARK: - Ending calls

    private func expire(_ upstreamID: JSONRPCID, after timeout: Duration) {
        guard let waiter = takeWaiter(upstreamID, notifyUpstream: "timed out") else { return }
        waiter.continuation.resume(returning: .failure(.timedOut(server: serverName, after: timeout)))
    }

    private func cancel(_ upstreamID: JSONRPCID, reason: String) {
        let waiter: Waiter? = state.withLock { state in
            guard let waiter = state.waiters[upstreamID] else {
                if state.table.resolve(upstreamID) != nil { state.cancelledEarly.insert(upstreamID) }
                return nil
            }
            return waiter
        }
        guard waiter != nil, let taken = takeWaiter(upstreamID, notifyUpstream: reason) else { return }
        taken.timer?.cancel()
        taken.continuation.resume(returning: .failure(.disconnected(server: serverName, reason: "cancelled")))
    }

    /// Removes a waiting call and tells the server to stop working on it.
    private func takeWaiter(_ upstreamID: JSONRPCID, notifyUpstream reason: String) -> Waiter? {
        let taken: (Waiter, ChildProcess?)? = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: upstreamID) else { return nil }
            state.table.remove(upstreamID)
            return (waiter, state.closedReason == nil ? state.process : nil)
        }
        guard let (waiter, process) = taken else { return nil }
        if let process {
            let cancelled = JSONRPCMessage.notification(
                method: "notifications/cancelled",
                params: .object(JSONObject(["requestId": upstreamID.jsonValue, "reason": .string(reason)]))
            )
            write(cancelled, to: process)
        }
        return waiter
    }

    /// Marks the connection closed and fails every call in flight, at once.
    func close(reason: String) {
        let waiters: [Waiter]? = state.withLock { state in
            guard state.closedReason == nil else { return nil }
            state.closedReason = reason
            _ = state.table.drain()
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            return waiters
        }
        guard let waiters else { return }
        logger.notice("stdio server connection closed", metadata: ["reason": "\(reason)"])
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: .failure(.disconnected(server: serverName, reason: reason)))
        }
        closedContinuation.yield(reason)
        closedContinuation.finish()
    }

    private func write(_ message: JSONRPCMessage, to process: ChildProcess) {
        var bytes = message.encoded()
        bytes.append(UInt8(ascii: "\n"))
        onUpstreamMessage()
        process.standardStreams.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }
}

/// Frames the server's stdout into lines and hands each to the connection.
private final class StdioLineHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let framer: Mutex<StdioLineFramer>
    private let connection: StdioUpstreamConnection

    init(maximumLineLength: Int, connection: StdioUpstreamConnection) {
        self.framer = Mutex(StdioLineFramer(maximumLineLength: maximumLineLength))
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let outputs = framer.withLock { $0.append(buffer) }
        for output in outputs {
            switch output {
            case .line(let line): connection.receive(line: line)
            case .lineTooLong(let maximum):
                connection.close(reason: "the server wrote a line longer than \(maximum) bytes")
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelEvent, case .inputClosed = event as? ChannelEvent {
            connection.standardOutputClosed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.standardOutputClosed()
        context.fireChannelInactive()
    }
}

/// Logs the server's stderr line by line, tagged with the server; a line is cut at 4 KiB.
private final class StandardErrorLogger: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    static let maximumLineLength = 4096
    private let logger: Logger
    private let pending = Mutex<[UInt8]>([])

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let lines: [String] = pending.withLock { pending in
            var lines: [String] = []
            for byte in buffer.readableBytesView {
                if byte == UInt8(ascii: "\n") {
                    lines.append(String(decoding: pending, as: UTF8.self))
                    pending.removeAll(keepingCapacity: true)
                } else if pending.count < Self.maximumLineLength {
                    pending.append(byte)
                }
            }
            return lines
        }
        for line in lines where !line.isEmpty {
            logger.info("stderr", metadata: ["line": "\(line)"])
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let rest = pending.withLock { String(decoding: $0, as: UTF8.self) }
        if !rest.isEmpty { logger.info("stderr", metadata: ["line": "\(rest)"]) }
        context.fireChannelInactive()
    }
}
