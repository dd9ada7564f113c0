import Policy
import Testing

@Suite("PresentedCredential.from")
struct PresentedCredentialTests {
    @Test(
        arguments: [
            // (Authorization, x-api-key, expected)
            ("Bearer sk-abc", nil, PresentedCredential.bearer("sk-abc")),
            ("bearer sk-abc", nil, .bearer("sk-abc")),
            ("BEARER sk-abc", nil, .bearer("sk-abc")),
            ("BeArEr sk-abc", nil, .bearer("sk-abc")),
            ("Bearer    sk-abc", nil, .bearer("sk-abc")),
            ("  Bearer sk-abc  ", nil, .bearer("sk-abc")),
            ("Bearer sk-abc", "sk-other", .bearer("sk-abc")),  // Authorization comes first
            ("Basic dXNlcjpwYXNz", nil, nil),  // another scheme is ignored
            ("Basic dXNlcjpwYXNz", "sk-xyz", .apiKeyHeader("sk-xyz")),
            ("Bearersk-abc", nil, nil),  // no separator: not the Bearer scheme
            ("Bearer", nil, nil),
            ("Bearer    ", nil, nil),
            ("Bearer", "sk-xyz", .apiKeyHeader("sk-xyz")),  // empty bearer token falls back
            (nil, "sk-xyz", .apiKeyHeader("sk-xyz")),
            (nil, "  sk-xyz  ", .apiKeyHeader("sk-xyz")),
            ("", "sk-xyz", .apiKeyHeader("sk-xyz")),
            (nil, nil, nil),
            ("", "", nil),
            (nil, "", nil),
            (nil, "   ", nil),
            ("", nil, nil),
        ] as [(String?, String?, PresentedCredential?)]
    )
    func parses(authorization: String?, apiKey: String?, expected: PresentedCredential?) {
        let credential = PresentedCredential.from(
            authorization: authorization.map { Substring($0) },
            apiKeyHeader: apiKey.map { Substring($0) }
        )
        #expect(credential == expected)
    }
}
