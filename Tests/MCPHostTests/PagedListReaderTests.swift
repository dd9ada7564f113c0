import GatehouseJSON
import Testing

@testable import MCPHost

@Suite("PagedListReader")
struct PagedListReaderTests {
    static func page(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    @Test func readsEveryPageAndKeepsTheSmallestTTL() throws {
        var reader = PagedListReader(key: "tools")
        #expect(reader.nextParams == .object(JSONObject()))
        #expect(reader.absorb(try Self.page(#"{"tools":[1,2],"nextCursor":"c1","ttlMs":5000}"#)))
        #expect(!reader.isComplete)
        #expect(reader.nextParams == .object(JSONObject(["cursor": .string("c1")])))
        #expect(reader.absorb(try Self.page(#"{"tools":[3],"ttlMs":2000}"#)))
        #expect(reader.isComplete)
        #expect(reader.items == [JSONValue(1), JSONValue(2), JSONValue(3)])
        #expect(reader.ttlMilliseconds == 2000)
    }

    @Test func aPageWithoutTTLCountsAsZero() throws {
        var reader = PagedListReader(key: "prompts")
        #expect(reader.absorb(try Self.page(#"{"prompts":[],"nextCursor":"","ttlMs":100}"#)))
        #expect(!reader.isComplete)  // an empty string is a valid cursor (2026)
        #expect(reader.absorb(try Self.page(#"{"prompts":[]}"#)))
        #expect(reader.ttlMilliseconds == 0)
    }

    @Test func aResultWithoutTheListStopsReading() throws {
        var reader = PagedListReader(key: "tools")
        #expect(!reader.absorb(try Self.page(#"{"other":[]}"#)))
        #expect(reader.isComplete)
        #expect(reader.items.isEmpty)
    }

    @Test func aCursorThatNeverEndsIsCutOff() throws {
        var reader = PagedListReader(key: "tools")
        var pages = 0
        while !reader.isComplete {
            _ = reader.absorb(try Self.page(#"{"tools":[0],"nextCursor":"again"}"#))
            pages += 1
        }
        #expect(pages == PagedListReader.maximumPages)
        #expect(reader.items.count == PagedListReader.maximumPages)
    }
}
