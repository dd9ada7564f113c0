import GatehouseCore
import Testing

@Suite("RequestID")
struct RequestIDTests {
    private static let lowercaseHex = Set("0123456789abcdef")

    @Test func newIdentifierIs32LowercaseHexDigits() {
        // Many, so that values whose halves start with zero digits (padding) are among them.
        for _ in 0..<1_000 {
            let id = RequestID().description
            #expect(id.count == 32)
            #expect(id.allSatisfy(Self.lowercaseHex.contains), "\(id)")
        }
    }

    @Test func twoIdentifiersDiffer() {
        #expect(RequestID() != RequestID())
        let many = Set((0..<1_000).map { _ in RequestID().description })
        #expect(many.count == 1_000)
    }

    @Test(arguments: [
        "abc",
        "0af7651916cd43dd8448eb211c80319c",
        "Req-42_a.b:c",
        "a",
        String(repeating: "z", count: 128),
    ])
    func adoptsValidToken(token: String) throws {
        let id = try #require(RequestID(adopting: Substring(token)))
        #expect(id.description == token)
        #expect("\(id)" == token)
    }

    @Test func adoptsASliceOfALargerString() throws {
        let header = "id=abc-123;"
        let start = header.index(header.startIndex, offsetBy: 3)
        let end = header.index(before: header.endIndex)
        let id = try #require(RequestID(adopting: header[start..<end]))
        #expect(id.description == "abc-123")
    }

    @Test func adoptedIdentifiersCompareByValue() {
        #expect(RequestID(adopting: "abc") == RequestID(adopting: "abc"))
        #expect(RequestID(adopting: "abc") != RequestID(adopting: "abd"))
    }

    @Test(arguments: [
        "",
        String(repeating: "z", count: 129),
        "a b",
        " abc",
        "abc ",
        "a\tb",
        "a\nb",
        "abc\r\nx-forged: 1",
        "a\u{0}b",
        "a\u{7f}b",
        "a\u{1b}[31mb",
        "café",
        "a/b",
        "a\"b",
        "a=b",
    ])
    func refusesInvalidToken(token: String) {
        #expect(RequestID(adopting: Substring(token)) == nil)
    }

    @Test func maximumAdoptedLengthIs128() {
        #expect(RequestID.maximumAdoptedLength == 128)
    }
}
