/// What `gatehouse traces list` and `gatehouse traces show` print: the runs as a table, a run as
/// its summary and then its tree. Plain text, no colours, so it pipes and greps.
public enum TraceTerminalText {
    /// One line per run under a header; text columns left-aligned, numbers right-aligned.
    public static func runsTable(_ runs: [TraceRunSummary]) -> String {
        let header = [
            "TRACE", "AGENT", "STARTED", "DURATION", "TOKENS IN", "TOKENS OUT", "COST", "ERRORS", "DENIALS", "STATUS",
        ]
        let isNumeric = [false, false, false, true, true, true, true, true, true, false]
        let rows = runs.map { run in
            [
                run.traceID, run.agent, TraceFormat.timestamp(run.startNanoseconds),
                TraceFormat.duration(run.durationNanoseconds), TraceFormat.grouped(run.inputTokens),
                TraceFormat.grouped(run.outputTokens), TraceFormat.usd(run.costUSD), String(run.errorCount),
                String(run.denialCount), run.status.rawValue,
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { cells in
            cells.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - cells[column].count)
                return isNumeric[column] ? padding + cells[column] : cells[column] + padding
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    /// The run's summary as `label value` lines, a blank line, then `TraceTree.render` of its spans.
    /// The root's name appears once, at the top of the tree, so a reader (or a script) that looks
    /// for a span's name finds only the span.
    public static func runReport(_ run: TraceRunDetail) -> String {
        let summary = run.summary
        let facts: [(String, String)] = [
            ("trace", summary.traceID),
            ("agent", summary.agent),
            ("status", summary.status.rawValue),
            ("started", TraceFormat.timestamp(summary.startNanoseconds)),
            ("duration", TraceFormat.duration(summary.durationNanoseconds)),
            (
                "tokens",
                "\(TraceFormat.grouped(summary.inputTokens)) in / \(TraceFormat.grouped(summary.outputTokens)) out"
            ),
            ("cost", TraceFormat.usd(summary.costUSD)),
            ("errors", String(summary.errorCount)),
            ("denials", String(summary.denialCount)),
            ("spans", String(summary.spanCount)),
        ]
        let width = facts.map(\.0.count).max() ?? 0
        let lines = facts.map { label, value in
            label + String(repeating: " ", count: width - label.count + 2) + value
        }
        return lines.joined(separator: "\n") + "\n\n" + TraceTree.render(run.spans)
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
