/// A trace laid out as a waterfall: one row per span, in tree order (each span under its parent,
/// siblings by start), with its bar as percentages of the trace's extent.
public struct TraceWaterfall: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var span: SpanRecord
        /// 0 for a span whose parent is not in the trace (the run's root, or an orphan).
        public var depth: Int
        /// Where the bar starts, from 0 (the trace's start) to 100.
        public var offsetPercent: Double
        /// How long the bar is, from 0 to 100 (an instant is 0: the page draws a minimum width).
        public var widthPercent: Double
    }

    public var rows: [Row]
    public var startNanoseconds: UInt64
    public var durationNanoseconds: UInt64

    public init(_ spans: [SpanRecord]) {
        let start = spans.map(\.startNanoseconds).min() ?? 0
        let end = spans.map(\.endNanoseconds).max() ?? start
        self.startNanoseconds = start
        self.durationNanoseconds = end - start
        let extent = Double(end - start)
        func percent(_ nanoseconds: UInt64) -> Double {
            extent > 0 ? min(100, Double(nanoseconds) / extent * 100) : 0
        }
        self.rows = TraceSpanTree(spans).ordered.map { span, depth in
            Row(
                span: span,
                depth: depth,
                offsetPercent: percent(span.startNanoseconds - start),
                widthPercent: percent(span.endNanoseconds - span.startNanoseconds)
            )
        }
    }
}

/// Spans arranged under their parents. A span whose parent is missing (the caller's span outside
/// Gatehouse, or a parent not stored yet) is a root; a cycle in bad data cannot loop, since each
/// span is visited once.
struct TraceSpanTree {
    private(set) var roots: [SpanRecord] = []
    private(set) var children: [String: [SpanRecord]] = [:]
    private var byID: [String: SpanRecord] = [:]

    init(_ spans: [SpanRecord]) {
        for span in spans { byID[span.spanID] = span }
        for span in spans.sorted(by: Self.startOrder) {
            if let parent = span.parentSpanID, parent != span.spanID, byID[parent] != nil {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
    }

    /// Depth-first, each span after its parent; spans only reachable through a cycle come last, at
    /// depth 0. Iterative, so a long parent chain in a damaged store cannot exhaust the stack.
    var ordered: [(span: SpanRecord, depth: Int)] {
        var visited: Set<String> = []
        var result: [(span: SpanRecord, depth: Int)] = []
        let leftovers = children.values.joined().sorted(by: Self.startOrder)
        for top in roots + leftovers where !visited.contains(top.spanID) {
            var pending = [(span: top, depth: 0)]
            while let (span, depth) = pending.popLast() {
                guard visited.insert(span.spanID).inserted else { continue }
                result.append((span, depth))
                // Reversed, so the earliest child is popped first.
                for child in (children[span.spanID] ?? []).reversed() { pending.append((child, depth + 1)) }
            }
        }
        return result
    }

    /// A span and everything under it.
    func subtree(of spanID: String) -> [SpanRecord] {
        guard let top = byID[spanID] else { return [] }
        var visited: Set<String> = [spanID]
        var result = [top]
        var index = 0
        while index < result.count {
            for child in children[result[index].spanID] ?? [] where visited.insert(child.spanID).inserted {
                result.append(child)
            }
            index += 1
        }
        return result
    }

    private static func startOrder(_ first: SpanRecord, _ second: SpanRecord) -> Bool {
        (first.startNanoseconds, first.spanID) < (second.startNanoseconds, second.spanID)
    }
}
