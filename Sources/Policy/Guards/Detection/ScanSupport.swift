// What the hand-written built-in scanners share: bounds-safe byte access over a UTF-8 buffer,
// ASCII classes, and the sink matches go into. The scanners work on bytes rather than
// `Character`s (grapheme breaking costs more than the scanning itself) and rather than
// `NSRegularExpression` (ICU plus bridging on Linux): they run on every prompt and completion.

/// A UTF-8 buffer whose subscript answers 0 outside its bounds, so a scanner can look ahead and
/// behind without checking (0 belongs to no class a scanner looks for).
struct ScanText {
    let bytes: UnsafeBufferPointer<UInt8>
    let count: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.count = bytes.count
    }

    @inline(__always) subscript(_ index: Int) -> UInt8 {
        index >= 0 && index < count ? bytes[index] : 0
    }

    /// Whether the bytes at `index` are `literal`, exactly.
    func has(_ literal: [UInt8], at index: Int) -> Bool {
        guard index >= 0, index + literal.count <= count else { return false }
        for offset in 0..<literal.count where bytes[index + offset] != literal[offset] {
            return false
        }
        return true
    }

    /// Whether the bytes at `index` are `literal` (lowercase) when ASCII letters are lowercased.
    func hasFolded(_ literal: [UInt8], at index: Int) -> Bool {
        guard index >= 0, index + literal.count <= count else { return false }
        for offset in 0..<literal.count where bytes[index + offset].asciiLowercased != literal[offset] {
            return false
        }
        return true
    }

    /// The first index at or after `start` holding `byte`.
    func firstIndex(of byte: UInt8, from start: Int) -> Int? {
        var index = max(0, start)
        while index < count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// The end of the run of bytes from `start` that satisfy `belongs`.
    @inline(__always) func runEnd(from start: Int, _ belongs: (UInt8) -> Bool) -> Int {
        var index = start
        while index < count, belongs(bytes[index]) { index += 1 }
        return index
    }
}

extension UInt8 {
    @inline(__always) var isDigit: Bool { self &- 0x30 < 10 }
    @inline(__always) var isLetter: Bool { (self | 0x20) &- 0x61 < 26 }
    @inline(__always) var isAlnum: Bool { isDigit || isLetter }
    @inline(__always) var isUpper: Bool { self &- 0x41 < 26 }
    @inline(__always) var isLower: Bool { self &- 0x61 < 26 }
    @inline(__always) var isHexDigit: Bool { isDigit || (self | 0x20) &- 0x61 < 6 }
    /// [A-Za-z0-9_-]: the alphabet of base64url and of most API keys.
    @inline(__always) var isKeyChar: Bool { isAlnum || self == 0x5F || self == 0x2D }
    @inline(__always) var asciiLowercased: UInt8 { isUpper ? self | 0x20 : self }
    @inline(__always) var asciiUppercased: UInt8 { isLower ? self & 0xDF : self }
    /// Space, tab, line feed, carriage return.
    @inline(__always) var isSpace: Bool { self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D }
}

/// A match in view offsets (UTF-8 of the scanned text); `detector` indexes the set's names.
struct RawMatch {
    var start: Int
    var end: Int
    var detector: Int
}

/// Collects built-in matches; in first-only mode a detector stops wanting matches after its first.
struct MatchSink {
    private let enabled: UInt32
    private let firstOnly: Bool
    private var found: UInt32 = 0
    private(set) var matches: [RawMatch] = []

    init(enabled: UInt32, firstOnly: Bool) {
        self.enabled = enabled
        self.firstOnly = firstOnly
    }

    @inline(__always) func wants(_ detector: BuiltinDetector) -> Bool {
        let bit: UInt32 = 1 << detector.ordinal
        return enabled & bit != 0 && !(firstOnly && found & bit != 0)
    }

    mutating func add(_ detector: BuiltinDetector, _ start: Int, _ end: Int) {
        guard wants(detector), start < end else { return }
        found |= 1 << detector.ordinal
        matches.append(RawMatch(start: start, end: end, detector: detector.ordinal))
    }
}

/// The built-in scanners, one static function per detector (or family), each appending to a sink.
enum BuiltinScanner {
    /// Runs every enabled built-in over `text` (the case-preserving view), skipping a scanner when
    /// a cheap count says it cannot match (no `@`, too few digits, …).
    static func run(_ text: ScanText, into sink: inout MatchSink) {
        let (digits, colons, dots, ats) = count(text)
        if ats > 0, sink.wants(.email) { email(text, &sink) }
        if digits >= 4 {
            // The number scanners start at the first digit of a run (or just before it).
            let runs = digitRunStarts(text)
            if digits >= 8, sink.wants(.phone) { phone(text, runs, &sink) }
            if digits >= 13, sink.wants(.paymentCard) { paymentCard(text, runs, &sink) }
            if text.count >= 15, sink.wants(.iban) { iban(text, runs, &sink) }
            if digits >= 9, sink.wants(.usSSN) { usSSN(text, runs, &sink) }
            if dots >= 3, sink.wants(.ipv4) { ipv4(text, runs, &sink) }
        }
        if colons >= 2, sink.wants(.ipv6) { ipv6(text, &sink) }
        words(text, &sink)
        if text.count >= 32, sink.wants(.highEntropyToken) { highEntropy(text, &sink) }
    }

    /// Per byte, a one in the 16-bit lane of its category: digits, colons, dots, `@`.
    private static let countLanes: [UInt64] = (0..<256).map { byte in
        switch UInt8(byte) {
        case 0x30...0x39: return 1
        case 0x3A: return 1 << 16
        case 0x2E: return 1 << 32
        case 0x40: return 1 << 48
        default: return 0
        }
    }

    /// Digits, colons, dots and `@`s, one table load and one add per byte.
    private static func count(_ text: ScanText) -> (digits: Int, colons: Int, dots: Int, ats: Int) {
        countLanes.withUnsafeBufferPointer { lanes in
            var digits = 0
            var colons = 0
            var dots = 0
            var ats = 0
            var index = 0
            while index < text.count {
                // Lanes hold at most 65535: flush every 32 KiB.
                let end = min(text.count, index + 32_768)
                var sum: UInt64 = 0
                while index < end {
                    sum &+= lanes[Int(text.bytes[index])]
                    index += 1
                }
                digits += Int(sum & 0xFFFF)
                colons += Int(sum >> 16 & 0xFFFF)
                dots += Int(sum >> 32 & 0xFFFF)
                ats += Int(sum >> 48)
            }
            return (digits, colons, dots, ats)
        }
    }

    /// Offsets of the digits that follow a non-digit (or start the text).
    private static func digitRunStarts(_ text: ScanText) -> [Int] {
        var runs: [Int] = []
        var previousIsDigit = false
        for index in 0..<text.count {
            let isDigit = text.bytes[index].isDigit
            if isDigit, !previousIsDigit { runs.append(index) }
            previousIsDigit = isDigit
        }
        return runs
    }

    /// One pass over word starts (and the punctuation that can start a marker) for the detectors
    /// that begin at one: prefixed secrets and injection phrases. Word interiors are skipped whole.
    private static func words(_ text: ScanText, _ sink: inout MatchSink) {
        let table = phraseTable
        var secrets = text.count >= 20 && prefixedSecretsWanted(sink)
        var injection = sink.wants(.promptInjection)
        // Bit `b - 0x40` for each byte `b` a prefixed secret starts with: `A`, `e`, `g`, `p`, `r`, `s`, `x`.
        let secretFirstBytes: UInt64 = 1 << 0x01 | 1 << 0x25 | 1 << 0x27 | 1 << 0x30 | 1 << 0x32 | 1 << 0x33 | 1 << 0x38
        var index = 0
        while secrets || injection, index < text.count {
            let byte = text.bytes[index]
            if secrets, byte == 0x2D || (byte &- 0x40 < 64 && secretFirstBytes >> (byte &- 0x40) & 1 != 0),
                let (detector, end) = prefixedSecret(text, at: index, sink)
            {
                sink.add(detector, index, end)
                secrets = prefixedSecretsWanted(sink)
                index = end
                continue
            }
            if injection, let end = table.match(text, at: index) {
                sink.add(.promptInjection, index, end)
                injection = sink.wants(.promptInjection)
                index = end
                continue
            }
            index = byte.isAlnum ? text.runEnd(from: index + 1) { $0.isAlnum } : index + 1
        }
    }

    private static func prefixedSecretsWanted(_ sink: MatchSink) -> Bool {
        sink.wants(.openAIKey) || sink.wants(.anthropicKey) || sink.wants(.awsAccessKey) || sink.wants(.githubToken)
            || sink.wants(.slackToken) || sink.wants(.stripeKey) || sink.wants(.googleAPIKey)
            || sink.wants(.privateKey) || sink.wants(.jwt)
    }
}
