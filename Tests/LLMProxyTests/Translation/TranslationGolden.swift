import GatehouseJSON
import GatehouseSSE
import LLMProxy
import Testing

/// Golden comparison helpers: fixtures are written as JSON text and compared as parsed values.
/// Objects are compared with their keys sorted, as JSON means them; arrays and number literals exactly.
enum Golden {
    struct NotAnObject: Error, CustomStringConvertible {
        let text: String
        var description: String { "fixture is not a JSON object: \(text)" }
    }

    static func object(_ text: String) throws -> JSONObject {
        guard let object = try JSONValue.parse(text).objectValue else { throw NotAnObject(text: text) }
        return object
    }

    /// Compact JSON with every object's keys sorted, so two values print the same exactly when they are equal as JSON.
    static func canonical(_ value: JSONValue) -> String {
        sorted(value).serializedString
    }

    static func canonical(_ object: JSONObject) -> String {
        canonical(.object(object))
    }

    /// One line per event: its name (or `-`), then its data canonicalised when it is JSON.
    static func lines(_ events: [SSEEvent]) -> [String] {
        events.map { event in
            let data = (try? JSONValue.parse(event.data)).map(canonical) ?? event.data
            return "\(event.event ?? "-") \(data)"
        }
    }

    /// Events written as `(name, JSON data)`; a nil name is an OpenAI data-only event.
    static func events(_ pairs: [(String?, String)]) -> [SSEEvent] {
        pairs.map { SSEEvent(event: $0.0, data: $0.1) }
    }

    private static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            let members = object.members.sorted { $0.key < $1.key }.map {
                JSONObject.Member(key: $0.key, value: sorted($0.value))
            }
            return .object(JSONObject(members: members))
        case .array(let items):
            return .array(items.map(sorted))
        default:
            return value
        }
    }
}

/// Asserts that `actual` equals the JSON `expected`, showing both canonical forms on failure.
func expectJSON(
    _ actual: JSONObject,
    _ expected: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let expectedObject = try Golden.object(expected)
    #expect(Golden.canonical(actual) == Golden.canonical(expectedObject), sourceLocation: sourceLocation)
}

/// Asserts the exact event list: names, order and data.
func expectEvents(
    _ actual: [SSEEvent],
    _ expected: [(String?, String)],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let actualLines = Golden.lines(actual)
    let expectedLines = Golden.lines(Golden.events(expected))
    #expect(actualLines.count == expectedLines.count, "event count", sourceLocation: sourceLocation)
    // Event by event, so a failure names the events that differ instead of printing two whole streams.
    for (index, (actualLine, expectedLine)) in zip(actualLines, expectedLines).enumerated() {
        #expect(actualLine == expectedLine, "event \(index)", sourceLocation: sourceLocation)
    }
}
