/// One step of a `StreamScanner`: what to release and whether a match was found.
public struct StreamScanStep: Sendable, Equatable {
    /// Text the client may get now.
    public let release: String
    /// Non-nil once a match is found; from then on every step releases "". Its range refers to
    /// the scanner's internal window: only `detector` and `placeholder` are meaningful.
    public let match: DetectorMatch?

    public init(release: String, match: DetectorMatch?) {
        self.release = release
        self.match = match
    }
}

/// Scanning a streamed completion: deltas go in one at a time, and what comes out is the text the
/// client may have now. A pattern can arrive split across deltas, so the last `holdBack` visible
/// characters stay held until the next delta (or `finish`) shows whether they start a match.
/// Each feed scans only a window: the last `holdBack` released characters (for word boundaries,
/// never released again), the held-back tail and the new delta, never the whole history.
///
/// A word-like token still growing at the end of the window (a JWT, a `github_pat_`, a key) is
/// held whole, up to 16 × `holdBack` characters, since its detection may need all of it.
///
/// Guarantees: with no match, the concatenated releases equal the concatenated input. No part of
/// a match is released when its detection needs at most `holdBack` characters, or when it is one
/// token (no spaces) of at most 16 × `holdBack` characters. A match that reaches the end of the
/// window, or ends fewer than three characters before it, may still grow or vanish with the next
/// delta (`1.2.3.4` becoming `1.2.3.4.5`), so it is reported once settled; its text stays held.
public struct StreamScanner: Sendable {
    private let detectors: DetectorSet
    private let holdBack: Int
    /// The tail of the released text, scanned again for context only.
    private var context = ""
    /// Text received and not released.
    private var pending = ""
    private var found: DetectorMatch?

    /// A token still growing at the end of the window (a JWT, a `github_pat_`, a base64 run) is
    /// held whole, up to this many times `holdBack` characters: its detection may need all of it.
    private static let tokenHoldFactor = 16

    /// Visible characters after a match that settle it (`1.2.3.4` + `.5`, `you are now` + `here`).
    private static let settleDistance = 3

    /// - Parameter holdBack: visible characters (Unicode scalars, not counting the invisible ones
    ///   `NormalizedText` removes, so padding cannot push a pattern out of view) held until the
    ///   next delta. Negative values count as 0.
    public init(detectors: DetectorSet, holdBack: Int = 64) {
        self.detectors = detectors
        self.holdBack = max(0, holdBack)
    }

    public mutating func feed(_ delta: String) -> StreamScanStep {
        step(delta, finishing: false)
    }

    /// Releases the held-back tail, or the text before a match in it. The scanner can be fed again
    /// afterwards (it then continues as if the stream had not ended).
    public mutating func finish() -> StreamScanStep {
        step("", finishing: true)
    }

    private mutating func step(_ delta: String, finishing: Bool) -> StreamScanStep {
        if let found { return StreamScanStep(release: "", match: found) }
        if detectors.isEmpty {
            let release = pending + delta
            pending = ""
            return StreamScanStep(release: release, match: nil)
        }
        let window = context + pending + delta
        let scalars = window.unicodeScalars
        let contextEnd = window.utf8.index(window.utf8.startIndex, offsetBy: context.utf8.count)
        var holdStart = window.endIndex
        if !finishing {
            holdStart = Self.index(scalars, visibleFromEnd: holdBack)
            if let token = Self.trailingTokenStart(scalars, limit: holdBack * Self.tokenHoldFactor) {
                holdStart = min(holdStart, token)
            }
            holdStart = max(contextEnd, holdStart)
        }
        var releaseEnd = holdStart
        let match = detectors.scan(window).first { $0.range.upperBound > contextEnd }
        if let match {
            let settled =
                finishing || match.range.lowerBound < holdStart
                || match.range.upperBound <= Self.index(scalars, visibleFromEnd: Self.settleDistance)
            if settled {
                found = match
                let release = String(window[contextEnd..<max(contextEnd, match.range.lowerBound)])
                context = ""
                pending = ""
                return StreamScanStep(release: release, match: match)
            }
            releaseEnd = min(releaseEnd, match.range.lowerBound)
        }
        let release = String(window[contextEnd..<releaseEnd])
        pending = String(window[releaseEnd...])
        let released = window[..<releaseEnd].unicodeScalars
        context = String(released[Self.index(released, visibleFromEnd: holdBack)...])
        return StreamScanStep(release: release, match: nil)
    }

    /// The start of the token ([A-Za-z0-9+/=_.-], invisible characters inside it included) that
    /// runs to the end of `scalars`, when it has at most `limit` visible characters.
    private static func trailingTokenStart(_ scalars: String.UnicodeScalarView, limit: Int) -> String.Index? {
        var index = scalars.endIndex
        var count = 0
        var walked = 0
        while index > scalars.startIndex {
            let before = scalars.index(before: index)
            let value = scalars[before].value
            walked += 1
            if walked > 2 * limit + 64 { return nil }
            if NormalizedText.isInvisible(value) {
                index = before
                continue
            }
            guard value < 0x80,
                UInt8(value).isKeyChar || value == 0x2B || value == 0x2F || value == 0x3D || value == 0x2E
            else { break }
            count += 1
            if count > limit { return nil }
            index = before
        }
        return index
    }

    /// The index `count` visible scalars before the end of `scalars` (its start if there are fewer).
    /// Invisible scalars are passed over without counting, up to 8 × `count` + 64 scalars in all,
    /// so endless padding cannot make the held-back tail (and each rescan) grow without bound.
    private static func index<Scalars: BidirectionalCollection<Unicode.Scalar>>(
        _ scalars: Scalars,
        visibleFromEnd count: Int
    ) -> Scalars.Index {
        var index = scalars.endIndex
        var remaining = count
        var budget = 8 * count + 64
        while remaining > 0, budget > 0, index > scalars.startIndex {
            scalars.formIndex(before: &index)
            budget -= 1
            if !NormalizedText.isInvisible(scalars[index].value) { remaining -= 1 }
        }
        return index
    }
}
