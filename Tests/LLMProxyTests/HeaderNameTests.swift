import HTTPTypes
import Testing

@testable import LLMProxy

@Test func theStreamHeaderNameIsValid() {
    #expect(HTTPField.Name.accelBuffering.canonicalName == "x-accel-buffering")
}
