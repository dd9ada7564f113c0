import GatehouseCore
import Testing

/// A value distinctive enough that any rendering leaking it would be caught by a `contains` check.
private let value = "sk-live-4f9a7c2e81d3b6"

/// A type without its own description, so interpolation and `dump` go through reflection.
private struct Holder {
    let name: String
    let key: Secret
}

@Suite("Secret")
struct SecretTests {
    let secret = Secret(value)

    @Test func descriptionIsRedacted() {
        #expect(secret.description == "[redacted]")
        #expect(Secret.redactedPlaceholder == "[redacted]")
    }

    @Test func debugDescriptionIsRedacted() {
        #expect(secret.debugDescription == "[redacted]")
    }

    @Test func interpolationIsRedacted() {
        #expect("\(secret)" == "[redacted]")
        #expect("key=\(secret)" == "key=[redacted]")
    }

    @Test func describingAndReflectingAreRedacted() {
        #expect(String(describing: secret) == "[redacted]")
        #expect(String(reflecting: secret) == "[redacted]")
    }

    @Test func printIsRedacted() {
        var output = ""
        print(secret, to: &output)
        debugPrint(secret, to: &output)
        #expect(output == "[redacted]\n[redacted]\n")
    }

    @Test func dumpIsRedacted() {
        var output = ""
        dump(secret, to: &output)
        #expect(output == "- [redacted]\n")
    }

    @Test func mirrorHasNoChildren() {
        #expect(Mirror(reflecting: secret).children.isEmpty)
    }

    @Test func containersAreRedacted() {
        let holder = Holder(name: "provider", key: secret)
        #expect("\(holder)" == "Holder(name: \"provider\", key: [redacted])")
        #expect(String(describing: [secret]) == "[[redacted]]")
        #expect(String(describing: Optional(secret)) == "Optional([redacted])")

        var dumped = ""
        dump(holder, to: &dumped)
        #expect(!dumped.contains(value))
        #expect(dumped.hasSuffix("Holder\n  - name: \"provider\"\n  - key: [redacted]\n"))
    }

    @Test func revealedValueIsTheValue() {
        #expect(secret.revealedValue == value)
        #expect(Secret("").revealedValue == "")
        #expect(Secret("ключ-🔑").revealedValue == "ключ-🔑")
    }

    @Test func isEmpty() {
        #expect(Secret("").isEmpty)
        #expect(!secret.isEmpty)
    }

    @Test func equalSecretsAreEqual() {
        #expect(Secret(value) == secret)
        #expect(Secret(value + "x") != secret)
    }
}

@Suite("Secret.matches")
struct SecretMatchesTests {
    @Test(arguments: [
        // (secret, presented, expected)
        ("abcdef", "abcdef", true),
        ("abcdef", "abcdeg", false),  // same length, last byte differs
        ("abcdef", "xbcdef", false),  // same length, first byte differs
        ("abcdef", "abXdef", false),  // same length, middle byte differs
        ("abcdef", "abc", false),  // prefix
        ("abcabc", "abc", false),  // prefix that repeats to the full secret
        ("abcdef", "abcdefg", false),  // longer
        ("abcdef", "", false),  // empty presented
        ("", "", true),  // empty secret, empty presented: equal values
        ("", "a", false),  // empty secret, non-empty presented
        ("ключ", "ключ", true),  // multi-byte UTF-8
        ("ключ", "ключа", false),
    ])
    func matchesString(secret: String, presented: String, expected: Bool) {
        #expect(Secret(secret).matches(presented) == expected)
        #expect(Secret(secret).matches(Array(presented.utf8)) == expected)
        #expect(Secret(secret).matches(presented.utf8) == expected)
    }

    @Test func lengthsDifferingByAMultipleOf256DoNotMatch() {
        // 2 ^ 258 == 256: truncated to a byte the length difference vanishes, so the length check
        // must not depend on it. The presented bytes repeat the secret, so every byte compares equal.
        let presented = String(repeating: "ab", count: 129)
        #expect(presented.utf8.count == 258)
        #expect(!Secret("ab").matches(presented))
    }

    @Test func sliceWithNonZeroStartIndex() {
        let bytes = Array("xxabcdef".utf8)
        #expect(Secret("abcdef").matches(bytes[2...]))
        #expect(!Secret("abcdef").matches(bytes[1...]))
        #expect(!Secret("abcdef").matches(bytes[2..<7]))
    }
}
