import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

@testable import gatehouse

@Suite struct ShutdownPlanTests {
    @Test func theBoundAddsTheMCPStopOnlyWhenServersAreConfigured() {
        let withServers = ShutdownPlan(gracePeriod: .seconds(3), mcpServerCount: 2)
        #expect(withServers.drain == .seconds(3))
        #expect(withServers.interruptAfter == .milliseconds(2500))
        #expect(withServers.mcpStop == .seconds(3))
        #expect(withServers.bound == .seconds(10))

        let withoutServers = ShutdownPlan(gracePeriod: .seconds(3), mcpServerCount: 0)
        #expect(withoutServers.mcpStop == .zero)
        #expect(withoutServers.bound == .seconds(7))

        let exporting = ShutdownPlan(gracePeriod: .seconds(3), mcpServerCount: 2, exportsTraces: true)
        #expect(exporting.traceExport == .seconds(2))
        #expect(exporting.bound == .seconds(12))
    }

    @Test func aGracePeriodShorterThanTheLeadInterruptsAtOnce() {
        #expect(ShutdownPlan(gracePeriod: .milliseconds(200), mcpServerCount: 0).interruptAfter == .zero)
        let none = ShutdownPlan(gracePeriod: .zero, mcpServerCount: 1)
        #expect(none.drain == .zero)
        #expect(none.interruptAfter == .zero)
        #expect(none.bound == .seconds(7))
    }
}

/// What happened, in order, across tasks.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])

    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

@Suite(.timeLimit(.minutes(1)))  // a drain that never ends fails here
struct DrainingHTTPServerTests {
    /// An application on port 0 with one route that never answers by itself.
    struct HangingApplication {
        let application: Application<RouterResponder<BasicRequestContext>>
        let handlerEntered: AsyncStream<Void>
        let handlerEnded: AsyncStream<Void>
        let port: AsyncStream<Int>

        init() {
            let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
            let (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
            let (port, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let router = Router()
            router.get("/hang") { _, _ -> String in
                enteredContinuation.yield()
                defer { endedContinuation.yield() }
                try await Task.sleep(for: .seconds(3600))
                return "never"
            }
            application = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in
                    portContinuation.yield(channel.localAddress?.port ?? 0)
                    portContinuation.finish()
                },
                logger: Logger(label: "test")
            )
            handlerEntered = entered
            handlerEnded = ended
            self.port = port
        }
    }

    /// Sends `GET /hang` on a new connection; after `whileWaiting`, reads until the server closes it.
    static func hang(port: Int, whileWaiting: () async throws -> Void) async throws -> ByteBuffer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET /hang HTTP/1.1\r\nHost: test\r\n\r\n"))
            try await whileWaiting()
            var received = ByteBuffer()
            for try await var chunk in inbound { received.writeBuffer(&chunk) }
            return received
        }
    }

    @Test func aRequestOutlivingTheDrainIsInterruptedThenItsConnectionClosed() async throws {
        let app = HangingApplication()
        let events = EventLog()
        let server = DrainingHTTPServer(
            application: app.application,
            plan: ShutdownPlan(gracePeriod: .milliseconds(600), mcpServerCount: 0),
            onInterrupt: { events.add("interrupt") },
            logger: Logger(label: "test")
        )
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await server.run()
                    events.add("server returned")
                }
                var ports = app.port.makeAsyncIterator()
                let port = try #require(await ports.next())
                let received = try await Self.hang(port: port) {
                    var entered = app.handlerEntered.makeAsyncIterator()
                    _ = await entered.next()
                    trigger.triggerGracefulShutdown()
                }
                // The handler never answered: the connection closed without a response.
                #expect(received.readableBytes == 0)
                var ended = app.handlerEnded.makeAsyncIterator()
                _ = await ended.next()  // the handler was cancelled
                try await group.waitForAll()
            }
        }
        #expect(events.all == ["interrupt", "server returned"])
    }

    @Test func aServerWithNothingInFlightReturnsWithoutInterrupting() async throws {
        let app = HangingApplication()
        let events = EventLog()
        let server = DrainingHTTPServer(
            application: app.application,
            plan: ShutdownPlan(gracePeriod: .seconds(30), mcpServerCount: 0),
            onInterrupt: { events.add("interrupt") },
            logger: Logger(label: "test")
        )
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var ports = app.port.makeAsyncIterator()
                _ = try #require(await ports.next())
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()  // within the suite's limit, far below the 30 s grace period
            }
        }
        #expect(events.all.isEmpty)
    }
}
