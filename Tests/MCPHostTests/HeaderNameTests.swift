import HTTPTypes
import Testing

@testable import MCPHost

@Test func theMCPHeaderNamesAreValid() {
    #expect(HTTPField.Name.mcpSessionID.canonicalName == "mcp-session-id")
    #expect(HTTPField.Name.mcpProtocolVersion.canonicalName == "mcp-protocol-version")
    #expect(HTTPField.Name.accelBuffering.canonicalName == "x-accel-buffering")
}
