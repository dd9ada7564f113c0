import GatehouseConfig
import GatehouseCore
import Testing

@testable import Policy

@Suite("Trace content capture in policy files")
struct TraceContentCaptureTests {
    @Test func anAgentsFileOverridesTheDefaults() throws {
        let set = try policySet([
            "defaults.yaml": """
            tracing:
              capture_content: true
              max_content_bytes: 1KiB
            """,
            "quiet.yaml": """
            agents: [quiet]
            tracing:
              capture_content: false
            """,
            "loud.yaml": """
            agents: [loud]
            """,
            "sized.yaml": """
            agents: [sized]
            tracing:
              capture_content: true
              max_content_bytes: 100
            """,
        ])
        #expect(set.contentCapture(caller("quiet")) == nil)
        #expect(set.contentCapture(caller("loud")) == TraceContentCapture(isEnabled: true, maximumBytes: 1024))
        #expect(set.contentCapture(caller("sized")) == TraceContentCapture(isEnabled: true, maximumBytes: 100))
        #expect(set.contentCapture(caller("nobody")) == nil)
    }

    @Test func offUnlessAPolicySaysSo() throws {
        let set = try policySet(["a.yaml": "agents: [a]\n"])
        #expect(set.contentCapture(caller("a")) == nil)
    }

    @Test func mistakesAreReportedWithTheirKey() {
        guard
            case .invalid(let diagnostics) = compilePolicies([
                "a.yaml": """
                agents: [a]
                tracing:
                  capture_content: sometimes
                  max_content_bytes: 2
                  keep: all
                """
            ])
        else {
            Issue.record("expected diagnostics")
            return
        }
        let text = diagnostics.map(\.description).joined(separator: "\n")
        #expect(text.contains("tracing.keep"))
        #expect(text.contains("tracing.capture_content"))
    }
}
