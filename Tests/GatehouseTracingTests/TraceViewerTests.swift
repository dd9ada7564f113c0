import Foundation
import Logging
import Store
import Testing

@testable import GatehouseTracing

/// One agent run as the tracer records it: a chat that asks for a tool, the tool call (refused by
/// a guard, so it fails) with its upstream hop, and a closing chat.
enum SampleRun {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let start: UInt64 = 1_700_000_000_000_000_000
    static let ms: UInt64 = 1_000_000

    static var spans: [SpanRecord] {
        [
            SpanRecord(
                traceID: traceID,
                spanID: "00000000000000r1",
                parentSpanID: nil,
                name: "invoke_agent demo",
                kind: .internal,
                startNanoseconds: start,
                endNanoseconds: start + 1000 * ms,
                attributes: [
                    SpanAttribute(GenAIKey.operationName, "invoke_agent"), SpanAttribute(GenAIKey.agentName, "demo"),
                ]
            ),
            SpanRecord(
                traceID: traceID,
                spanID: "00000000000000c1",
                parentSpanID: "00000000000000r1",
                name: "chat gpt-4o-mini",
                kind: .client,
                startNanoseconds: start,
                endNanoseconds: start + 300 * ms,
                attributes: [
                    SpanAttribute(GenAIKey.operationName, "chat"), SpanAttribute(GenAIKey.inputTokens, 120),
                    SpanAttribute(GenAIKey.outputTokens, 30), SpanAttribute(GatehouseKey.costUSD, .double(0.0004)),
                    SpanAttribute(GenAIKey.finishReasons, .strings(["tool_calls"])),
                    SpanAttribute(GenAIKey.inputMessages, #"[{"role":"user","content":"Add a note"}]"#),
                ]
            ),
            SpanRecord(
                traceID: traceID,
                spanID: "00000000000000t1",
                parentSpanID: "00000000000000r1",
                name: "tools/call notes__add",
                kind: .server,
                startNanoseconds: start + 310 * ms,
                endNanoseconds: start + 500 * ms,
                attributes: [
                    SpanAttribute(GenAIKey.operationName, "execute_tool"), SpanAttribute(GenAIKey.toolCallID, "call_1"),
                    SpanAttribute(CommonKey.errorType, "tool_error"),
                ],
                events: [
                    SpanEvent(
                        name: "apply_guardrail",
                        timeNanoseconds: start + 312 * ms,
                        attributes: [
                            SpanAttribute(GatehouseKey.policyRule, "files-public"),
                            SpanAttribute(GatehouseKey.policyDecision, "deny"),
                        ]
                    )
                ],
                links: [SpanLink(traceID: traceID, spanID: "00000000000000c1")],
                status: .error("denied by policy")
            ),
            SpanRecord(
                traceID: traceID,
                spanID: "00000000000000u1",
                parentSpanID: "00000000000000t1",
                name: "tools/call add",
                kind: .client,
                startNanoseconds: start + 320 * ms,
                endNanoseconds: start + 480 * ms,
                attributes: [SpanAttribute(CommonKey.serverAddress, "notes")]
            ),
            SpanRecord(
                traceID: traceID,
                spanID: "00000000000000c2",
                parentSpanID: "00000000000000r1",
                name: "chat gpt-4o-mini",
                kind: .client,
                startNanoseconds: start + 510 * ms,
                endNanoseconds: start + 1000 * ms,
                attributes: [
                    SpanAttribute(GenAIKey.operationName, "chat"), SpanAttribute(GenAIKey.inputTokens, 200),
                    SpanAttribute(GenAIKey.outputTokens, 50), SpanAttribute(GatehouseKey.costUSD, .double(0.0006)),
                ]
            ),
        ]
    }

    static var rows: [StoredSpan] {
        spans.map { StoredSpanCoding.row($0, agent: "demo", isRunRoot: $0.parentSpanID == nil) }
    }

    static var detail: TraceRunDetail? { TraceRunDetail(rows: rows) }
}

@Suite("Trace viewer: summaries and filters")
struct TraceRunSummaryTests {
    @Test func aRunSumsTokensAndCostAndCountsErrorsAndDenials() throws {
        let spans = SampleRun.spans
        let summary = TraceRunSummary(root: spans[0], agent: "demo", spans: spans)
        #expect(summary.traceID == SampleRun.traceID && summary.rootSpanID == "00000000000000r1")
        #expect(summary.name == "invoke_agent demo" && summary.agent == "demo")
        #expect(summary.startNanoseconds == SampleRun.start)
        #expect(summary.durationNanoseconds == 1000 * SampleRun.ms)
        #expect(summary.inputTokens == 320 && summary.outputTokens == 80)
        #expect(abs(summary.costUSD - 0.001) < 1e-12)
        #expect(summary.errorCount == 1 && summary.denialCount == 1 && summary.spanCount == 5)
        #expect(summary.status == .denied)
    }

    @Test func statusIsDeniedOverErrorOverOK() {
        let spans = SampleRun.spans
        var errorOnly = spans
        errorOnly[2] = SpanRecord(
            traceID: spans[2].traceID,
            spanID: spans[2].spanID,
            parentSpanID: spans[2].parentSpanID,
            name: spans[2].name,
            kind: .server,
            startNanoseconds: spans[2].startNanoseconds,
            endNanoseconds: spans[2].endNanoseconds,
            events: [
                SpanEvent(
                    name: "apply_guardrail",
                    timeNanoseconds: spans[2].startNanoseconds,
                    attributes: [SpanAttribute(GatehouseKey.policyDecision, "redact")]
                )
            ],
            status: .error("upstream failed")
        )
        #expect(TraceRunSummary(root: spans[0], agent: "demo", spans: errorOnly).status == .error)
        let clean = [spans[0], spans[1], spans[4]]
        #expect(TraceRunSummary(root: spans[0], agent: "demo", spans: clean).status == .ok)
        // A guardrail span's own decision counts as well as a decision event.
        let guardrail = SpanRecord(
            traceID: SampleRun.traceID,
            spanID: "00000000000000g1",
            parentSpanID: "00000000000000r1",
            name: "apply_guardrail prompt",
            kind: .internal,
            startNanoseconds: SampleRun.start,
            endNanoseconds: SampleRun.start,
            attributes: [
                SpanAttribute(GenAIKey.operationName, "apply_guardrail"),
                SpanAttribute(GatehouseKey.policyDecision, "block"),
            ]
        )
        let blocked = TraceRunSummary(root: spans[0], agent: "demo", spans: clean + [guardrail])
        #expect(blocked.denialCount == 1 && blocked.status == .denied)
    }

    @Test func aRunIsSummedOverItsRootsSubtreeOnly() throws {
        var spans = SampleRun.spans
        // A second run in the same trace (a caller that keeps its traceparent across runs).
        spans.append(
            SpanRecord(
                traceID: SampleRun.traceID,
                spanID: "00000000000000r2",
                parentSpanID: nil,
                name: "invoke_agent demo",
                kind: .internal,
                startNanoseconds: SampleRun.start + 2000 * SampleRun.ms,
                endNanoseconds: SampleRun.start + 2100 * SampleRun.ms
            )
        )
        spans.append(
            SpanRecord(
                traceID: SampleRun.traceID,
                spanID: "00000000000000c3",
                parentSpanID: "00000000000000r2",
                name: "chat gpt-4o-mini",
                kind: .client,
                startNanoseconds: SampleRun.start + 2000 * SampleRun.ms,
                endNanoseconds: SampleRun.start + 2100 * SampleRun.ms,
                attributes: [SpanAttribute(GenAIKey.inputTokens, 7), SpanAttribute(GenAIKey.outputTokens, 3)]
            )
        )
        let tree = TraceSpanTree(spans)
        #expect(tree.subtree(of: "00000000000000r1").map(\.spanID).sorted() == SampleRun.spans.map(\.spanID).sorted())
        let second = tree.subtree(of: "00000000000000r2")
        #expect(second.map(\.spanID) == ["00000000000000r2", "00000000000000c3"])
        let summary = TraceRunSummary(root: second[0], agent: "demo", spans: second)
        #expect(summary.inputTokens == 7 && summary.durationNanoseconds == 100 * SampleRun.ms && summary.status == .ok)
    }

    @Test func filtersParseTheQueryAndRejectUnknownValues() throws {
        let filter = try TraceRunFilter.parse(agent: "ops", status: "denied", since: "15m").get()
        #expect(filter.agent == "ops" && filter.status == .denied && filter.since?.nanoseconds == 900_000_000_000)
        #expect(filter.limit == TraceRunFilter.defaultLimit)
        #expect(try TraceRunFilter.parse(agent: "", status: "", since: "").get() == TraceRunFilter())
        #expect(try TraceRunFilter.parse(agent: nil, status: nil, since: nil).get() == TraceRunFilter())
        #expect(TraceRunFilter.parse(agent: nil, status: "broken", since: nil) == .failure(.unknownStatus("broken")))
        #expect(TraceRunFilter.parse(agent: nil, status: nil, since: "soon") == .failure(.unknownLookback("soon")))
        #expect(TraceRunFilter(limit: 0).limit == 1 && TraceRunFilter(limit: 5000).limit == 1000)

        let spans = SampleRun.spans
        let denied = TraceRunSummary(root: spans[0], agent: "demo", spans: spans)
        #expect(TraceRunFilter(status: .denied).admits(denied))
        #expect(!TraceRunFilter(status: .ok).admits(denied))
        #expect(TraceRunFilter().admits(denied))
    }

    @Test(arguments: [
        ("30s", UInt64(30)), ("15m", 900), ("1h", 3600), ("24h", 86_400), ("7d", 604_800), ("366d", 31_622_400),
    ])
    func lookbacksReadACountAndAUnit(text: String, seconds: UInt64) throws {
        let lookback = try #require(TraceLookback(text))
        #expect(lookback.nanoseconds == seconds * 1_000_000_000)
        #expect(lookback.description == text)
        #expect(lookback.start(before: seconds * 1_000_000_000 + 5) == 5)
        #expect(lookback.start(before: 1) == 0)
    }

    @Test(arguments: ["", "h", "0m", "-5m", "5", "5w", "1.5h", "367d", "99999999999999999999s"])
    func badLookbacksAreRefused(text: String) {
        #expect(TraceLookback(text) == nil)
    }
}

@Suite("Trace viewer: formatting and the waterfall")
struct TraceWaterfallTests {
    @Test func timesDurationsMoneyAndCountsAreWrittenAlike() {
        #expect(TraceFormat.timestamp(1_700_000_000_123_000_000) == "2023-11-14 22:13:20 UTC")
        #expect(TraceFormat.isoTimestamp(1_700_000_000_123_000_000) == "2023-11-14T22:13:20.123Z")
        #expect(TraceFormat.timestamp(951_782_400_000_000_000) == "2000-02-29 00:00:00 UTC")
        #expect(TraceFormat.timestamp(0) == "1970-01-01 00:00:00 UTC")
        #expect(TraceFormat.duration(400_000) == "0.4 ms")
        #expect(TraceFormat.duration(12_300_000) == "12 ms")
        #expect(TraceFormat.duration(3_250_000_000) == "3.2 s")
        #expect(TraceFormat.duration(245_000_000_000) == "4m 05s")
        #expect(TraceFormat.duration(7_380_000_000_000) == "2h 03m")
        #expect(TraceFormat.usd(0) == "$0.00")
        #expect(TraceFormat.usd(0.00015) == "$0.00015")
        #expect(TraceFormat.usd(1.25) == "$1.25")
        #expect(TraceFormat.usd(1234.5) == "$1,234.50")
        #expect(TraceFormat.usd(.nan) == "$nan")
        #expect(TraceFormat.grouped(1_234_567) == "1,234,567")
        #expect(TraceFormat.grouped(-12) == "-12")
        #expect(TraceFormat.grouped(999) == "999")
    }

    @Test func rowsFollowTheTreeAndBarsArePercentagesOfTheRun() throws {
        let waterfall = TraceWaterfall(SampleRun.spans)
        #expect(waterfall.startNanoseconds == SampleRun.start)
        #expect(waterfall.durationNanoseconds == 1000 * SampleRun.ms)
        #expect(
            waterfall.rows.map(\.span.spanID) == [
                "00000000000000r1", "00000000000000c1", "00000000000000t1", "00000000000000u1", "00000000000000c2",
            ]
        )
        #expect(waterfall.rows.map(\.depth) == [0, 1, 1, 2, 1])
        let upstream = waterfall.rows[3]
        #expect(abs(upstream.offsetPercent - 32) < 1e-9 && abs(upstream.widthPercent - 16) < 1e-9)
        #expect(waterfall.rows[0].offsetPercent == 0 && waterfall.rows[0].widthPercent == 100)
    }

    @Test func childrenAreDrawnInsideTheirParents() throws {
        let waterfall = TraceWaterfall(SampleRun.spans)
        let rows = Dictionary(uniqueKeysWithValues: waterfall.rows.map { ($0.span.spanID, $0) })
        var checked = 0
        for row in waterfall.rows {
            guard let parentID = row.span.parentSpanID, let parent = rows[parentID] else { continue }
            #expect(row.depth == parent.depth + 1)
            #expect(row.offsetPercent >= parent.offsetPercent - 1e-9)
            #expect(row.offsetPercent + row.widthPercent <= parent.offsetPercent + parent.widthPercent + 1e-9)
            checked += 1
        }
        #expect(checked == 4)
    }

    @Test func anEmptyOrInstantTraceHasNoNaNs() {
        #expect(TraceWaterfall([]).rows.isEmpty)
        let instant = SpanRecord(
            traceID: SampleRun.traceID,
            spanID: "a",
            parentSpanID: nil,
            name: "x",
            kind: .internal,
            startNanoseconds: 5,
            endNanoseconds: 5
        )
        let row = TraceWaterfall([instant]).rows[0]
        #expect(row.offsetPercent == 0 && row.widthPercent == 0)
        #expect(TraceViewerPages.percent(33.33333) == "33.333" && TraceViewerPages.percent(25) == "25")
        #expect(TraceViewerPages.percent(.nan) == "0" && TraceViewerPages.percent(250) == "100")
    }

    @Test func aParentCycleInDamagedDataEndsAndKeepsEverySpan() {
        func span(_ id: String, _ parent: String?) -> SpanRecord {
            SpanRecord(
                traceID: SampleRun.traceID,
                spanID: id,
                parentSpanID: parent,
                name: id,
                kind: .internal,
                startNanoseconds: 0,
                endNanoseconds: 1
            )
        }
        let rows = TraceWaterfall([span("a", "b"), span("b", "a"), span("c", "c")]).rows
        #expect(rows.map(\.span.spanID).sorted() == ["a", "b", "c"])
    }
}

@Suite("Trace viewer: pages")
struct TraceViewerPagesTests {
    @Test func aSpanNamedLikeAScriptIsShownAsText() throws {
        var spans = SampleRun.spans
        spans[1].name = "<script>alert(1)</script>"
        spans[1].attributes.append(SpanAttribute("note", #"" onmouseover="alert(2)"#))
        spans[1].attributes.append(SpanAttribute(GenAIKey.outputMessages, "</pre><img src=x onerror=alert(3)>"))
        let rows = spans.map { StoredSpanCoding.row($0, agent: "<b>demo</b>", isRunRoot: $0.parentSpanID == nil) }
        let detail = try #require(TraceRunDetail(rows: rows))
        let page = TraceViewerPages.runPage(detail)
        #expect(!page.contains("<script>alert(1)"))
        #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains(#"" onmouseover="alert(2)"#))
        #expect(page.contains("&quot; onmouseover=&quot;alert(2)"))
        #expect(!page.contains("<img src=x"))
        #expect(page.contains("&lt;/pre&gt;&lt;img src=x onerror=alert(3)&gt;"))
        #expect(!page.contains("<b>demo</b>") && page.contains("&lt;b&gt;demo&lt;/b&gt;"))

        let list = TraceViewerPages.runsList(
            .init(runs: [detail.summary], scannedRuns: 1, isScanCapped: false),
            form: TraceRunsForm(agent: "\"><script>x</script>", status: "<i>", since: ""),
            agents: ["<u>ops</u>"]
        )
        #expect(!list.contains("<script>x") && !list.contains("<b>demo</b>") && !list.contains("<u>ops</u>"))
        #expect(!list.contains("<i>"))
        #expect(list.contains("&lt;b&gt;demo&lt;/b&gt;") && list.contains("&quot;&gt;&lt;script&gt;x&lt;/script&gt;"))
        // The only scripts are the page's own.
        #expect(page.components(separatedBy: "<script>").count == 2)
        #expect(list.components(separatedBy: "<script>").count == 2)
    }

    @Test func theRunPageShowsTheSummaryWaterfallDecisionsAndContent() throws {
        let detail = try #require(SampleRun.detail)
        let page = TraceViewerPages.runPage(detail)
        #expect(page.hasPrefix("<!doctype html>"))
        for span in detail.spans { #expect(page.contains(">\(span.name)</span>")) }
        #expect(page.contains("<code class=\"trace-id\">\(SampleRun.traceID)</code>"))
        #expect(page.contains("320 / 80") && page.contains("$0.001") && page.contains("1.0 s"))
        #expect(page.contains("<span class=\"badge status-denied\">denied</span>"))
        // The upstream hop's bar: 320 ms into a 1000 ms run, 160 ms long.
        #expect(page.contains("style=\"left:32%;width:16%\""))
        #expect(page.contains("id=\"span-00000000000000t1\""))
        #expect(page.contains("class=\"span role-tool has-error has-denial\""))
        #expect(page.contains("<tr class=\"denial\"><td class=\"num\">+2.0 ms</td><td>apply_guardrail</td>"))
        #expect(page.contains("<code>gatehouse.policy.rule</code>=files-public"))
        #expect(page.contains("<a href=\"#span-00000000000000c1\">chat gpt-4o-mini</a>"))
        #expect(page.contains("<h3>Input messages</h3>\n<pre>[\n  {\n    &quot;role&quot;: &quot;user&quot;,"))
        #expect(!page.contains("<code>gen_ai.input.messages</code>"))
        #expect(!page.contains("http://") && !page.contains("https://"))
    }

    @Test func theRunsListLinksEveryRunAndKeepsTheFilter() throws {
        let detail = try #require(SampleRun.detail)
        let list = TraceViewerPages.runsList(
            .init(runs: [detail.summary], scannedRuns: 5000, isScanCapped: true),
            form: TraceRunsForm(agent: "demo", status: "denied", since: "1h"),
            agents: ["demo", "ops"]
        )
        #expect(list.contains("<a class=\"mono\" href=\"/ui/runs/\(SampleRun.traceID)\""))
        #expect(list.contains("<option value=\"denied\" selected>denied</option>"))
        #expect(list.contains("<option value=\"1h\" selected>Last 1h</option>"))
        #expect(list.contains("name=\"agent\" list=\"agent-names\" value=\"demo\""))
        #expect(list.contains("<option value=\"ops\">"))
        #expect(list.contains("<td class=\"num\">320</td><td class=\"num\">80</td><td class=\"num\">$0.001</td>"))
        #expect(list.contains("the status filter looked at the newest 5000 runs only"))
        let empty = TraceViewerPages.runsList(.init(), form: TraceRunsForm(), agents: [], problem: "Unknown <x>")
        #expect(empty.contains("No runs match") && empty.contains("Unknown &lt;x&gt;"))
    }

    @Test func signInAndNotFoundPagesEscapeWhatTheyEcho() {
        let signIn = TraceViewerPages.signInPage(problem: "<bad>")
        #expect(signIn.contains("<form class=\"signin\" method=\"post\" action=\"/ui/login\">"))
        #expect(signIn.contains("type=\"password\" name=\"token\""))
        #expect(signIn.contains("&lt;bad&gt;") && !signIn.contains("Sign out"))
        let missing = TraceViewerPages.notFoundPage("No run <x>")
        #expect(missing.contains("No run &lt;x&gt;") && missing.contains("Sign out"))
    }

    @Test func idsInLinksArePercentEncoded() {
        #expect(HTMLText.pathSegment("ab/../c d?") == "ab%2F..%2Fc%20d%3F")
        #expect(HTMLText.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}

@Suite("Trace viewer: terminal text")
struct TraceTerminalTextTests {
    @Test func runsAreATableWithAlignedColumns() throws {
        let detail = try #require(SampleRun.detail)
        let text = TraceTerminalText.runsTable([detail.summary])
        #expect(
            text == """
                TRACE                             AGENT  STARTED                  DURATION  TOKENS IN  TOKENS OUT    COST  ERRORS  DENIALS  STATUS
                4bf92f3577b34da6a3ce929d0e0e4736  demo   2023-11-14 22:13:20 UTC     1.0 s        320          80  $0.001       1        1  denied
                """
        )
        #expect(TraceTerminalText.runsTable([]).hasPrefix("TRACE  AGENT  STARTED"))
    }

    @Test func aRunIsItsSummaryThenItsTree() throws {
        let detail = try #require(SampleRun.detail)
        #expect(
            TraceTerminalText.runReport(detail) == """
                trace     4bf92f3577b34da6a3ce929d0e0e4736
                agent     demo
                status    denied
                started   2023-11-14 22:13:20 UTC
                duration  1.0 s
                tokens    320 in / 80 out
                cost      $0.001
                errors    1
                denials   1
                spans     5

                invoke_agent demo  +0.0 ms, 1000.0 ms
                  chat gpt-4o-mini  +0.0 ms, 300.0 ms  [tokens 120 in / 30 out, cost $0.0004, finish tool_calls]
                  tools/call notes__add  +310.0 ms, 190.0 ms  [tool call call_1, error: denied by policy, deny by rule files-public]
                    tools/call add  +320.0 ms, 160.0 ms
                  chat gpt-4o-mini  +510.0 ms, 490.0 ms  [tokens 200 in / 50 out, cost $0.0006]
                """
        )
    }
}

@Suite("Trace viewer: the catalog over a real store")
struct TraceRunCatalogTests {
    private func withStore(_ body: (Store) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-viewer-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await Store.open(
            path: folder.appendingPathComponent("g.db").path,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    /// A run of `agent` at `start`, with `error` making its one chat fail.
    private func run(_ index: Int, agent: String, start: UInt64, error: Bool) -> [StoredSpan] {
        let trace = "ab000000" + String(format: "%08x", index) + "0000000000000000"
        let root = SpanRecord(
            traceID: trace,
            spanID: "r\(index)",
            parentSpanID: nil,
            name: "invoke_agent \(agent)",
            kind: .internal,
            startNanoseconds: start,
            endNanoseconds: start + 10
        )
        let chat = SpanRecord(
            traceID: trace,
            spanID: "c\(index)",
            parentSpanID: "r\(index)",
            name: "chat m",
            kind: .client,
            startNanoseconds: start,
            endNanoseconds: start + 5,
            attributes: [SpanAttribute(GenAIKey.inputTokens, index), SpanAttribute(GenAIKey.outputTokens, 1)],
            status: error ? .error("boom") : .unset
        )
        return [
            StoredSpanCoding.row(root, agent: agent, isRunRoot: true),
            StoredSpanCoding.row(chat, agent: agent, isRunRoot: false),
        ]
    }

    @Test func listsFilterByAgentTimeAndStatusAcrossPages() async throws {
        try await withStore { store in
            let now: UInt64 = 10_000_000_000_000
            var rows: [StoredSpan] = []
            // 250 runs a second apart, newest last; every 50th fails; the even ones are ops's.
            for index in 0..<250 {
                rows += run(
                    index,
                    agent: index % 2 == 0 ? "ops" : "demo",
                    start: now - UInt64(250 - index) * 1_000_000_000,
                    error: index % 50 == 0
                )
            }
            try await store.recordSpans(rows)
            let catalog = TraceRunCatalog(store: store)

            let newest = try await catalog.runs(TraceRunFilter(limit: 3), nowNanoseconds: now)
            #expect(newest.runs.map(\.inputTokens) == [249, 248, 247])
            #expect(newest.runs.allSatisfy { $0.spanCount == 2 && $0.outputTokens == 1 })

            let demo = try await catalog.runs(TraceRunFilter(agent: "demo", limit: 2), nowNanoseconds: now)
            #expect(demo.runs.map(\.agent) == ["demo", "demo"] && demo.runs.map(\.inputTokens) == [249, 247])

            let recent = try await catalog.runs(TraceRunFilter(since: TraceLookback("10s")), nowNanoseconds: now)
            #expect(recent.runs.count == 10)

            // The failed runs sit on several pages of 100: all five are found, newest first.
            let failed = try await catalog.runs(TraceRunFilter(status: .error), nowNanoseconds: now)
            #expect(failed.runs.map(\.inputTokens) == [200, 150, 100, 50, 0])
            #expect(failed.scannedRuns == 250 && !failed.isScanCapped)
            let firstTwo = try await catalog.runs(TraceRunFilter(status: .error, limit: 2), nowNanoseconds: now)
            #expect(firstTwo.runs.map(\.inputTokens) == [200, 150] && firstTwo.scannedRuns == 100)
            let ok = try await catalog.runs(TraceRunFilter(status: .ok, limit: 1000), nowNanoseconds: now)
            #expect(ok.runs.count == 245)
        }
    }

    @Test func aRunIsFoundByItsIdOrAUniqueAbbreviation() async throws {
        try await withStore { store in
            try await store.recordSpans(SampleRun.rows)
            try await store.recordSpans(run(1, agent: "demo", start: 5, error: false))
            try await store.recordSpans(run(2, agent: "demo", start: 6, error: false))
            let catalog = TraceRunCatalog(store: store)
            #expect(try await catalog.resolve(SampleRun.traceID) == .found(traceID: SampleRun.traceID))
            #expect(try await catalog.resolve("4BF92F35") == .found(traceID: SampleRun.traceID))
            #expect(
                try await catalog.resolve("ab000000")
                    == .ambiguous(["ab000000000000010000000000000000", "ab000000000000020000000000000000"])
            )
            #expect(
                try await catalog.resolve("ab0000000000000")
                    == .ambiguous(["ab000000000000010000000000000000", "ab000000000000020000000000000000"])
            )
            #expect(
                try await catalog.resolve("AB00000000000001") == .found(traceID: "ab000000000000010000000000000000")
            )
            #expect(try await catalog.resolve("ffffffff") == .notFound)
            #expect(try await catalog.resolve("4bf92f3") == .invalid)
            #expect(try await catalog.resolve("4bf92f35%") == .invalid)
            #expect(try await catalog.resolve(SampleRun.traceID + "0") == .invalid)

            let detail = try #require(try await catalog.run(traceID: SampleRun.traceID))
            #expect(detail == SampleRun.detail)
            #expect(detail.spans.count == 5 && detail.summary.status == .denied)
            #expect(try await catalog.run(traceID: "ffffffffffffffffffffffffffffffff") == nil)
        }
    }
}
