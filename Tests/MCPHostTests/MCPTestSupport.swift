import Testing

@testable import MCPHost

/// Shared helpers for the protocol tests. The tests never name `JSONValue`: values come from
/// decoding JSON text, so MCPHostTests needs no dependency beyond MCPHost.
struct NotASingleMessage: Error {}

func decodeSingle(_ text: String) throws -> JSONRPCMessage {
    guard case .single(let message) = try JSONRPCMessage.decode(Array(text.utf8)) else { throw NotASingleMessage() }
    return message
}

func decodingError(_ text: String) -> JSONRPCDecodingError? {
    do {
        _ = try JSONRPCMessage.decode(Array(text.utf8))
        return nil
    } catch {
        return error
    }
}

func utf8(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The compact JSON of a message, as a string.
func encodedText(_ message: JSONRPCMessage) -> String { utf8(message.encoded()) }
