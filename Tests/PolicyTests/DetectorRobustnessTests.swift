import Policy
import Testing

/// Hostile shapes: repetitions built to make a naive scanner rescan the same run again and again,
/// or to trip an index computation. Each must finish (in linear time: a quadratic scanner takes
/// minutes here) with the stated result, and never trap.
@Suite struct DetectorRobustnessTests {
    @Test(arguments: [
        ("sk-", 20_000, 0),
        ("eyJ-", 10_000, 0),
        ("@", 40_000, 0),
        ("a.b@", 10_000, 0),
        ("1.", 20_000, 0),
        ("1:", 20_000, 0),
        (":", 40_000, 0),
        ("4", 60_000, 0),
        ("411 ", 10_000, 0),
        ("+1 ", 10_000, 0),
        ("DE89 ", 10_000, 0),
        ("github_pat_", 5_000, 0),
        ("AIza-", 10_000, 0),
        ("ignore ", 10_000, 0),
        ("\u{200B}", 20_000, 1),
        ("\u{E0041}", 20_000, 1),
        ("-----BEGIN RSA PRIVATE KEY-----", 1_000, 1),
        ("４１１１ ", 5_000, 0),
        ("Straße ÄRGER ﬁ ", 3_000, 0),
    ])
    func repetitionsScanInOnePass(_ unit: String, _ count: Int, _ expectedMatches: Int) throws {
        let all = try DetectorSet(BuiltinDetector.allCases.map { .builtin($0) })
        let text = String(repeating: unit, count: count)
        #expect(all.scan(text).count == expectedMatches)
        #expect((all.firstMatch(in: text) != nil) == (expectedMatches > 0))
        #expect(Redaction.apply(all.scan(text), to: text).utf8.count <= text.utf8.count)
    }

    @Test func streamingEndlessPaddingOrOneLongTokenStaysBounded() throws {
        let email = try DetectorSet([.builtin(.email)])
        var scanner = StreamScanner(detectors: email, holdBack: 16)
        var released = ""
        for _ in 0..<5_000 { released += scanner.feed("\u{200B}").release }
        released += scanner.finish().release
        #expect(released == String(repeating: "\u{200B}", count: 5_000))

        var tokens = StreamScanner(detectors: email, holdBack: 16)
        var token = ""
        for _ in 0..<3_000 { token += tokens.feed("a").release }
        // A token is held whole up to 16 × hold-back characters; past that it is released as usual.
        #expect(token.count >= 3_000 - 16 * 16 - 16)
        #expect(token + tokens.finish().release == String(repeating: "a", count: 3_000))
    }
}
