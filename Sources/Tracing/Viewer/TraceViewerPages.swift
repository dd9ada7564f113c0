internal import GatehouseJSON

/// The filter form's values as the request sent them, echoed back into the form even when they
/// do not parse (the page then says what is wrong with them).
public struct TraceRunsForm: Sendable, Equatable {
    public var agent: String
    public var status: String
    public var since: String

    public init(agent: String = "", status: String = "", since: String = "") {
        self.agent = agent
        self.status = status
        self.since = since
    }
}

/// The trace viewer's pages as HTML text: the runs list, a run's waterfall, the sign-in form and
/// the not-found page. Pure: the executable serves them, under `basePath` (`/ui`), behind the admin
/// token. Self-contained (inline CSS, a few lines of inline script, no fonts, images or other
/// requests), so they work offline and under a `default-src 'none'` policy. Every value that came
/// from a trace or a request is escaped.
public enum TraceViewerPages {
    public static let basePath = "/ui"

    /// The runs list: the filter form, then one row per run, newest first.
    public static func runsList(
        _ listing: TraceRunCatalog.Listing,
        form: TraceRunsForm,
        agents: [String],
        problem: String? = nil
    ) -> String {
        var body = "<h1>Runs</h1>\n"
        body += filterForm(form, agents: agents)
        if let problem { body += "<p class=\"problem\" role=\"alert\">\(HTMLText.escape(problem))</p>\n" }
        if listing.runs.isEmpty {
            body += "<p class=\"empty muted\">No runs match. Runs appear here when they end.</p>\n"
        } else {
            body += runsTable(listing.runs)
            let noun = listing.runs.count == 1 ? "run" : "runs"
            var footer = "\(listing.runs.count) \(noun)"
            if listing.isScanCapped {
                footer += "; the status filter looked at the newest \(listing.scannedRuns) runs only"
            }
            body += "<p class=\"muted footnote\">\(footer).</p>\n"
        }
        return page(title: "Runs", body: body, isSignedIn: true)
    }

    /// A run: its summary, the waterfall of its spans, and each span's detail (attributes,
    /// decisions and other events, links, captured content) behind a click.
    public static func runPage(_ run: TraceRunDetail) -> String {
        let summary = run.summary
        var body = "<nav class=\"crumbs\"><a href=\"\(basePath)\">\u{2190} Runs</a></nav>\n"
        body += "<h1>\(HTMLText.escape(summary.name))</h1>\n"
        body += summaryList(summary)
        body += waterfall(TraceWaterfall(run.spans), allSpans: run.spans)
        return page(title: summary.name, body: body, isSignedIn: true)
    }

    /// The sign-in form (a password field for the admin token), with what went wrong last time.
    public static func signInPage(problem: String? = nil) -> String {
        var body = "<form class=\"signin\" method=\"post\" action=\"\(basePath)/login\">\n<h1>Trace viewer</h1>\n"
        body += "<p class=\"muted\">Sign in with the gateway's admin token.</p>\n"
        if let problem { body += "<p class=\"problem\" role=\"alert\">\(HTMLText.escape(problem))</p>\n" }
        body += """
            <label>Admin token <input type="password" name="token" autocomplete="current-password" \
            required autofocus></label>
            <button class="primary" type="submit">Sign in</button>
            </form>

            """
        return page(title: "Sign in", body: body, isSignedIn: false)
    }

    /// A run that is not in the store, or any other page that does not exist.
    public static func notFoundPage(_ message: String, isSignedIn: Bool = true) -> String {
        let body = """
            <nav class="crumbs"><a href="\(basePath)">\u{2190} Runs</a></nav>
            <h1>Not found</h1>
            <p>\(HTMLText.escape(message))</p>

            """
        return page(title: "Not found", body: body, isSignedIn: isSignedIn)
    }

    // MARK: - The runs list

    private static func filterForm(_ form: TraceRunsForm, agents: [String]) -> String {
        func options(_ values: [(value: String, label: String)], selected: String) -> String {
            var choices = values
            if !selected.isEmpty, !values.contains(where: { $0.value == selected }) {
                choices.append((selected, selected))
            }
            return choices.map { choice in
                let mark = choice.value == selected ? " selected" : ""
                return
                    "<option value=\"\(HTMLText.escape(choice.value))\"\(mark)>\(HTMLText.escape(choice.label))</option>"
            }.joined()
        }
        let statuses = [("", "Any")] + TraceRunStatus.allCases.map { ($0.rawValue, $0.rawValue) }
        let windows = [("", "Any time")] + TraceLookback.presets.map { ($0, "Last \($0)") }
        let suggestions = agents.map { "<option value=\"\(HTMLText.escape($0))\">" }.joined()
        return """
            <form class="filters" method="get" action="\(basePath)">
            <label>Agent <input name="agent" list="agent-names" value="\(HTMLText.escape(form.agent))" \
            placeholder="any agent"></label>
            <datalist id="agent-names">\(suggestions)</datalist>
            <label>Status <select name="status">\(options(statuses, selected: form.status))</select></label>
            <label>Started <select name="since">\(options(windows, selected: form.since))</select></label>
            <button class="primary" type="submit">Filter</button>
            <a class="reset" href="\(basePath)">Reset</a>
            </form>

            """
    }

    private static func runsTable(_ runs: [TraceRunSummary]) -> String {
        var html = """
            <table class="runs">
            <thead><tr><th>Run</th><th>Agent</th><th>Started</th><th class="num">Duration</th>\
            <th class="num">Tokens in</th><th class="num">Tokens out</th><th class="num">Cost</th>\
            <th class="num">Errors</th><th class="num">Denials</th><th>Status</th></tr></thead>
            <tbody>

            """
        for run in runs {
            let link = "\(basePath)/runs/\(HTMLText.escape(HTMLText.pathSegment(run.traceID)))"
            html += "<tr>"
            html += "<td><a class=\"mono\" href=\"\(link)\" title=\"\(HTMLText.escape(run.traceID))\">"
            html += "\(HTMLText.escape(String(run.traceID.prefix(12))))</a></td>"
            html += "<td>\(HTMLText.escape(run.agent))</td>"
            html += "<td>\(time(run.startNanoseconds))</td>"
            html += "<td class=\"num\">\(TraceFormat.duration(run.durationNanoseconds))</td>"
            html += "<td class=\"num\">\(TraceFormat.grouped(run.inputTokens))</td>"
            html += "<td class=\"num\">\(TraceFormat.grouped(run.outputTokens))</td>"
            html += "<td class=\"num\">\(TraceFormat.usd(run.costUSD))</td>"
            html += "<td class=\"num\(run.errorCount > 0 ? " bad" : "")\">\(run.errorCount)</td>"
            html += "<td class=\"num\(run.denialCount > 0 ? " bad" : "")\">\(run.denialCount)</td>"
            html += "<td>\(statusBadge(run.status))</td>"
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    // MARK: - A run

    private static func summaryList(_ summary: TraceRunSummary) -> String {
        let items: [(String, String)] = [
            ("Agent", HTMLText.escape(summary.agent)),
            ("Status", statusBadge(summary.status)),
            ("Started", time(summary.startNanoseconds)),
            ("Duration", TraceFormat.duration(summary.durationNanoseconds)),
            (
                "Tokens in / out",
                "\(TraceFormat.grouped(summary.inputTokens)) / \(TraceFormat.grouped(summary.outputTokens))"
            ),
            ("Cost", TraceFormat.usd(summary.costUSD)),
            ("Errors", String(summary.errorCount)),
            ("Denials", String(summary.denialCount)),
            ("Spans", String(summary.spanCount)),
            ("Trace", "<code class=\"trace-id\">\(HTMLText.escape(summary.traceID))</code>"),
        ]
        let entries = items.map { "<div><dt>\($0.0)</dt><dd>\($0.1)</dd></div>" }.joined(separator: "\n")
        return "<dl class=\"summary\">\n\(entries)\n</dl>\n"
    }

    private static func waterfall(_ waterfall: TraceWaterfall, allSpans: [SpanRecord]) -> String {
        let names = Dictionary(allSpans.map { ($0.spanID, $0.name) }, uniquingKeysWith: { first, _ in first })
        var html = """
            <section class="waterfall" aria-label="Spans">
            <div class="wf-tools"><button type="button" data-expand="all">Expand all</button>\
            <button type="button" data-expand="none">Collapse all</button></div>
            <div class="wf-head"><span>Span</span><span class="wf-scale">
            """
        for quarter in 0...4 {
            let label = TraceFormat.duration(waterfall.durationNanoseconds / 4 * UInt64(quarter))
            html += "<span style=\"left:\(quarter * 25)%\">\(label)</span>"
        }
        html += "</span><span class=\"num\">Duration</span></div>\n"
        for row in waterfall.rows {
            html += spanRow(row, traceStart: waterfall.startNanoseconds, names: names)
        }
        return html + "</section>\n"
    }

    private static func spanRow(_ row: TraceWaterfall.Row, traceStart: UInt64, names: [String: String]) -> String {
        let span = row.span
        let denials = DecisionAttributes.denialCount(span)
        var classes = ["span", "role-\(role(span))"]
        if case .error = span.status { classes.append("has-error") }
        if denials > 0 { classes.append("has-denial") }
        var marks = ""
        if case .error = span.status { marks += "<span class=\"mark mark-error\" title=\"error\">error</span>" }
        if denials > 0 { marks += "<span class=\"mark mark-denial\" title=\"denied by policy\">denied</span>" }
        let spanID = HTMLText.escape(span.spanID)
        var html = "<details class=\"\(classes.joined(separator: " "))\" id=\"span-\(spanID)\">\n"
        html += "<summary class=\"wf-row\">"
        html += "<span class=\"wf-name\" style=\"padding-left:\(Double(row.depth) * 1.25)rem\">"
        html += "<span class=\"kind\">\(HTMLText.escape(span.kind.rawValue))</span> "
        html += "<span class=\"name\" title=\"\(HTMLText.escape(span.name))\">\(HTMLText.escape(span.name))</span>"
        html += "\(marks)</span>"
        html += "<span class=\"wf-track\"><span class=\"wf-bar\" style=\"left:\(percent(row.offsetPercent))%;"
        html += "width:\(percent(row.widthPercent))%\"></span></span>"
        html +=
            "<span class=\"num wf-duration\">\(TraceFormat.duration(span.endNanoseconds - span.startNanoseconds))</span>"
        html += "</summary>\n"
        html += spanDetail(span, traceStart: traceStart, names: names)
        return html + "</details>\n"
    }

    private static func spanDetail(_ span: SpanRecord, traceStart: UInt64, names: [String: String]) -> String {
        var html = "<div class=\"detail\">\n<p class=\"meta\">"
        var facts = [
            "span <code>\(HTMLText.escape(span.spanID))</code>",
            "started \(TraceFormat.offset(span.startNanoseconds - min(traceStart, span.startNanoseconds)))",
        ]
        if let parent = span.parentSpanID {
            facts.append("parent <code>\(HTMLText.escape(parent))</code>")
        }
        switch span.status {
        case .unset: break
        case .ok: facts.append("status ok")
        case .error(let message): facts.append("<span class=\"bad\">error: \(HTMLText.escape(message))</span>")
        }
        html += facts.joined(separator: " · ") + "</p>\n"

        let content = span.attributes.filter { contentKeys.keys.contains($0.key) }
        let plain = span.attributes.filter { !contentKeys.keys.contains($0.key) }
        if !plain.isEmpty {
            html += "<h3>Attributes</h3>\n" + attributeTable(plain)
        }
        if !span.events.isEmpty {
            html += "<h3>Decisions and events</h3>\n<table class=\"events\">\n<tbody>\n"
            for event in span.events {
                let offset = TraceFormat.offset(
                    event.timeNanoseconds - min(span.startNanoseconds, event.timeNanoseconds)
                )
                let decision = DecisionAttributes.isDenial(event.attributes) ? " class=\"denial\"" : ""
                html += "<tr\(decision)><td class=\"num\">\(offset)</td><td>\(HTMLText.escape(event.name))</td><td>"
                html += event.attributes.map { attribute in
                    "<code>\(HTMLText.escape(attribute.key))</code>=\(HTMLText.escape(text(attribute.value)))"
                }.joined(separator: "<br>")
                html += "</td></tr>\n"
            }
            html += "</tbody>\n</table>\n"
        }
        if !span.links.isEmpty {
            html += "<h3>Links</h3>\n<ul class=\"links\">\n"
            for link in span.links {
                let target = HTMLText.escape(link.spanID)
                if link.traceID == span.traceID, let name = names[link.spanID] {
                    html += "<li><a href=\"#span-\(target)\">\(HTMLText.escape(name))</a> "
                    html += "<code>\(target)</code></li>\n"
                } else {
                    html += "<li>trace <code>\(HTMLText.escape(link.traceID))</code> span <code>\(target)</code></li>\n"
                }
            }
            html += "</ul>\n"
        }
        for attribute in content {
            html += "<h3>\(HTMLText.escape(contentKeys[attribute.key] ?? attribute.key))</h3>\n"
            html += "<pre>\(HTMLText.escape(prettyJSON(text(attribute.value))))</pre>\n"
        }
        return html + "</div>\n"
    }

    private static func attributeTable(_ attributes: [SpanAttribute]) -> String {
        var html = "<table class=\"attributes\">\n<tbody>\n"
        for attribute in attributes {
            html += "<tr><th><code>\(HTMLText.escape(attribute.key))</code></th>"
            html += "<td>\(HTMLText.escape(text(attribute.value)))</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    /// Captured content (present only when a policy turned capture on), shown in full below the attributes.
    private static let contentKeys: [String: String] = [
        GenAIKey.inputMessages: "Input messages",
        GenAIKey.outputMessages: "Output messages",
        GenAIKey.toolCallArguments: "Tool call arguments",
        GenAIKey.toolCallResult: "Tool call result",
    ]

    // MARK: - Pieces

    /// What a span stands for, which picks its colour: the run, an LLM call, the agent's tool call,
    /// the upstream hop, a guardrail, or anything else.
    static func role(_ span: SpanRecord) -> String {
        switch span[attribute: GenAIKey.operationName] {
        case .string("invoke_agent")?: return "agent"
        case .string("chat")?, .string("text_completion")?, .string("generate_content")?, .string("embeddings")?:
            return "llm"
        case .string("execute_tool")?: return "tool"
        case .string("apply_guardrail")?: return "guardrail"
        default:
            if span[attribute: GatehouseKey.policyRule] != nil { return "guardrail" }
            return span.kind == .client ? "upstream" : "other"
        }
    }

    private static func statusBadge(_ status: TraceRunStatus) -> String {
        "<span class=\"badge status-\(status.rawValue)\">\(status.rawValue)</span>"
    }

    private static func time(_ nanoseconds: UInt64) -> String {
        "<time datetime=\"\(TraceFormat.isoTimestamp(nanoseconds))\">\(TraceFormat.timestamp(nanoseconds))</time>"
    }

    /// A percentage with at most three decimals, as CSS reads it.
    static func percent(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let thousandths = Int((min(max(value, 0), 100) * 1000).rounded())
        let fraction = thousandths % 1000
        guard fraction != 0 else { return String(thousandths / 1000) }
        var digits = TraceFormat.pad(UInt64(fraction), 3)
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(thousandths / 1000).\(digits)"
    }

    static func text(_ value: SpanAttribute.Value) -> String {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return String(flag)
        case .strings(let texts): return JSONValue.array(texts.map { .string($0) }).serializedString
        }
    }

    /// Captured content is JSON text: indented when it parses, as it is when it does not.
    static func prettyJSON(_ text: String) -> String {
        guard let value = try? JSONValue.parse(text) else { return text }
        var output: [UInt8] = []
        writeIndented(value, depth: 0, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    private static func writeIndented(_ value: JSONValue, depth: Int, into output: inout [UInt8]) {
        func newline(_ depth: Int) {
            output.append(UInt8(ascii: "\n"))
            output += Array(repeating: UInt8(ascii: " "), count: depth * 2)
        }
        switch value {
        case .array(let items) where !items.isEmpty:
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                writeIndented(item, depth: depth + 1, into: &output)
            }
            newline(depth)
            output.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            output.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(depth + 1)
                JSONValue.writeString(member.key, into: &output)
                output += Array(": ".utf8)
                writeIndented(member.value, depth: depth + 1, into: &output)
            }
            newline(depth)
            output.append(UInt8(ascii: "}"))
        default:
            value.write(into: &output)
        }
    }

    // MARK: - The page

    private static func page(title: String, body: String, isSignedIn: Bool) -> String {
        let signOut =
            isSignedIn
            ? "<form method=\"post\" action=\"\(basePath)/logout\"><button type=\"submit\">Sign out</button></form>"
            : ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(HTMLText.escape(title)) · Gatehouse</title>
            <style>\(stylesheet)</style>
            </head>
            <body>
            <header class="top"><a class="brand" href="\(basePath)">Gatehouse</a><span class="muted">traces</span>\
            \(signOut)</header>
            <main>
            \(body)</main>
            <script>\(script)</script>
            </body>
            </html>

            """
    }

    private static let stylesheet = """
        :root{color-scheme:light dark;--bg:#f6f8fa;--panel:#fff;--text:#1f2328;--muted:#656d76;--line:#d0d7de;\
        --accent:#0969da;--ok:#1a7f37;--bad:#cf222e;--deny:#bc4c00;--agent:#6e7781;--llm:#0969da;--tool:#1a7f37;\
        --upstream:#8250df;--guardrail:#9a6700;--other:#57606a}
        @media (prefers-color-scheme:dark){:root{--bg:#0d1117;--panel:#161b22;--text:#e6edf3;--muted:#8d96a0;\
        --line:#30363d;--accent:#4493f8;--ok:#3fb950;--bad:#f85149;--deny:#db6d28;--agent:#8b949e;--llm:#4493f8;\
        --tool:#3fb950;--upstream:#a371f7;--guardrail:#d29922;--other:#8b949e}}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--text);\
        font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
        a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
        .top{display:flex;align-items:center;gap:.6rem;padding:.55rem 1.5rem;background:var(--panel);\
        border-bottom:1px solid var(--line)}
        .top .brand{font-weight:650;color:var(--text)}.top form{margin-left:auto}
        main{max-width:1280px;margin:0 auto;padding:1.25rem 1.5rem 3rem}
        h1{font-size:1.35rem;margin:.25rem 0 1rem;overflow-wrap:anywhere}
        h3{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:.9rem 0 .35rem}
        .muted{color:var(--muted)}.bad{color:var(--bad)}
        .crumbs{margin-bottom:.4rem;font-size:13px}
        input,select,button{font:inherit;padding:.32rem .55rem;border:1px solid var(--line);border-radius:6px;\
        background:var(--panel);color:var(--text)}
        button{cursor:pointer}button:hover{border-color:var(--muted)}
        button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
        .filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin-bottom:1rem}
        .filters label{display:flex;flex-direction:column;gap:.2rem;font-size:12px;color:var(--muted)}
        .filters .reset{padding:.35rem 0;font-size:13px}
        .problem{padding:.55rem .8rem;border:1px solid var(--bad);border-radius:6px;color:var(--bad)}
        table{border-collapse:collapse;width:100%;background:var(--panel)}
        .runs{border-collapse:separate;border-spacing:0;border:1px solid var(--line);border-radius:8px;overflow:hidden}
        th,td{padding:.42rem .7rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        .runs td,.runs th{white-space:nowrap}
        th{font-size:12px;font-weight:600;color:var(--muted);background:var(--bg)}
        tr:last-child>td,tr:last-child>th{border-bottom:0}
        .runs tbody tr:hover{background:var(--bg)}
        .num{text-align:right;font-variant-numeric:tabular-nums}
        .footnote{font-size:12.5px}
        .badge{display:inline-block;padding:0 .5rem;border:1px solid currentColor;border-radius:999px;\
        font-size:12px;font-weight:600}
        .status-ok{color:var(--ok)}.status-error{color:var(--bad)}.status-denied{color:var(--deny)}
        .summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem 1.2rem;margin:0 0 1.25rem;\
        padding:.85rem 1rem;background:var(--panel);border:1px solid var(--line);border-radius:8px}
        .summary dt{font-size:12px;color:var(--muted)}.summary dd{margin:0;font-weight:600;overflow-wrap:anywhere}
        .summary div:last-child{grid-column:span 2}
        .waterfall{background:var(--panel);border:1px solid var(--line);border-radius:8px;overflow:hidden}
        .wf-tools{display:flex;gap:.4rem;justify-content:flex-end;padding:.5rem .75rem;border-bottom:1px solid var(--line)}
        .wf-tools button{font-size:12px;padding:.15rem .5rem}
        .wf-head,.wf-row{display:grid;grid-template-columns:minmax(15rem,36%) 1fr 5.5rem;gap:.9rem;align-items:center;\
        padding:.32rem .75rem}
        .wf-head{font-size:12px;color:var(--muted);border-bottom:1px solid var(--line);background:var(--bg)}
        .wf-scale{position:relative;height:1.1rem}
        .wf-scale span{position:absolute;top:0;transform:translateX(-50%);white-space:nowrap}
        .wf-scale span:first-child{transform:none}.wf-scale span:last-child{transform:translateX(-100%)}
        details.span{border-bottom:1px solid var(--line)}details.span:last-of-type{border-bottom:0}
        details.span>summary{list-style:none;cursor:pointer}details.span>summary::-webkit-details-marker{display:none}
        .wf-row:hover,details[open]>.wf-row{background:var(--bg)}
        .wf-name{display:flex;align-items:center;gap:.4rem;min-width:0;white-space:nowrap}
        .wf-name .name{overflow:hidden;text-overflow:ellipsis}
        .kind{flex:none;font-size:10.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);\
        border:1px solid var(--line);border-radius:4px;padding:0 .3rem}
        .mark{flex:none;font-size:11px;font-weight:600;border-radius:4px;padding:0 .3rem;color:#fff}
        .mark-error{background:var(--bad)}.mark-denial{background:var(--deny)}
        .wf-track{position:relative;height:16px;border-radius:3px;\
        background:repeating-linear-gradient(90deg,transparent 0,transparent calc(25% - 1px),var(--line) calc(25% - 1px),\
        var(--line) 25%)}
        .wf-bar{position:absolute;top:3px;bottom:3px;min-width:3px;border-radius:3px;background:var(--other)}
        .role-agent .wf-bar{background:var(--agent)}.role-llm .wf-bar{background:var(--llm)}
        .role-tool .wf-bar{background:var(--tool)}.role-upstream .wf-bar{background:var(--upstream)}
        .role-guardrail .wf-bar{background:var(--guardrail)}
        .has-error .wf-bar{background:var(--bad)}.has-denial .wf-bar{background:var(--deny)}
        .wf-duration{color:var(--muted)}
        .detail{padding:.4rem 1rem 1rem;border-top:1px dashed var(--line)}
        .detail .meta{margin:.3rem 0;color:var(--muted);font-size:12.5px}
        .detail table{border:1px solid var(--line);border-radius:6px}
        .attributes th{width:32%;background:transparent;font-weight:normal;color:var(--text)}
        .attributes td,.events td{overflow-wrap:anywhere;white-space:pre-wrap}
        .events .num{white-space:nowrap;width:7rem;color:var(--muted)}
        .events tr.denial td{color:var(--deny);font-weight:600}
        .links{margin:0;padding-left:1.2rem}
        pre{margin:0;padding:.6rem .75rem;max-height:30rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;\
        background:var(--bg);border:1px solid var(--line);border-radius:6px}
        .signin{max-width:22rem;margin:12vh auto;padding:1.5rem;background:var(--panel);border:1px solid var(--line);\
        border-radius:10px;display:flex;flex-direction:column;gap:.8rem}
        .signin label{display:flex;flex-direction:column;gap:.3rem;font-size:13px}
        .signin h1{margin:0}.signin p{margin:0}
        """

    /// Times in the reader's own zone, expand and collapse all, and a link to a span opens it.
    private static let script = """
        (function(){
        document.querySelectorAll('time[datetime]').forEach(function(t){
        var d=new Date(t.getAttribute('datetime'));if(!isNaN(d)){t.title=t.textContent;t.textContent=d.toLocaleString();}});
        document.querySelectorAll('[data-expand]').forEach(function(b){b.addEventListener('click',function(){
        var open=b.getAttribute('data-expand')==='all';
        document.querySelectorAll('details.span').forEach(function(d){d.open=open;});});});
        function reveal(){var id=decodeURIComponent(location.hash.slice(1));var d=id&&document.getElementById(id);
        if(d&&d.tagName==='DETAILS'){d.open=true;d.scrollIntoView({block:'center'});}}
        window.addEventListener('hashchange',reveal);reveal();
        })();
        """
}
