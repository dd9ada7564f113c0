internal import Foundation
public import GatehouseConfig
public import GatehouseCore
public import Yams

/// The `tracing` section: how runs are grouped, where spans go (the local store, OTLP collectors,
/// Langfuse), and how much the store keeps. Exporters apply at startup.
public struct TracingConfiguration: Sendable, Equatable {
    /// Off: no span is built, no exporter runs, `/ui` shows nothing new.
    public var isEnabled = true
    /// An agent's calls with no run marker belong to one run until this idle gap.
    public var runIdleWindow: Duration = .seconds(30)
    /// `service.name` of exported spans (`OTEL_SERVICE_NAME` when the file does not say).
    public var serviceName = "gatehouse"
    public var store = TraceStoreSettings()
    public var exporters: [TraceExporterDefinition] = []
    /// Exporters written in the file but off, because a value they need is empty (an unset
    /// variable): name and why, for the startup log.
    public var disabledExporters: [String] = []

    public init() {}
}

public struct TraceStoreSettings: Sendable, Equatable {
    public var isEnabled = true
    /// Spans older than this are deleted.
    public var retention: Duration = .seconds(7 * 86_400)
    /// The store keeps at most this many spans (the oldest go first).
    public var maximumSpans = 200_000

    public init() {}
}

/// One exporter: where batches go and how (OTLP/HTTP protobuf either way; Langfuse adds Basic
/// auth, its ingestion header and its attributes).
public struct TraceExporterDefinition: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case otlp
        case langfuse
    }

    public var kind: Kind
    public var name: String
    /// The full URL spans are posted to (`{endpoint}/v1/traces`, `{host}/api/public/otel/v1/traces`).
    public var tracesURL: String
    /// Sent with every batch; values are secrets (they carry credentials).
    public var headers: [Header]
    public var queueCapacity = 2048
    public var batchSize = 512
    public var flushInterval: Duration = .seconds(1)
    /// One post's time limit.
    public var timeout: Duration = .seconds(10)

    public struct Header: Sendable, Equatable {
        public let name: String
        public let value: Secret

        public init(name: String, value: Secret) {
            self.name = name
            self.value = value
        }
    }

    public init(kind: Kind, name: String, tracesURL: String, headers: [Header]) {
        self.kind = kind
        self.name = name
        self.tracesURL = tracesURL
        self.headers = headers
    }
}

/// Reads the `tracing` section and the standard OpenTelemetry variables.
public enum TracingConfigurationDecoder {
    public static let knownKeys: [String: [String]] = [
        "tracing": ["enabled", "run_idle_window", "service_name", "store", "exporters"],
        "tracing.store": ["enabled", "retention", "max_spans"],
        "tracing.exporters[]": [
            "type", "name", "endpoint", "traces_endpoint", "headers", "host", "public_key", "secret_key",
            "queue_size", "batch_size", "flush_interval", "timeout",
        ],
    ]

    static func keys(_ section: String) -> [String] { knownKeys[section] ?? [] }

    /// `node` is the `tracing` section, nil when the file has none; `environment` supplies
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (an OTLP exporter when the file configures none),
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_SERVICE_NAME`.
    public static func decode(
        _ node: Node?,
        environment: [String: String],
        reader: inout ConfigReader
    ) -> TracingConfiguration {
        var configuration = TracingConfiguration()
        var serviceNameFromFile = false
        if let node, let entries = reader.mapping(node, path: "tracing", allowedKeys: keys("tracing")) {
            if let node = entries["enabled"],
                let value = reader.choice(node, path: "tracing.enabled", options: ["true", "false"])
            {
                configuration.isEnabled = value == "true"
            }
            if let node = entries["run_idle_window"],
                let value = reader.duration(
                    node,
                    path: "tracing.run_idle_window",
                    range: .seconds(1)...Duration.seconds(86_400),
                    example: "30s"
                )
            {
                configuration.runIdleWindow = value
            }
            if let node = entries["service_name"],
                let value = reader.nonEmptyString(node, path: "tracing.service_name")
            {
                configuration.serviceName = value
                serviceNameFromFile = true
            }
            if let node = entries["store"] { configuration.store = decodeStore(node, reader: &reader) }
            if let node = entries["exporters"], let items = reader.sequence(node, path: "tracing.exporters") {
                for (index, item) in items.enumerated() {
                    switch decodeExporter(item, path: "tracing.exporters[\(index)]", reader: &reader) {
                    case .exporter(let exporter)?:
                        if configuration.exporters.contains(where: { $0.name == exporter.name }) {
                            reader.report(
                                item,
                                path: "tracing.exporters[\(index)].name",
                                "exporter name '\(exporter.name)' is used twice",
                                hint: "give each exporter its own name"
                            )
                        }
                        configuration.exporters.append(exporter)
                    case .off(let reason)?:
                        configuration.disabledExporters.append(reason)
                    case nil:
                        break
                    }
                }
            }
        }
        if !serviceNameFromFile, let name = environment["OTEL_SERVICE_NAME"], !name.isEmpty {
            configuration.serviceName = name
        }
        let standardHeaders = parseHeaderList(environment["OTEL_EXPORTER_OTLP_HEADERS"] ?? "")
        if !configuration.exporters.contains(where: { $0.kind == .otlp }),
            !configuration.disabledExporters.contains(where: { $0.hasPrefix("otlp") }),
            let url = standardTracesURL(environment)
        {
            configuration.exporters.append(
                TraceExporterDefinition(kind: .otlp, name: "otlp", tracesURL: url, headers: [])
            )
        }
        for index in configuration.exporters.indices where configuration.exporters[index].kind == .otlp {
            let own = Set(configuration.exporters[index].headers.map { $0.name.lowercased() })
            configuration.exporters[index].headers += standardHeaders.filter { !own.contains($0.name.lowercased()) }
        }
        return configuration
    }

    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    static func standardTracesURL(_ environment: [String: String]) -> String? {
        if let url = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], !url.isEmpty { return url }
        if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty { return tracesURL(base: base) }
        return nil
    }

    static func tracesURL(base: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/traces"
    }

    /// `k=v,k2=v2` with URL-encoded values, as the OpenTelemetry variables write headers.
    static func parseHeaderList(_ text: String) -> [TraceExporterDefinition.Header] {
        text.split(separator: ",").compactMap { pair in
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            let name = pair[..<equals].trimmingCharacters(in: .whitespaces)
            let raw = pair[pair.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { return nil }
            return TraceExporterDefinition.Header(name: name, value: Secret(raw.removingPercentEncoding ?? raw))
        }
    }

    private static func decodeStore(_ node: Node, reader: inout ConfigReader) -> TraceStoreSettings {
        var settings = TraceStoreSettings()
        guard let entries = reader.mapping(node, path: "tracing.store", allowedKeys: keys("tracing.store")) else {
            return settings
        }
        if let node = entries["enabled"],
            let value = reader.choice(node, path: "tracing.store.enabled", options: ["true", "false"])
        {
            settings.isEnabled = value == "true"
        }
        if let node = entries["retention"],
            let value = reader.duration(
                node,
                path: "tracing.store.retention",
                range: .seconds(60)...Duration.seconds(3650 * 86_400),
                example: "7d"
            )
        {
            settings.retention = value
        }
        if let node = entries["max_spans"],
            let value = reader.integer(
                node,
                path: "tracing.store.max_spans",
                range: 100...100_000_000,
                example: "200000"
            )
        {
            settings.maximumSpans = value
        }
        return settings
    }

    private enum Decoded {
        case exporter(TraceExporterDefinition)
        /// Written but off: an empty value it needs (an unset variable). Says which and why.
        case off(String)
    }

    private static func decodeExporter(_ node: Node, path: String, reader: inout ConfigReader) -> Decoded? {
        guard let entries = reader.mapping(node, path: path, allowedKeys: keys("tracing.exporters[]")) else {
            return nil
        }
        guard let typeNode = entries["type"] else {
            reader.report(node, path: "\(path).type", "an exporter needs a type", hint: "otlp or langfuse")
            return nil
        }
        guard
            let typeName = reader.choice(
                typeNode,
                path: "\(path).type",
                options: TraceExporterDefinition.Kind.allCases.map(\.rawValue)
            ),
            let kind = TraceExporterDefinition.Kind(rawValue: typeName)
        else { return nil }
        let name = entries["name"].flatMap { reader.nonEmptyString($0, path: "\(path).name") } ?? kind.rawValue
        var headers: [TraceExporterDefinition.Header] = []
        if let node = entries["headers"],
            let mapping = reader.mapping(node, path: "\(path).headers", allowedKeys: headerNames(node))
        {
            for (key, value) in mapping.sorted(by: { $0.key < $1.key }) {
                guard let secret = reader.secret(value, path: "\(path).headers.\(key)") else { continue }
                headers.append(TraceExporterDefinition.Header(name: key, value: secret))
            }
        }
        let url: String
        switch kind {
        case .otlp:
            let full = entries["traces_endpoint"].flatMap { reader.string($0, path: "\(path).traces_endpoint") } ?? ""
            let base = entries["endpoint"].flatMap { reader.string($0, path: "\(path).endpoint") } ?? ""
            if entries["traces_endpoint"] == nil && entries["endpoint"] == nil {
                reader.report(
                    node,
                    path: "\(path).endpoint",
                    "an otlp exporter needs endpoint (the collector's base URL) or traces_endpoint",
                    hint: "endpoint: ${OTEL_EXPORTER_OTLP_ENDPOINT}"
                )
                return nil
            }
            guard !full.isEmpty || !base.isEmpty else { return .off("\(name): endpoint is empty") }
            url = full.isEmpty ? tracesURL(base: base) : full
            let urlNode = entries[full.isEmpty ? "endpoint" : "traces_endpoint"] ?? node
            guard checkURL(url, node: urlNode, path: "\(path).endpoint", reader: &reader) else { return nil }
        case .langfuse:
            let host = entries["host"].flatMap { reader.string($0, path: "\(path).host") } ?? ""
            let publicKey = entries["public_key"].flatMap { reader.secret($0, path: "\(path).public_key") }
            let secretKey = entries["secret_key"].flatMap { reader.secret($0, path: "\(path).secret_key") }
            if entries["host"] == nil {
                reader.report(
                    node,
                    path: "\(path).host",
                    "a langfuse exporter needs host",
                    hint: "host: ${LANGFUSE_HOST}"
                )
                return nil
            }
            guard !host.isEmpty else { return .off("\(name): host is empty") }
            guard let publicKey, let secretKey, !publicKey.revealedValue.isEmpty, !secretKey.revealedValue.isEmpty
            else { return .off("\(name): public_key or secret_key is empty") }
            url = (host.hasSuffix("/") ? String(host.dropLast()) : host) + "/api/public/otel/v1/traces"
            guard checkURL(url, node: entries["host"] ?? node, path: "\(path).host", reader: &reader) else {
                return nil
            }
            let credentials = Data("\(publicKey.revealedValue):\(secretKey.revealedValue)".utf8).base64EncodedString()
            headers.append(TraceExporterDefinition.Header(name: "Authorization", value: Secret("Basic \(credentials)")))
            headers.append(TraceExporterDefinition.Header(name: "x-langfuse-ingestion-version", value: Secret("4")))
        }
        var exporter = TraceExporterDefinition(kind: kind, name: name, tracesURL: url, headers: headers)
        if let node = entries["queue_size"],
            let value = reader.integer(node, path: "\(path).queue_size", range: 1...1_000_000, example: "2048")
        {
            exporter.queueCapacity = value
        }
        if let node = entries["batch_size"],
            let value = reader.integer(node, path: "\(path).batch_size", range: 1...100_000, example: "512")
        {
            exporter.batchSize = value
        }
        if let node = entries["flush_interval"],
            let value = reader.duration(
                node,
                path: "\(path).flush_interval",
                range: .milliseconds(10)...Duration.seconds(600),
                example: "1s"
            )
        {
            exporter.flushInterval = value
        }
        if let node = entries["timeout"],
            let value = reader.duration(
                node,
                path: "\(path).timeout",
                range: .milliseconds(100)...Duration.seconds(600),
                example: "10s"
            )
        {
            exporter.timeout = value
        }
        return .exporter(exporter)
    }

    /// Any header name is allowed: the mapping's own keys.
    private static func headerNames(_ node: Node) -> [String] {
        node.mapping?.compactMap { $0.key.scalar?.string } ?? []
    }

    private static func checkURL(_ url: String, node: Node, path: String, reader: inout ConfigReader) -> Bool {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", parsed.host != nil
        else {
            reader.report(
                node,
                path: path,
                "expected an http:// or https:// URL",
                hint: "for example http://127.0.0.1:4318"
            )
            return false
        }
        return true
    }
}
