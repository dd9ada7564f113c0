import GatehouseJSON
import Logging
import Testing

@testable import MCPHost

@Suite("FederatedCatalog")
struct FederatedCatalogTests {
    static let logger = Logger(label: "FederatedCatalogTests", factory: { _ in SwiftLogNoOpLogHandler() })

    static func server(
        _ name: String,
        curation: ToolCuration = ToolCuration()
    ) -> MCPServerDefinition {
        MCPServerDefinition(
            name: name,
            transport: .stdio(
                StdioLaunch(command: "/bin/true", arguments: [], environment: [:], workingDirectory: nil)
            ),
            curation: curation
        )
    }

    static let plain = #"{"type":"object"}"#

    /// A tool as the server sent it; the hashes only need to be distinct.
    static func tool(
        _ name: String,
        _ pinState: ToolPinState = .approved,
        schema: String = plain
    ) throws -> UpstreamTool {
        let definition = try #require(
            try JSONValue.parse(
                #"{"name":""# + name + #"","description":"Upstream "# + name + #"","inputSchema":"# + schema + "}"
            )
            .objectValue
        )
        return UpstreamTool(
            definition: definition,
            upstreamName: name,
            hash: pinState == .approved ? "h-\(name)" : "h2-\(name)",
            pinState: pinState,
            approvedHash: "h-\(name)"
        )
    }

    static func snapshot(
        _ name: String,
        _ tools: [UpstreamTool],
        status: UpstreamServerStatus = .up,
        pinning: ToolPinningMode = .warn,
        ttlMilliseconds: Int = 0
    ) -> UpstreamServerSnapshot {
        UpstreamServerSnapshot(
            name: name,
            transport: "stdio",
            status: status,
            era: .sessionBased(.v2025_06_18),
            processID: nil,
            restarts: 0,
            lastError: nil,
            capabilities: JSONObject(["tools": .object(JSONObject())]),
            instructions: nil,
            tools: tools,
            pinning: pinning,
            toolsTTLMilliseconds: ttlMilliseconds
        )
    }

    static func listedText(_ catalog: FederatedCatalog, scope: String?) -> String {
        JSONValue.array(catalog.listed(scope: scope)).serializedString
    }

    static func listedNames(_ catalog: FederatedCatalog, scope: String?) -> [String] {
        catalog.listed(scope: scope).map { $0["name"]?.stringValue ?? "<no name>" }
    }

    static func timeAndFiles() throws -> FederatedCatalog {
        let time = Self.server(
            "time",
            curation: ToolCuration(
                rename: ["get_current_time": "now"],
                descriptions: ["get_current_time": "What time it is"]
            )
        )
        return FederatedCatalog(
            servers: [
                (time, Self.snapshot("time", [try Self.tool("get_current_time"), try Self.tool("convert_time")])),
                (Self.server("fs"), Self.snapshot("fs", [try Self.tool("read_file")])),
            ],
            logger: Self.logger
        )
    }

    @Test func prefixedRenamedAndDescribed() throws {
        let catalog = try Self.timeAndFiles()
        #expect(catalog.tools.map(\.federatedName) == ["time__now", "time__convert_time", "fs__read_file"])
        #expect(catalog.tools.map(\.shownName) == ["now", "convert_time", "read_file"])
        #expect(catalog.tools.map(\.upstreamName) == ["get_current_time", "convert_time", "read_file"])
        #expect(catalog.tools.map(\.server) == ["time", "time", "fs"])
        #expect(
            Self.listedText(catalog, scope: nil)
                == #"[{"name":"time__now","description":"What time it is","inputSchema":{"type":"object"}},"#
                + #"{"name":"time__convert_time","description":"Upstream convert_time","inputSchema":{"type":"object"}},"#
                + #"{"name":"fs__read_file","description":"Upstream read_file","inputSchema":{"type":"object"}}]"#
        )
        #expect(
            Self.listedText(catalog, scope: "time")
                == #"[{"name":"now","description":"What time it is","inputSchema":{"type":"object"}},"#
                + #"{"name":"convert_time","description":"Upstream convert_time","inputSchema":{"type":"object"}}]"#
        )
        #expect(Self.listedNames(catalog, scope: "fs") == ["read_file"])
        #expect(catalog.listed(scope: "nope") == [])
        // The stored definition keeps the upstream name; each endpoint sets its own.
        #expect(catalog.tools[0].definition["name"] == .string("get_current_time"))
        #expect(catalog.tools[0].definition["description"] == .string("What time it is"))
    }

    @Test func resolveByFederatedNameOrWithinAScope() throws {
        let catalog = try Self.timeAndFiles()
        let federated = try #require(catalog.resolve("time__now", scope: nil))
        #expect(federated.server == "time")
        #expect(federated.upstreamName == "get_current_time")
        let scoped = try #require(catalog.resolve("now", scope: "time"))
        #expect(scoped.federatedName == "time__now")
        #expect(scoped.upstreamName == "get_current_time")
        #expect(catalog.resolve("read_file", scope: "fs")?.federatedName == "fs__read_file")
        #expect(catalog.resolve("fs__read_file", scope: nil)?.upstreamName == "read_file")

        // The upstream name of a renamed tool, a shown name on /mcp, a federated name in a scope,
        // and a name of another server's scope all resolve to nothing.
        #expect(catalog.resolve("get_current_time", scope: "time") == nil)
        #expect(catalog.resolve("time__get_current_time", scope: nil) == nil)
        #expect(catalog.resolve("now", scope: nil) == nil)
        #expect(catalog.resolve("time__now", scope: "time") == nil)
        #expect(catalog.resolve("now", scope: "fs") == nil)
        #expect(catalog.resolve("now", scope: "nope") == nil)
    }

    @Test func blockPinningHidesChangedTools() throws {
        let catalog = FederatedCatalog(
            servers: [
                (
                    Self.server("blk"),
                    Self.snapshot("blk", [try Self.tool("a", .changed), try Self.tool("b")], pinning: .block)
                ),
                (
                    Self.server("wrn"),
                    Self.snapshot("wrn", [try Self.tool("c", .changed), try Self.tool("d")], pinning: .warn)
                ),
            ],
            logger: Self.logger
        )
        #expect(catalog.tools.map(\.federatedName) == ["blk__a", "blk__b", "wrn__c", "wrn__d"])
        #expect(catalog.tools.map(\.isHidden) == [true, false, false, false])
        #expect(Self.listedNames(catalog, scope: nil) == ["blk__b", "wrn__c", "wrn__d"])
        #expect(Self.listedNames(catalog, scope: "blk") == ["b"])
        #expect(Self.listedNames(catalog, scope: "wrn") == ["c", "d"])
        // A hidden tool still resolves, marked hidden, so a call can be refused with a reason.
        #expect(catalog.resolve("blk__a", scope: nil)?.isHidden == true)
        #expect(catalog.resolve("a", scope: "blk")?.isHidden == true)
    }

    @Test func onlyServersThatAreUp() throws {
        let statuses: [UpstreamServerStatus] = [.starting, .up, .down, .stopped]
        let catalog = FederatedCatalog(
            servers: try statuses.map { status in
                (Self.server(status.rawValue), Self.snapshot(status.rawValue, [try Self.tool("t")], status: status))
            },
            logger: Self.logger
        )
        #expect(catalog.tools.map(\.federatedName) == ["up__t"])
        #expect(Self.listedNames(catalog, scope: nil) == ["up__t"])
        #expect(catalog.resolve("down__t", scope: nil) == nil)
        #expect(catalog.resolve("t", scope: "down") == nil)
        #expect(catalog.resolve("t", scope: "starting") == nil)
        #expect(catalog.listed(scope: "stopped") == [])
    }

    @Test func serversWithUnusableNamesAreLeftOut() throws {
        let catalog = FederatedCatalog(
            servers: [
                (Self.server("bad__name"), Self.snapshot("bad__name", [try Self.tool("t")])),
                (Self.server("ok"), Self.snapshot("ok", [try Self.tool("t")])),
            ],
            logger: Self.logger
        )
        #expect(catalog.tools.map(\.federatedName) == ["ok__t"])
        #expect(catalog.resolve("t", scope: "bad__name") == nil)
    }

    @Test func oneToolPerName() throws {
        // A rename onto a name the server also uses: the first in the server's order keeps it.
        let catalog = FederatedCatalog(
            servers: [
                (
                    Self.server("s", curation: ToolCuration(rename: ["a": "b"])),
                    Self.snapshot("s", [try Self.tool("a"), try Self.tool("b")])
                )
            ],
            logger: Self.logger
        )
        #expect(catalog.tools.map(\.federatedName) == ["s__b"])
        #expect(catalog.tools.map(\.upstreamName) == ["a"])
        #expect(catalog.resolve("b", scope: "s")?.upstreamName == "a")
    }

    @Test func headerBindingsFromTheInputSchema() throws {
        let catalog = FederatedCatalog(
            servers: [
                (
                    Self.server("db"),
                    Self.snapshot(
                        "db",
                        [
                            try Self.tool(
                                "query",
                                schema:
                                    #"{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}"#
                            ),
                            // An annotation under `items` makes the schema's bindings invalid.
                            try Self.tool(
                                "bulk",
                                schema: #"{"type":"array","items":{"type":"string","x-mcp-header":"Item"}}"#
                            ),
                            try Self.tool("plain"),
                        ]
                    )
                )
            ],
            logger: Self.logger
        )
        #expect(
            catalog.tools.map(\.headerBindings.bindings) == [
                [MCPToolHeaderBinding(headerName: "Region", propertyPath: ["region"], valueType: .string)], [], [],
            ]
        )
        #expect(catalog.tools.map(\.federatedName) == ["db__query", "db__bulk", "db__plain"])
    }

    @Test func emptyCatalog() {
        #expect(FederatedCatalog.empty.tools.isEmpty)
        #expect(FederatedCatalog.empty.listed(scope: nil) == [])
        #expect(FederatedCatalog.empty.resolve("a__b", scope: nil) == nil)
        let none = FederatedCatalog(servers: [], logger: Self.logger)
        #expect(none.tools.isEmpty)
        #expect(none.ttlMilliseconds(scope: nil) == 0)
    }

    @Test func listTTLIsTheSmallestOfTheServersUp() throws {
        let catalog = FederatedCatalog(
            servers: [
                (Self.server("a"), Self.snapshot("a", [try Self.tool("x")], ttlMilliseconds: 5000)),
                (Self.server("b"), Self.snapshot("b", [try Self.tool("y")], ttlMilliseconds: 2000)),
                (Self.server("c"), Self.snapshot("c", [try Self.tool("z")], status: .down, ttlMilliseconds: 10)),
            ],
            logger: Self.logger
        )
        #expect(catalog.ttlMilliseconds(scope: nil) == 2000)
        #expect(catalog.ttlMilliseconds(scope: "a") == 5000)
        #expect(catalog.ttlMilliseconds(scope: "c") == 0)
    }
}
