/// One Server-Sent Event as the official SDKs read it: an optional `event:` name, the `data:`
/// lines joined with `\n`, and an optional `id:`.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var data: String
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }

    /// The event in wire form, ending with the blank line that terminates it. Multi-line data
    /// becomes several `data:` lines, as the SSE spec requires.
    public func encoded() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(data.utf8.count + 32)
        if let event {
            output.append(contentsOf: "event: ".utf8)
            output.append(contentsOf: event.utf8)
            output.append(0x0A)
        }
        if let id {
            output.append(contentsOf: "id: ".utf8)
            output.append(contentsOf: id.utf8)
            output.append(0x0A)
        }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) {
            output.append(contentsOf: "data: ".utf8)
            output.append(contentsOf: line.utf8)
            output.append(0x0A)
        }
        output.append(0x0A)
        return output
    }
}
