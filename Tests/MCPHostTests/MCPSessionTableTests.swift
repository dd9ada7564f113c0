import GatehouseCore
import GatehouseJSON
import Testing

@testable import MCPHost

@Suite("MCPSessionTable")
struct MCPSessionTableTests {
    static let capabilities = JSONObject(["roots": .object(JSONObject(["listChanged": .bool(true)]))])

    static func key(_ agent: String, index: Int = 0) -> Identity {
        Identity(agentName: agent, method: .configuredAPIKey(keyIndex: index))
    }

    static func open(_ table: MCPSessionTable, agent: String = "alice", scope: String? = nil) -> MCPSession {
        table.open(owner: Self.key(agent), scope: scope, version: .v2025_06_18, clientCapabilities: Self.capabilities)
    }

    /// Whether the session's notification queue holds `.end` next (nil when it is empty).
    static func endWasPosted(_ session: MCPSession) async -> Bool? {
        let waiting = Task { await session.notifications.next() }
        waiting.cancel()
        guard let event = await waiting.value else { return nil }
        if case .end = event { return true }
        return false
    }

    static let hexDigits = Set("0123456789abcdef")

    @Test func randomIDsAreLowercaseHexAndDistinct() {
        let ids = (0..<200).map { _ in MCPSessionTable.randomID() }
        for id in ids {
            #expect(id.count == 64, "\(id)")
            #expect(id.allSatisfy { Self.hexDigits.contains($0) }, "\(id)")
        }
        #expect(Set(ids).count == ids.count)
    }

    @Test func openRecordsTheSession() {
        let table = MCPSessionTable(maximumSessions: 8, idleTimeout: .seconds(3600))
        let session = Self.open(table, agent: "alice", scope: "time")
        #expect(session.id.count == 64)
        #expect(session.agent == "alice")
        #expect(session.scope == "time")
        #expect(session.version == .v2025_06_18)
        #expect(session.clientCapabilities == Self.capabilities)
        #expect(session.client == ClientToken(1_000_001))
        #expect(table.newClientToken() == ClientToken(1_000_002))
        #expect(Self.open(table).client == ClientToken(1_000_003))
        #expect(table.all.count == 2)
    }

    @Test func lookupNeedsTheSameAgentAndScope() throws {
        let table = MCPSessionTable(maximumSessions: 8, idleTimeout: .seconds(3600))
        let scoped = Self.open(table, agent: "alice", scope: "time")
        let unscoped = Self.open(table, agent: "alice", scope: nil)

        #expect(table.lookup(scoped.id, owner: Self.key("alice"), scope: "time") === scoped)
        #expect(table.lookup(unscoped.id, owner: Self.key("alice"), scope: nil) === unscoped)
        #expect(table.lookup(scoped.id, owner: Self.key("bob"), scope: "time") == nil)
        // The same agent with another of its keys is another authorization context.
        #expect(table.lookup(scoped.id, owner: Self.key("alice", index: 1), scope: "time") == nil)
        #expect(table.lookup(scoped.id, owner: Self.key("alice"), scope: nil) == nil)
        #expect(table.lookup(scoped.id, owner: Self.key("alice"), scope: "fs") == nil)
        #expect(table.lookup(unscoped.id, owner: Self.key("alice"), scope: "time") == nil)
        #expect(table.lookup(MCPSessionTable.randomID(), owner: Self.key("alice"), scope: nil) == nil)
        // A refused lookup leaves the session to its owner.
        #expect(table.lookup(scoped.id, owner: Self.key("alice"), scope: "time") === scoped)
        #expect(table.all.count == 2)
    }

    @Test func closeEndsTheSession() async {
        let table = MCPSessionTable(maximumSessions: 8, idleTimeout: .seconds(3600))
        let session = Self.open(table)
        let other = Self.open(table)
        #expect(!table.close(session.id, owner: Self.key("bob"), scope: nil))
        #expect(!table.close(session.id, owner: Self.key("alice"), scope: "time"))
        #expect(await Self.endWasPosted(session) == nil)

        #expect(table.close(session.id, owner: Self.key("alice"), scope: nil))
        #expect(await Self.endWasPosted(session) == true)
        #expect(table.lookup(session.id, owner: Self.key("alice"), scope: nil) == nil)
        #expect(!table.close(session.id, owner: Self.key("alice"), scope: nil))
        #expect(table.all.map(\.id) == [other.id])
        #expect(await Self.endWasPosted(other) == nil)
    }

    @Test func onlyOneSessionKept() async {
        let table = MCPSessionTable(maximumSessions: 1, idleTimeout: .seconds(3600))
        let first = Self.open(table)
        let second = Self.open(table)
        #expect(table.all.map(\.id) == [second.id])
        #expect(table.lookup(first.id, owner: Self.key("alice"), scope: nil) == nil)
        #expect(table.lookup(second.id, owner: Self.key("alice"), scope: nil) === second)
        #expect(await Self.endWasPosted(first) == true)
        #expect(await Self.endWasPosted(second) == nil)
    }

    @Test func leastRecentlyUsedIsEvicted() async {
        let table = MCPSessionTable(maximumSessions: 2, idleTimeout: .seconds(3600))
        let first = Self.open(table)
        let second = Self.open(table)
        // Using the first makes the second the least recently used.
        #expect(table.lookup(first.id, owner: Self.key("alice"), scope: nil) === first)
        let third = Self.open(table)
        #expect(Set(table.all.map(\.id)) == [first.id, third.id])
        #expect(table.lookup(second.id, owner: Self.key("alice"), scope: nil) == nil)
        #expect(await Self.endWasPosted(second) == true)
        #expect(await Self.endWasPosted(first) == nil)
    }

    @Test func idleSessionsAreForgotten() {
        // A negative timeout makes every session idle past it, with no clock to wait on.
        let table = MCPSessionTable(maximumSessions: 8, idleTimeout: .seconds(-1))
        let session = Self.open(table)
        #expect(table.all.count == 1)
        #expect(table.lookup(session.id, owner: Self.key("alice"), scope: nil) == nil)
        #expect(table.all.isEmpty)
        #expect(!table.close(session.id, owner: Self.key("alice"), scope: nil))
    }

    @Test func closeAllEndsEverySession() async {
        let table = MCPSessionTable(maximumSessions: 8, idleTimeout: .seconds(3600))
        let sessions = [Self.open(table), Self.open(table, agent: "bob"), Self.open(table, scope: "fs")]
        table.closeAll()
        #expect(table.all.isEmpty)
        for session in sessions {
            #expect(await Self.endWasPosted(session) == true)
            #expect(table.lookup(session.id, owner: Self.key(session.agent), scope: session.scope) == nil)
        }
    }
}
