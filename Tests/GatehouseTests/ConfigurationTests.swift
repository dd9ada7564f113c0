import Foundation
import GatehouseConfig
import GatehouseCore
import LLMProxy
import Logging
import Policy
import Testing

@testable import gatehouse

@Suite struct ConfigurationTests {
    private func decode(_ yaml: String, environment: [String: String] = [:]) -> ConfigValidation<GatehouseConfiguration>
    {
        GatehouseConfiguration.decode(yaml: yaml, file: "test.yaml", environment: environment)
    }

    @Test func embeddedDefaultsAreTheShippedSample() throws {
        let sample = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("samples/gatehouse.yaml")
        #expect(try String(contentsOf: sample, encoding: .utf8) == EmbeddedDefaults.yaml)
    }

    @Test func embeddedDefaultsDecodeWithoutAnyVariable() throws {
        guard case .valid(let configuration) = decode(EmbeddedDefaults.yaml) else {
            Issue.record("embedded defaults must be valid without environment variables")
            return
        }
        #expect(configuration.server.listen == ListenAddress(host: "127.0.0.1", port: 4000))
        #expect(configuration.store.path == ".gatehouse/gatehouse.db")
        #expect(configuration.agents.map(\.name) == ["demo"])
        #expect(configuration.admin.token.isEmpty)
    }

    @Test func fullConfigurationDecodesEveryKey() throws {
        let yaml = """
            server:
              listen: "[::1]:8080"
              max_body_size: 1MiB
              max_header_size: 16384
              idle_timeout: 2m
              request_head_timeout: 500ms
              request_body_timeout: 1h
              shutdown_grace_period: 0s
            store:
              path: /tmp/x.db
              write_queue_capacity: 10
            logging:
              level: debug
              format: json
            admin:
              token: ${ADMIN}
            agents:
              - name: a
                api_keys: [ "k-${SUFFIX}", "${MISSING:-fallback}" ]
              - name: b
            """
        guard case .valid(let configuration) = decode(yaml, environment: ["ADMIN": "t0ken", "SUFFIX": "1"]) else {
            Issue.record("expected a valid configuration")
            return
        }
        #expect(configuration.server.listen == ListenAddress(host: "::1", port: 8080))
        #expect(configuration.server.maxBodySize == 1 << 20)
        #expect(configuration.server.maxHeaderSize == 16384)
        #expect(configuration.server.idleTimeout == .seconds(120))
        #expect(configuration.server.requestHeadTimeout == .milliseconds(500))
        #expect(configuration.server.requestBodyTimeout == .seconds(3600))
        #expect(configuration.server.shutdownGracePeriod == .zero)
        #expect(configuration.store == StoreSettings(path: "/tmp/x.db", writeQueueCapacity: 10))
        #expect(configuration.logging == LoggingSettings(level: .debug, format: .json))
        #expect(configuration.admin.token.revealedValue == "t0ken")
        #expect(configuration.agents.map(\.name) == ["a", "b"])
        #expect(configuration.agents[0].apiKeys.map(\.revealedValue) == ["k-1", "fallback"])
        #expect(configuration.agents[1].apiKeys.isEmpty)
    }

    @Test func reportsEveryProblemWithLineAndPath() {
        let yaml = """
            server:
              listen: 127.0.0.1:0
              listn: x
            store:
              write_queue_capacity: many
            admin:
              token: ${GATEHOUSE_TEST_UNSET}
            """
        guard case .invalid(let diagnostics) = decode(yaml) else {
            Issue.record("expected diagnostics")
            return
        }
        #expect(diagnostics.map(\.path) == ["server.listn", "store.write_queue_capacity", "admin.token"])
        #expect(diagnostics.map(\.line) == [3, 5, 7])
        #expect(diagnostics[0].hint == "did you mean 'listen'?")
        #expect(diagnostics[1].message == "expected an integer")
        #expect(diagnostics[2].message == "environment variable GATEHOUSE_TEST_UNSET is not set")
        #expect(
            diagnostics[0].description
                == "test.yaml:3:3: error: server.listn: unknown key 'listn' (did you mean 'listen'?)"
        )
    }

    @Test func diagnosticsNeverQuoteAValue() {
        let yaml = """
            store:
              write_queue_capacity: ${SECRET}
            server:
              listen: ${SECRET}
            logging:
              level: ${SECRET}
            """
        guard case .invalid(let diagnostics) = decode(yaml, environment: ["SECRET": "sk-very-secret"]) else {
            Issue.record("expected diagnostics")
            return
        }
        #expect(diagnostics.count == 3)
        for diagnostic in diagnostics {
            #expect(!diagnostic.description.contains("sk-very-secret"))
        }
    }

    @Test func wrongShapesAndDuplicatesAreReported() {
        let yaml = """
            server: [1, 2]
            agents:
              - name: a
              - name: a
              - api_keys: []
            logging:
              format: xml
            """
        guard case .invalid(let diagnostics) = decode(yaml) else {
            Issue.record("expected diagnostics")
            return
        }
        #expect(diagnostics.map(\.path) == ["server", "agents[1].name", "agents[2].name", "logging.format"])
        #expect(diagnostics[0].message == "expected a mapping (key: value lines), found a list")
    }

    @Test func invalidYAMLIsOneDiagnosticWithItsLine() {
        guard case .invalid(let diagnostics) = decode("server:\n  listen: [1\n") else {
            Issue.record("expected diagnostics")
            return
        }
        #expect(diagnostics.count == 1)
        #expect(diagnostics[0].message.hasPrefix("invalid YAML"))
    }

    @Test func emptyDocumentMeansDefaults() {
        guard case .valid(let configuration) = decode("") else {
            Issue.record("an empty file is all defaults")
            return
        }
        #expect(configuration == GatehouseConfiguration())
    }

    @Test(arguments: [
        ("${A}", "x"), ("pre-${A}-post", "pre-x-post"), ("${EMPTY:-d}", "d"), ("${UNSET:-d}", "d"),
        ("${A:-d}", "x"), ("$$A", "$A"), ("a$b", "a$b"), ("${EMPTY}", ""), ("100$", "100$"),
    ])
    func substitution(input: String, expected: String) {
        #expect(EnvironmentSubstitution.expand(input, environment: ["A": "x", "EMPTY": ""]) == .expanded(expected))
    }

    @Test func substitutionReportsAllMissingVariables() {
        #expect(
            EnvironmentSubstitution.expand("${X}${Y}${1BAD}", environment: [:])
                == .failed([.unsetVariable("X"), .unsetVariable("Y"), .malformedReference("${1BAD}")])
        )
        #expect(EnvironmentSubstitution.expand("${OPEN", environment: [:]) == .failed([.malformedReference("${OPEN")]))
    }

    @Test(arguments: [("4MiB", 4 << 20), ("512KiB", 512 << 10), ("1MB", 1_000_000), ("123", 123), ("10B", 10)])
    func byteSizes(text: String, bytes: Int) {
        #expect(ByteSizeSyntax.parse(text) == bytes)
    }

    @Test(arguments: ["4 XB", "-1MiB", "MiB", "1.5MiB"])
    func invalidByteSizes(text: String) {
        #expect(ByteSizeSyntax.parse(text) == nil)
    }

    @Test func durations() {
        #expect(DurationSyntax.parse("250ms") == .milliseconds(250))
        #expect(DurationSyntax.parse("10s") == .seconds(10))
        #expect(DurationSyntax.parse("5m") == .seconds(300))
        #expect(DurationSyntax.parse("1h") == .seconds(3600))
        #expect(DurationSyntax.parse("10") == nil)
        #expect(DurationSyntax.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationSyntax.format(.seconds(120)) == "2m")
    }

    /// Numbers too large for the unit once read as "expected a duration" (the user had written
    /// one); now they are clamped and get the key's range, and nothing overflows converting them.
    @Test func absurdDurationsAndSizesGetTheKeysRange() {
        #expect(DurationSyntax.parse("1000000000000s") == .seconds(1_000_000_000))
        #expect(DurationSyntax.parse("99999999999999999999999h") == .seconds(3_600_000_000_000))
        #expect(ByteSizeSyntax.parse("99999999999GiB") == .max)
        #expect(ByteSizeSyntax.parse("99999999999999999999999") == .max)
        let yaml = """
            server:
              idle_timeout: 1000000000000s
              request_head_timeout: 99999999999999999999999ms
              max_body_size: 99999999999999999999
            upstream:
              connect_timeout: 100000000000h
            """
        guard case .invalid(let diagnostics) = decode(yaml) else {
            Issue.record("expected diagnostics")
            return
        }
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:2:17: error: server.idle_timeout: must be between 100ms and 1d",
                "test.yaml:3:25: error: server.request_head_timeout: must be between 100ms and 1d",
                "test.yaml:4:18: error: server.max_body_size: must be between 1KiB and 1GiB",
                "test.yaml:6:20: error: upstream.connect_timeout: must be between 100ms and 1h",
            ]
        )
    }

    @Test func listenAddresses() {
        #expect(ListenAddress.parse("127.0.0.1:4000") == ListenAddress(host: "127.0.0.1", port: 4000))
        #expect(ListenAddress.parse("[::1]:0") == ListenAddress(host: "::1", port: 0))
        #expect(ListenAddress.parse("::1:80") == nil)
        #expect(ListenAddress.parse("host:70000") == nil)
        #expect(ListenAddress.parse(":80") == nil)
        #expect(ListenAddress(host: "::1", port: 1).description == "[::1]:1")
    }

    @Test func configViewRedactsEverySecret() throws {
        var configuration = GatehouseConfiguration()
        configuration.admin.token = Secret("admin-secret")
        configuration.agents = [AgentDefinition(name: "demo", apiKeys: [Secret("key-secret"), Secret("")])]
        let data = try JSONEncoder().encode(ConfigView(configuration, source: .embeddedDefaults))
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("admin-secret"))
        #expect(!text.contains("key-secret"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let agents = try #require(object["agents"] as? [[String: Any]])
        #expect(agents.first?["api_keys"] as? [String] == ["[redacted]", ""])
        #expect((object["admin"] as? [String: String])?["token"] == "[redacted]")
    }
}

@Suite struct ConfigurationSchemaTests {
    /// The JSON Schema in docs/ names exactly the keys the decoder accepts, section by section.
    @Test func schemaListsExactlyTheDecodersKeys() throws {
        let schemaURL = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/gatehouse.schema.json")
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as? [String: Any])
        func keys(_ object: [String: Any]?) -> Set<String> {
            Set(((object?["properties"]) as? [String: Any])?.keys.map { $0 } ?? [])
        }
        let top = try #require(schema["properties"] as? [String: Any])
        func object(_ value: Any?) -> [String: Any]? { value as? [String: Any] }
        var schemaKeys: [String: Set<String>] = ["": Set(top.keys)]
        for section in ["server", "store", "logging", "admin", "upstream", "mcp", "policy", "auth"] {
            schemaKeys[section] = keys(object(top[section]))
        }
        schemaKeys["auth.jwt"] = keys(object(object(object(top["auth"])?["properties"])?["jwt"]))
        for list in ["agents", "providers", "models"] {
            schemaKeys["\(list)[]"] = keys(object(object(top[list])?["items"]))
        }
        let modelItem = object(object(top["models"])?["items"])
        let deployments = object(object(modelItem?["properties"])?["deployments"])
        schemaKeys["models[].deployments[]"] = keys(object(deployments?["items"]))
        schemaKeys["prices.*"] = keys(object(object(top["prices"])?["additionalProperties"]))
        let mcpServers = object(object(object(top["mcp"])?["properties"])?["servers"])
        let mcpServerItem = object(mcpServers?["items"])
        schemaKeys["mcp.servers[]"] = keys(mcpServerItem)
        schemaKeys["mcp.servers[].tools"] = keys(object(object(mcpServerItem?["properties"])?["tools"]))
        let tracing = object(top["tracing"])
        schemaKeys["tracing"] = keys(tracing)
        schemaKeys["tracing.store"] = keys(object(object(tracing?["properties"])?["store"]))
        schemaKeys["tracing.exporters[]"] = keys(
            object(object(object(tracing?["properties"])?["exporters"])?["items"])
        )
        #expect(schemaKeys == GatehouseConfiguration.knownKeys.mapValues(Set.init))
    }
}

@Suite struct LLMConfigurationTests {
    private func decode(_ yaml: String, environment: [String: String] = [:]) -> ConfigValidation<GatehouseConfiguration>
    {
        GatehouseConfiguration.decode(yaml: yaml, file: "llm.yaml", environment: environment)
    }

    @Test func providersModelsAndPricesDecode() throws {
        let yaml = """
            providers:
              - name: openai
                type: openai
                api_key: ${OPENAI_API_KEY}
                headers:
                  OpenAI-Project: ${PROJECT}
              - name: claude
                type: anthropic
                base_url: http://127.0.0.1:9999
                api_key: ${ANTHROPIC_API_KEY}
              - name: az
                type: azure
                base_url: https://example-resource.openai.azure.com
                api_version: 2024-10-21
            models:
              - name: fast
                aliases: [quick]
                retries: 2
                deployments:
                  - provider: openai
                    model: gpt-4o-mini
                    weight: 3
                    first_byte_timeout: 3s
                  - provider: claude
                    model: claude-haiku-4-5
                    priority: 1
                    cooldown: 30s
            prices:
              gpt-4o-mini: {input: 0.2, output: 0.8}
            upstream:
              idle_timeout: 30s
            """
        let environment = ["OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a", "PROJECT": "p1"]
        guard case .valid(let configuration) = decode(yaml, environment: environment) else {
            Issue.record("expected a valid configuration")
            return
        }
        let llm = configuration.llm
        #expect(llm.providers.map(\.name) == ["openai", "claude", "az"])
        #expect(llm.providers[0].kind == .openAI)
        #expect(llm.providers[0].baseURL == "https://api.openai.com/v1")
        #expect(llm.providers[0].apiKey.revealedValue == "sk-o")
        #expect(llm.providers[0].headers == [.init(name: "openai-project", value: Secret("p1"))])
        #expect(llm.providers[1].kind == .anthropic(version: "2023-06-01"))
        #expect(llm.providers[2].kind == .azure(apiVersion: "2024-10-21"))
        let route = try #require(llm.models.first)
        #expect(route.name == "fast")
        #expect(route.aliases == ["quick"])
        #expect(route.retries == 2)
        #expect(route.deployments.map(\.provider) == ["openai", "claude"])
        #expect(route.deployments[0].weight == 3)
        #expect(route.deployments[0].firstByteTimeout == .seconds(3))
        #expect(route.deployments[1].priority == 1)
        #expect(route.deployments[1].cooldown == .seconds(30))
        #expect(
            llm.prices.price(forUpstreamModel: "gpt-4o-mini") == ModelPrice(inputPerMillion: 0.2, outputPerMillion: 0.8)
        )
        #expect(llm.prices.price(forUpstreamModel: "claude-haiku-4-5") != nil)  // shipped default kept
        #expect(llm.upstreamIdleTimeout == .seconds(30))
    }

    @Test func crossReferencesAreChecked() {
        let yaml = """
            providers:
              - name: openai
                type: openai
              - name: az
                type: azure
                base_url: https://x.openai.azure.com
            models:
              - name: a
                deployments:
                  - provider: opnai
                    model: gpt-4o-mini
              - name: a
                deployments:
                  - provider: openai
                    model: gpt-4o-mini
              - name: b
                deployments: []
            prices:
              gpt-4o-mini: {input: 1}
            """
        guard case .invalid(let diagnostics) = decode(yaml) else {
            Issue.record("expected diagnostics")
            return
        }
        // models[0] keeps its other problems quiet: its one deployment was already reported.
        #expect(
            diagnostics.map(\.path) == [
                "providers[1].api_version", "models[0].deployments[0].provider", "models[1].name",
                "models[2].deployments", "prices.gpt-4o-mini",
            ]
        )
        #expect(diagnostics.first { $0.path == "models[0].deployments[0].provider" }?.hint == "did you mean 'openai'?")
    }
}

@Suite struct EventLoopSizingTests {
    @Test func usableCPUsAreCountedFromTheAffinityMask() throws {
        let count = try #require(EventLoopSizing.usableCPUCount())
        #expect(count >= 1)
        #expect(count <= ProcessInfo.processInfo.processorCount)
    }

    @Test func theMaskIsReadFromProcStatus() {
        #expect(EventLoopSizing.cpuCount(fromStatus: "Name:\tx\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n") == 1)
        #expect(EventLoopSizing.cpuCount(fromStatus: "Cpus_allowed:\tff,0000000f\n") == 12)
        #expect(EventLoopSizing.cpuCount(fromStatus: "Cpus_allowed:\t0\n") == nil)
        #expect(EventLoopSizing.cpuCount(fromStatus: "Name:\tx\n") == nil)
    }
}

@Suite struct DisplayURLTests {
    @Test(arguments: [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://user:pass@proxy.local:8080/v1", "http://[redacted]@proxy.local:8080/v1"),
        ("https://token@host/path@x", "https://[redacted]@host/path@x"),
        ("not a url", "not a url"),
    ])
    func credentialsInURLsAreHidden(input: String, shown: String) {
        #expect(DisplayURL.redacted(input) == shown)
    }
}
