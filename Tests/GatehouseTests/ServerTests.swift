import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LLMProxy
import Logging
import MCPHost
import NIOPosix
import Policy
import Prometheus
import Store
import Testing

@testable import gatehouse

/// The production application, built by the same function `gatehouse serve` uses, on port 0.
struct ServerHarness {
    let folder: URL
    let configFile: URL
    let store: Store
    let state: RuntimeState
    let reloader: ConfigReloader
    let upstreamClient: UpstreamClient
    let registry = PrometheusCollectorRegistry()
    let logger = Logger(label: "test")

    static let apiKey = "agent-key-\(UUID().uuidString)"
    static let adminToken = "admin-token-\(UUID().uuidString)"
    static let environment = ["TEST_API_KEY": apiKey, "TEST_ADMIN_TOKEN": adminToken]

    static func yaml(extraAgent: Bool = false, maxBodySize: String = "4MiB") -> String {
        """
        server:
          listen: 127.0.0.1:0
          max_body_size: \(maxBodySize)
        admin:
          token: ${TEST_ADMIN_TOKEN}
        agents:
          - name: demo
            api_keys: [ "${TEST_API_KEY}" ]
        \(extraAgent ? "  - name: ops\n    api_keys: [ \"ops-${TEST_API_KEY}\" ]\n" : "")
        """
    }

    static func make(yaml: String = ServerHarness.yaml()) async throws -> ServerHarness {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "gatehouse-test-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let configFile = folder.appendingPathComponent("gatehouse.yaml")
        try yaml.write(to: configFile, atomically: true, encoding: .utf8)
        let source = ConfigSource.file(configFile.path)
        guard case .valid(let configuration) = source.load(environment: environment) else {
            throw HarnessError.invalidConfiguration
        }
        let store = try await Store.open(
            path: folder.appendingPathComponent("store.db").path,
            logger: Logger(label: "test")
        )
        let upstreamClient = UpstreamClient(configuration: configuration.llm)
        let state = RuntimeState(
            RuntimeSnapshot(configuration: configuration, source: source, upstreamClient: upstreamClient)
        )
        let reloader = ConfigReloader(
            state: state,
            store: store,
            upstreamClient: upstreamClient,
            environment: environment,
            logLevel: SharedLogLevel(.info),
            logLevelOverride: nil,
            logger: Logger(label: "test")
        )
        return ServerHarness(
            folder: folder,
            configFile: configFile,
            store: store,
            state: state,
            reloader: reloader,
            upstreamClient: upstreamClient
        )
    }

    enum HarnessError: Error { case invalidConfiguration }

    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let federation = MCPFederation(
            configuration: state.snapshot.configuration.mcp,
            pinStore: nil,
            group: MultiThreadedEventLoopGroup.singleton,
            metrics: PrometheusMetricsFactory(registry: registry),
            logger: logger
        )
        let application = GatehouseServer.makeApplication(
            state: state,
            store: store,
            reloader: reloader,
            ledger: UsageLedger(seed: [], metrics: PrometheusMetricsFactory(registry: registry)),
            federation: federation,
            policyWatcher: PolicyWatcher(engine: PolicyEngine(), state: state, environment: [:], logger: logger),
            managedKeys: ManagedKeyRing(),
            bearerTokens: BearerTokens(logger: logger),
            registry: registry,
            logger: logger,
            onListening: { _ in }
        )
        try await application.test(.live, body)
        await upstreamClient.shutdown()
        await store.close()
        try? FileManager.default.removeItem(at: folder)
    }
}

func json(_ buffer: ByteBuffer?) throws -> [String: Any] {
    let buffer = try #require(buffer)
    return try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
}

@Suite struct ServerTests {
    /// The force-unwrapped name literals are checked here, not at a request's first use.
    @Test func gatewayHeaderNames() {
        #expect(HTTPField.Name.requestID.canonicalName == "x-request-id")
        #expect(HTTPField.Name.apiKey.canonicalName == "x-api-key")
        #expect(HTTPField.Name.traceparent.canonicalName == "traceparent")
    }

    @Test func healthReadinessAndRequestID() async throws {
        let harness = try await ServerHarness.make()
        try await harness.test { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(try json(response.body)["status"] as? String == "ok")
                let id = try #require(response.headers[.requestID])
                #expect(id.count == 32)
            }
            try await client.execute(uri: "/readyz", method: .get, headers: [.requestID: "client-id-1"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.requestID] == "client-id-1")
            }
            try await client.execute(uri: "/readyz", method: .get, headers: [.requestID: "bad id\u{1}"]) { response in
                #expect(response.headers[.requestID] != "bad id\u{1}")
            }
        }
    }

    @Test func proxyRoutesRequireAnAgentKeyInTheirDialect() async throws {
        let harness = try await ServerHarness.make()
        try await harness.test { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{}")) {
                response in
                #expect(response.status == .unauthorized)
                let error = try #require(try json(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? String == "invalid_api_key")
                #expect(error["type"] as? String == "invalid_request_error")
            }
            try await client.execute(
                uri: "/v1/messages",
                method: .post,
                headers: [.apiKey: "wrong"],
                body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .unauthorized)
                let body = try json(response.body)
                #expect(body["type"] as? String == "error")
                #expect((body["error"] as? [String: Any])?["type"] as? String == "authentication_error")
            }
            try await client.execute(uri: "/mcp", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
                let body = try json(response.body)
                #expect(body["jsonrpc"] as? String == "2.0")
                #expect(body["id"] is NSNull)
                #expect((body["error"] as? [String: Any])?["code"] as? Int == -32001)
            }
            // The right key passes authentication; the model does not exist.
            try await client.execute(
                uri: "/v1/chat/completions",
                method: .post,
                headers: [.authorization: "Bearer \(ServerHarness.apiKey)"],
                body: ByteBuffer(string: #"{"model":"no-such-model"}"#)
            ) { response in
                #expect(response.status == .notFound)
                let errorValue = try (json(response.body)["error"] as? [String: Any])?["code"] as? String
                #expect(errorValue == "model_not_found")
            }
            try await client.execute(
                uri: "/v1/messages",
                method: .post,
                headers: [.apiKey: ServerHarness.apiKey],
                body: ByteBuffer(string: #"{"model":"no-such-model"}"#)
            ) { response in
                #expect(response.status == .notFound)
                let errorValue = try (json(response.body)["error"] as? [String: Any])?["type"] as? String
                #expect(errorValue == "not_found_error")
            }
        }
    }

    @Test func oversizedBodiesGet413AndTheServerKeepsServing() async throws {
        let harness = try await ServerHarness.make(yaml: ServerHarness.yaml(maxBodySize: "64KiB"))
        try await harness.test { client in
            let big = ByteBuffer(repeating: UInt8(ascii: "a"), count: 200 << 10)
            try await client.execute(
                uri: "/v1/chat/completions",
                method: .post,
                headers: [.authorization: "Bearer \(ServerHarness.apiKey)"],
                body: big
            ) { response in
                #expect(response.status == .contentTooLarge)
                let errorValue = try (json(response.body)["error"] as? [String: Any])?["code"] as? String
                #expect(errorValue == "request_too_large")
            }
            try await client.execute(uri: "/mcp", method: .post, body: big) { response in
                #expect(response.status == .contentTooLarge)
                let errorValue = try (json(response.body)["error"] as? [String: Any])?["code"] as? Int
                #expect(errorValue == -32002)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func adminAPIRequiresTheTokenAndRedactsSecrets() async throws {
        let harness = try await ServerHarness.make()
        try await harness.test { client in
            try await client.execute(uri: "/admin/config", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/admin/config",
                method: .get,
                headers: [.authorization: "Bearer \(ServerHarness.apiKey)"]
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/admin/config",
                method: .get,
                headers: [.authorization: "Bearer \(ServerHarness.adminToken)"]
            ) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(!text.contains(ServerHarness.apiKey))
                #expect(!text.contains(ServerHarness.adminToken))
                let body = try json(response.body)
                let agents = try #require(body["agents"] as? [[String: Any]])
                #expect(agents.first?["name"] as? String == "demo")
                #expect(agents.first?["api_keys"] as? [String] == ["[redacted]"])
            }
        }
    }

    @Test func reloadAppliesAValidConfigAndKeepsTheOldOneOnErrors() async throws {
        let harness = try await ServerHarness.make()
        let admin: HTTPFields = [.authorization: "Bearer \(ServerHarness.adminToken)"]
        let opsKey: HTTPFields = [.authorization: "Bearer ops-\(ServerHarness.apiKey)"]
        try await harness.test { client in
            try await client.execute(uri: "/v1/x", method: .get, headers: opsKey) { response in
                #expect(response.status == .unauthorized)
            }
            try ServerHarness.yaml(extraAgent: true).write(to: harness.configFile, atomically: true, encoding: .utf8)
            try await client.execute(uri: "/admin/reload", method: .post, headers: admin) { response in
                #expect(response.status == .ok)
                let restartRequired = try json(response.body)["restart_required"] as? [String]
                #expect(restartRequired == [])
            }
            try await client.execute(uri: "/v1/x", method: .get, headers: opsKey) { response in
                #expect(response.status == .notFound)
            }
            try "agents:\n  - name: demo\n    api_kes: []\n".write(
                to: harness.configFile,
                atomically: true,
                encoding: .utf8
            )
            try await client.execute(uri: "/admin/reload", method: .post, headers: admin) { response in
                #expect(response.status == .badRequest)
                let errors = try #require(try json(response.body)["errors"] as? [[String: Any]])
                #expect(errors.count == 1)
                #expect(errors.first?["path"] as? String == "agents[0].api_kes")
                #expect(errors.first?["line"] as? Int == 3)
            }
            try await client.execute(uri: "/v1/x", method: .get, headers: opsKey) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/admin/config/history", method: .get, headers: admin) { response in
                let loads = try #require(try json(response.body)["loads"] as? [[String: Any]])
                #expect(loads.compactMap { $0["outcome"] as? String } == ["rejected", "applied"])
            }
        }
    }

    @Test func metricsCountRequestsByRouteAndStatus() async throws {
        let harness = try await ServerHarness.make()
        try await harness.test { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/healthz", method: .get) { _ in }
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 3"#))
                #expect(text.contains("gatehouse_http_request_duration_seconds_bucket"))
            }
        }
    }
}
