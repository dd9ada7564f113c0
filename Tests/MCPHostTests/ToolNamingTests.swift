import Testing

@testable import MCPHost

@Suite("ToolNaming")
struct ToolNamingTests {
    /// Expected hashes were computed by a separate implementation (Python: FNV-1a 64 of
    /// `server NUL tool`, then the MurmurHash3 fmix64 finalizer), not read back from this one.
    @Test(arguments: [
        ("github", "create_issue", "github__create_issue"),
        ("fs", "read_file", "fs__read_file"),
        ("time", "get-current-time", "time__get-current-time"),
        ("fs", "read.file", "fs__read_file_6c02bf0e"),
        ("notes", "créer note", "notes__cr__er_note_629d8e99"),
        ("s", "a.b", "s__a_b_52cd0e8b"),
        ("github", String(repeating: "x", count: 70), "github__" + String(repeating: "x", count: 47) + "_d7242e8a"),
    ])
    func federatedNames(server: String, tool: String, federated: String) {
        #expect(FederatedToolName.make(server: server, upstreamToolName: tool) == federated)
        #expect(FederatedToolName.isValid(federated))
    }

    @Test func longHashForm() {
        #expect(
            FederatedToolName.make(server: "s", upstreamToolName: "a.b", hashLength: 16) == "s__a_b_52cd0e8bf49c9854"
        )
        // A name that fits as written keeps it whatever the hash length.
        #expect(FederatedToolName.make(server: "s", upstreamToolName: "a_b", hashLength: 16) == "s__a_b")
    }

    @Test func lengthBoundary() {
        let fits = String(repeating: "t", count: 64 - "srv__".count)
        #expect(FederatedToolName.make(server: "srv", upstreamToolName: fits) == "srv__" + fits)
        let overByOne = FederatedToolName.make(server: "srv", upstreamToolName: fits + "t")
        #expect(overByOne.utf8.count == 64)
        #expect(overByOne.hasPrefix("srv__"))
        #expect(overByOne != "srv__" + fits)
        #expect(FederatedToolName.isValid(overByOne))
        #expect(FederatedToolName.make(server: "srv", upstreamToolName: "").hasPrefix("srv__"))
    }

    @Test(arguments: [
        ("a", true), ("get_weather", true), ("A-b_9", true), (String(repeating: "a", count: 64), true),
        ("", false), (String(repeating: "a", count: 65), false), ("a.b", false), ("a b", false), ("é", false),
        ("a/b", false),
    ])
    func validity(name: String, isValid: Bool) {
        #expect(FederatedToolName.isValid(name) == isValid)
    }

    @Test(arguments: [
        ("github", true), ("a", true), ("my-server_2", true), ("9lives", true),
        (String(repeating: "s", count: 32), true), (String(repeating: "s", count: 33), false),
        ("", false), ("a__b", false), ("ends_", false), ("_lead", false), ("-lead", false), ("dot.ted", false),
        ("spa ce", false),
    ])
    func serverPrefixes(server: String, isValid: Bool) {
        #expect((FederatedToolName.problem(withServerPrefix: server) == nil) == isValid)
    }

    /// Names built to collide after sanitizing or shortening: dots vs underscores, long names that
    /// differ only past the cut, non-ASCII, three servers with the same tools.
    static func generatedPairs() -> [(server: String, upstreamToolName: String)] {
        var pairs: [(server: String, upstreamToolName: String)] = []
        let long = String(repeating: "very_long_tool_name_", count: 4)
        for server in ["alpha", "a-b", "s9"] {
            for index in 0..<400 {
                pairs.append((server, "tool\(index)"))
                pairs.append((server, "tool.\(index)"))
                pairs.append((server, "tool_\(index)"))
                pairs.append((server, "tool-\(index)"))
                pairs.append((server, long + "\(index)"))
                pairs.append((server, long + ".\(index)"))
                pairs.append((server, "工具\(index)"))
                pairs.append((server, "tool \(index)"))
            }
        }
        return pairs
    }

    @Test func collisionFreeAndReversible() {
        let pairs = Self.generatedPairs()
        let table = ToolNameTable(pairs)
        #expect(table.rejections == [])
        #expect(table.entries.count == pairs.count)
        #expect(Set(table.entries.map(\.federatedToolName)).count == pairs.count)
        for pair in pairs {
            guard let federated = table.federatedToolName(server: pair.server, upstreamToolName: pair.upstreamToolName)
            else {
                Issue.record("no name for \(pair)")
                continue
            }
            #expect(FederatedToolName.isValid(federated), "\(federated)")
            #expect(federated.hasPrefix(pair.server + "__"))
            let owner = table.resolve(federated)
            #expect(owner?.server == pair.server)
            #expect(owner?.upstreamToolName == pair.upstreamToolName)
            // Stable: the table agrees with the per-name function when nothing collides.
            #expect(federated == FederatedToolName.make(server: pair.server, upstreamToolName: pair.upstreamToolName))
        }
    }

    @Test func sameNamesWhateverTheOrder() {
        let pairs = Self.generatedPairs()
        let table = ToolNameTable(pairs)
        #expect(ToolNameTable(pairs.reversed()) == table)
        #expect(ToolNameTable(Array(pairs[1000...] + pairs[..<1000])) == table)
        #expect(ToolNameTable(pairs + pairs.prefix(10)) == table)
    }

    @Test func literalNameThatLooksShortened() {
        // "a_b_52cd0e8b" is written as-is and equals the shortened form of "a.b".
        let forward = ToolNameTable([("s", "a.b"), ("s", "a_b_52cd0e8b"), ("s", "other")])
        let backward = ToolNameTable([("s", "other"), ("s", "a_b_52cd0e8b"), ("s", "a.b")])
        #expect(forward == backward)
        #expect(forward.federatedToolName(server: "s", upstreamToolName: "a_b_52cd0e8b") == "s__a_b_52cd0e8b")
        #expect(forward.federatedToolName(server: "s", upstreamToolName: "a.b") == "s__a_b_52cd0e8bf49c9854")
        #expect(forward.federatedToolName(server: "s", upstreamToolName: "other") == "s__other")
        #expect(forward.resolve("s__a_b_52cd0e8bf49c9854")?.upstreamToolName == "a.b")
        #expect(forward.resolve("s__a_b_52cd0e8b")?.upstreamToolName == "a_b_52cd0e8b")
    }

    @Test func invalidServersAreRejected() {
        let table = ToolNameTable([("ok", "t"), ("bad__name", "t"), ("", "t")])
        #expect(table.entries.map(\.federatedToolName) == ["ok__t"])
        #expect(table.rejections.map(\.server) == ["", "bad__name"])
        #expect(table.rejections.allSatisfy { !$0.reason.isEmpty })
        #expect(table.resolve("bad__name__t") == nil)
        #expect(table.resolve("ok__missing") == nil)
        #expect(table.federatedToolName(server: "ok", upstreamToolName: "missing") == nil)
    }

    /// Distinct prefixes can never produce the same name, even when tool names start with `_`.
    @Test func prefixesNeverOverlap() {
        let table = ToolNameTable([("a", "_b"), ("a_b", "x"), ("a", "b__x"), ("a-b", "x")])
        #expect(table.entries.map(\.federatedToolName) == ["a-b__x", "a___b", "a__b__x", "a_b__x"])
        #expect(table.resolve("a__b__x")?.server == "a")
        #expect(table.resolve("a_b__x")?.server == "a_b")
    }
}
