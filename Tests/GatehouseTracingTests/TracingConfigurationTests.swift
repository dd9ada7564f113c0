import Foundation
import GatehouseConfig
import GatehouseCore
import Testing
import Yams

@testable import GatehouseTracing

@Suite("Tracing configuration")
struct TracingConfigurationTests {
    private func decode(
        _ yaml: String?,
        environment: [String: String] = [:]
    ) -> (
        TracingConfiguration, [ConfigDiagnostic]
    ) {
        var reader = ConfigReader(file: "t.yaml", environment: environment)
        let node = yaml.flatMap { try? Yams.compose(yaml: $0) }?.mapping?["tracing"]
        let configuration = TracingConfigurationDecoder.decode(node, environment: environment, reader: &reader)
        return (configuration, reader.diagnostics)
    }

    @Test func defaultsKeepTheLocalStoreAndExportNothing() {
        let (configuration, problems) = decode(nil)
        #expect(problems.isEmpty)
        #expect(configuration.isEnabled)
        #expect(configuration.store.isEnabled)
        #expect(configuration.exporters.isEmpty)
        #expect(configuration.serviceName == "gatehouse")
    }

    @Test func theStandardVariablesAddAnOTLPExporter() throws {
        let (configuration, problems) = decode(
            nil,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme,authorization=Bearer%20abc",
                "OTEL_SERVICE_NAME": "edge",
            ]
        )
        #expect(problems.isEmpty)
        let exporter = try #require(configuration.exporters.first)
        #expect(exporter.kind == .otlp)
        #expect(exporter.tracesURL == "http://collector:4318/v1/traces")
        #expect(exporter.headers.map(\.name) == ["x-tenant", "authorization"])
        #expect(exporter.headers.last?.value.revealedValue == "Bearer abc")
        #expect(configuration.serviceName == "edge")
    }

    @Test func anEmptyVariableTurnsAnExporterOff() {
        let (configuration, problems) = decode(
            """
            tracing:
              exporters:
                - type: otlp
                  endpoint: ${OTEL_EXPORTER_OTLP_ENDPOINT:-}
                - type: langfuse
                  host: ${LANGFUSE_HOST:-}
                  public_key: ${LANGFUSE_PUBLIC_KEY:-}
                  secret_key: ${LANGFUSE_SECRET_KEY:-}
            """
        )
        #expect(problems.isEmpty)
        #expect(configuration.exporters.isEmpty)
        #expect(configuration.disabledExporters.count == 2)
    }

    @Test func langfuseGetsItsEndpointBasicAuthAndIngestionVersion() throws {
        let (configuration, problems) = decode(
            """
            tracing:
              exporters:
                - type: langfuse
                  host: ${LANGFUSE_HOST}
                  public_key: ${LANGFUSE_PUBLIC_KEY}
                  secret_key: ${LANGFUSE_SECRET_KEY}
            """,
            environment: [
                "LANGFUSE_HOST": "https://cloud.langfuse.com/", "LANGFUSE_PUBLIC_KEY": "pk-lf-1",
                "LANGFUSE_SECRET_KEY": "sk-lf-2",
            ]
        )
        #expect(problems.isEmpty)
        let exporter = try #require(configuration.exporters.first)
        #expect(exporter.tracesURL == "https://cloud.langfuse.com/api/public/otel/v1/traces")
        let authorization = try #require(exporter.headers.first { $0.name == "Authorization" })
        #expect(authorization.value.revealedValue == "Basic " + Data("pk-lf-1:sk-lf-2".utf8).base64EncodedString())
        #expect(
            exporter.headers.contains { $0.name == "x-langfuse-ingestion-version" && $0.value.revealedValue == "4" }
        )
        // Credentials never show in a rendering of the configuration.
        #expect(!"\(configuration)".contains("sk-lf-2"))
    }

    @Test func mistakesAreReportedWithTheirPath() {
        let (_, problems) = decode(
            """
            tracing:
              run_idle_window: forever
              exporters:
                - type: zipkin
                - type: otlp
                  endpoint: ftp://nowhere
                - type: otlp
            """
        )
        let paths = Set(problems.map(\.path))
        #expect(paths.contains("tracing.run_idle_window"))
        #expect(paths.contains("tracing.exporters[0].type"))
        #expect(paths.contains("tracing.exporters[1].endpoint"))
        #expect(paths.contains("tracing.exporters[2].endpoint"))
    }
}
