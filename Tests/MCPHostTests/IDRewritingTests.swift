import Testing

@testable import MCPHost

@Suite("UpstreamRequestTable")
struct IDRewritingTests {
    let alice = ClientToken(1)
    let bob = ClientToken(2)

    /// A `tools/call` as a client sends it, with an optional `_meta.progressToken` (JSON text).
    static func call(id: String, progressToken: String? = nil) throws -> JSONRPCMessage {
        let meta = progressToken.map { #","_meta":{"progressToken":"# + $0 + #","k":1}"# } ?? ""
        return try decodeSingle(
            #"{"jsonrpc":"2.0","id":"# + id + #","method":"tools/call","params":{"name":"echo""# + meta + "}}"
        )
    }

    @Test func twoClientsWithTheSameIDs() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        let fromAlice = try table.outgoingRequest(try Self.call(id: "1"), from: alice)
        let fromBob = try table.outgoingRequest(try Self.call(id: "1"), from: bob)
        #expect(
            encodedText(fromAlice) == #"{"jsonrpc":"2.0","id":"gh-1","method":"tools/call","params":{"name":"echo"}}"#
        )
        #expect(
            encodedText(fromBob) == #"{"jsonrpc":"2.0","id":"gh-2","method":"tools/call","params":{"name":"echo"}}"#
        )
        #expect(table.pendingCount == 2)

        // Answers come back in the other order; each goes to its own client with its own id.
        let bobReply = try #require(
            table.incomingResponse(
                try decodeSingle(#"{"jsonrpc":"2.0","id":"gh-2","result":{"content":[{"type":"text","text":"b"}]}}"#)
            )
        )
        #expect(bobReply.client == bob)
        #expect(
            encodedText(bobReply.message)
                == #"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"b"}]}}"#
        )
        let aliceReply = try #require(
            table.incomingResponse(
                try decodeSingle(#"{"jsonrpc":"2.0","id":"gh-1","error":{"code":-32602,"message":"Unknown tool"}}"#)
            )
        )
        #expect(aliceReply.client == alice)
        #expect(
            encodedText(aliceReply.message)
                == #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unknown tool"}}"#
        )
        #expect(table.pendingCount == 0)
        // A second answer to the same id has nowhere to go.
        let outcome1 = table.incomingResponse(try decodeSingle(#"{"jsonrpc":"2.0","id":"gh-1","result":{}}"#))
        #expect(outcome1 == nil)
    }

    @Test func stringAndIntegerIDsAreDistinct() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        let numeric = try table.mint(for: alice, originalID: .integer("1"), progressToken: nil)
        let text = try table.mint(for: alice, originalID: .string("1"), progressToken: nil)
        #expect(numeric != text)
        #expect(table.resolve(text)?.originalID == .string("1"))
        #expect(table.resolve(numeric)?.originalID == .integer("1"))
    }

    @Test func progressTokensAreRewrittenBothWays() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        let fromAlice = try table.outgoingRequest(try Self.call(id: "7", progressToken: #""abc""#), from: alice)
        let fromBob = try table.outgoingRequest(try Self.call(id: "7", progressToken: "7"), from: bob)
        #expect(
            encodedText(fromAlice)
                == #"{"jsonrpc":"2.0","id":"gh-1","method":"tools/call","params":{"name":"echo","_meta":{"progressToken":"gh-1","k":1}}}"#
        )
        #expect(fromBob.progressToken == .string("gh-2"))

        let progress = try decodeSingle(
            #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"gh-2","progress":0.5,"total":1,"message":"half"}}"#
        )
        let routed = try #require(table.incomingProgress(progress))
        #expect(routed.client == bob)
        #expect(
            encodedText(routed.message)
                == #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":0.5,"total":1,"message":"half"}}"#
        )
        let toAlice = try #require(
            table.incomingProgress(
                progress.replacingParamsMember("progressToken", with: .string("gh-1"), inMeta: false)!
            )
        )
        #expect(toAlice.client == alice)
        #expect(toAlice.message.params?["progressToken"] == .string("abc"))
        // Progress still routes while the request is pending, and never after it.
        #expect(table.incomingProgress(progress) != nil)
        _ = table.incomingResponse(try decodeSingle(#"{"jsonrpc":"2.0","id":"gh-2","result":{}}"#))
        #expect(table.incomingProgress(progress) == nil)
    }

    @Test func progressIsRoutedOnlyWhenAsked() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        let plain = try table.outgoingRequest(try Self.call(id: "1"), from: alice)
        #expect(plain.progressToken == nil)
        let unasked = try decodeSingle(
            #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"gh-1","progress":1}}"#
        )
        #expect(table.incomingProgress(unasked) == nil)
        let unknown = try decodeSingle(
            #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":99,"progress":1}}"#
        )
        #expect(table.incomingProgress(unknown) == nil)
        #expect(table.incomingProgress(try decodeSingle(#"{"jsonrpc":"2.0","method":"notifications/message"}"#)) == nil)
    }

    @Test func cancellationsNameTheMintedID() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        _ = try table.outgoingRequest(try Self.call(id: #""x""#), from: alice)
        _ = try table.outgoingRequest(try Self.call(id: #""x""#), from: bob)
        let cancel = try decodeSingle(
            #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"x","reason":"User requested cancellation"}}"#
        )
        let forwarded = table.outgoingCancellation(cancel, from: bob)
        let upstream = try #require(forwarded)
        #expect(
            encodedText(upstream)
                == #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"gh-2","reason":"User requested cancellation"}}"#
        )
        // Bob's request left the table; Alice's is untouched. A late answer to Bob's is dropped.
        #expect(table.pendingCount == 1)
        let outcome2 = table.incomingResponse(try decodeSingle(#"{"jsonrpc":"2.0","id":"gh-2","result":{}}"#))
        #expect(outcome2 == nil)
        #expect(table.upstreamID(for: alice, originalID: .string("x")) == .string("gh-1"))
        // Cancelling twice, or something never sent, yields nothing to forward.
        let outcome3 = table.outgoingCancellation(cancel, from: bob)
        #expect(outcome3 == nil)
        let unknown = try decodeSingle(
            #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}"#
        )
        let outcome4 = table.outgoingCancellation(unknown, from: alice)
        #expect(outcome4 == nil)
        let outcome5 = table.outgoingCancellation(try Self.call(id: "3"), from: alice)
        #expect(outcome5 == nil)
    }

    @Test func boundedPending() throws {
        var table = UpstreamRequestTable(maximumPending: 2)
        let first = try table.mint(for: alice, originalID: .integer("1"), progressToken: nil)
        _ = try table.mint(for: bob, originalID: .integer("1"), progressToken: nil)
        #expect(throws: UpstreamRequestTableError.full(maximumPending: 2)) {
            try table.mint(for: alice, originalID: .integer("2"), progressToken: nil)
        }
        #expect(throws: UpstreamRequestTableError.full(maximumPending: 2)) {
            try table.outgoingRequest(try Self.call(id: "3"), from: alice)
        }
        let outcome6 = table.remove(first)
        #expect(outcome6?.client == alice)
        #expect(try table.mint(for: alice, originalID: .integer("2"), progressToken: nil) == .string("gh-3"))
    }

    @Test func idsInFlightMustBeUnique() throws {
        var table = UpstreamRequestTable(maximumPending: 8)
        let first = try table.mint(for: alice, originalID: .integer("1"), progressToken: nil)
        #expect(throws: UpstreamRequestTableError.duplicateRequestID(.integer("1"))) {
            try table.mint(for: alice, originalID: .integer("1"), progressToken: nil)
        }
        #expect(table.pendingCount == 1)
        table.remove(first)
        // Once answered, the id may be used again; the minted id never repeats.
        #expect(try table.mint(for: alice, originalID: .integer("1"), progressToken: nil) == .string("gh-2"))
    }

    @Test func upstreamDeathFailsEveryone() throws {
        var table = UpstreamRequestTable(maximumPending: 8, idPrefix: "up7-")
        _ = try table.outgoingRequest(try Self.call(id: "1", progressToken: "1"), from: alice)
        _ = try table.outgoingRequest(try Self.call(id: "1"), from: bob)
        _ = try table.outgoingRequest(try Self.call(id: "2"), from: alice)
        _ = try table.outgoingRequest(try Self.call(id: #""two""#), from: bob)

        let alices = table.failAll(for: alice)
        #expect(alices.map(\.upstreamID) == [.string("up7-1"), .string("up7-3")])
        #expect(alices.map(\.originalID) == [.integer("1"), .integer("2")])
        #expect(alices.first?.originalProgressToken == .number("1"))
        #expect(table.pendingCount == 2)
        #expect(table.upstreamID(for: alice, originalID: .integer("1")) == nil)

        let rest = table.drain()
        #expect(rest.map(\.client) == [bob, bob])
        #expect(rest.map(\.originalID) == [.integer("1"), .string("two")])
        #expect(table.pendingCount == 0)
        let outcome7 = table.drain()
        #expect(outcome7 == [])
        #expect(table.resolve(.string("up7-2")) == nil)
        #expect(
            encodedText(
                rest[1].errorResponse(JSONRPCErrorObject(code: .internalError, message: "Upstream server exited"))
            )
                == #"{"jsonrpc":"2.0","id":"two","error":{"code":-32603,"message":"Upstream server exited"}}"#
        )
        // After a drain the same client ids can go out again.
        #expect(try table.mint(for: bob, originalID: .integer("1"), progressToken: nil) == .string("up7-5"))
    }

    @Test func nonRequestsPassThrough() throws {
        var table = UpstreamRequestTable(maximumPending: 1)
        let notification = try decodeSingle(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        #expect(try table.outgoingRequest(notification, from: alice) == notification)
        #expect(table.pendingCount == 0)
        let outcome8 = table.incomingResponse(notification)
        #expect(outcome8 == nil)
        let outcome9 = table.incomingResponse(try Self.call(id: "1"))
        #expect(outcome9 == nil)
        let outcome10 = table.incomingResponse(
            try decodeSingle(#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}"#)
        )
        #expect(outcome10 == nil)
        #expect(ClientToken(5).description == "client-5")
    }
}
