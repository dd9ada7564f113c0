import Testing

@testable import MCPHost

@Suite("ToolCuration")
struct ToolCurationTests {
    /// Expected results agree with Python's `fnmatch.fnmatchcase` (no pattern here uses `[`).
    @Test(arguments: [
        // Empty pattern and empty text.
        ("", "", true), ("", "a", false), ("a", "", false), ("*", "", true), ("*", "anything", true),
        // `?` is exactly one character (one Unicode scalar).
        ("?", "a", true), ("?", "", false), ("?", "ab", false), ("??", "ab", true), ("?", "é", true),
        ("a?c", "a*c", true),
        // Literals, case-sensitive, whole-string.
        ("read_file", "read_file", true), ("read_file", "read_files", false), ("read_file", "read_fil", false),
        ("Get", "get", false), ("[a]", "[a]", true), ("[a]", "a", false),
        // Prefix and suffix globs.
        ("get_*", "get_time", true), ("get_*", "get_", true), ("get_*", "set_time", false), ("get_*", "get", false),
        ("*_time", "get_time", true), ("*_time", "_time", true), ("*_time", "get_time_zone", false),
        // Several stars.
        ("a*b*c", "abc", true), ("a*b*c", "aXbYc", true), ("a*b*c", "abbc", true), ("a*b*c", "abcbc", true),
        ("a*b*c", "acb", false), ("a*b*c", "abcb", false), ("**", "x", true), ("a**b", "ab", true),
        ("*?", "", false), ("*?", "x", true), ("?*?", "a", false), ("*.*", "a.b.c", true),
        // Cases that need the last `*` to take more after a partial match.
        ("*aab", "aaab", true), ("a*b", "abbb", true), ("a*b", "abba", false), ("*a*b", "xaxb", true),
        ("*a*a*a", "aaaa", true), ("*a*a*a", "aaXaY", false), ("*x", "xxxy", false),
    ])
    func glob(pattern: String, text: String, matches: Bool) {
        #expect(Glob.matches(pattern, text) == matches, "\(pattern) on \(text)")
    }

    /// A `*` in the pattern is a wildcard even where the text holds a literal `*`.
    @Test func starFacingALiteralStar() {
        #expect(Glob.matches("*", "*x"))
        #expect(Glob.matches("*a", "*ba"))
        #expect(Glob.matches("*b", "*b"))
    }

    @Test func everythingWithoutFilters() {
        let curation = ToolCuration()
        #expect(curation.keeps("anything"))
        #expect(curation.keeps(""))
    }

    @Test func includeThenExclude() {
        let curation = ToolCuration(include: ["get_*", "list_?"], exclude: ["*_secret", "list_x"])
        #expect(curation.keeps("get_time"))
        #expect(curation.keeps("list_a"))
        #expect(!curation.keeps("set_time"))
        #expect(!curation.keeps("list_ab"))
        // Exclusion wins over inclusion.
        #expect(!curation.keeps("get_secret"))
        #expect(!curation.keeps("list_x"))
    }

    @Test func excludeOnly() {
        let curation = ToolCuration(exclude: ["delete_*"])
        #expect(curation.keeps("read_file"))
        #expect(!curation.keeps("delete_file"))
    }

    @Test func renames() {
        let curation = ToolCuration(rename: ["get_current_time": "now"])
        #expect(curation.shownName(of: "get_current_time") == "now")
        #expect(curation.shownName(of: "convert_time") == "convert_time")
        // A renamed name is not renamed again.
        #expect(curation.shownName(of: "now") == "now")
    }
}
