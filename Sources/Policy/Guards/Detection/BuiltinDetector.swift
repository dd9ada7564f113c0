/// The built-in content detectors a policy names in YAML (`email`, `payment_card`, …), the groups
/// (`pii`, `secrets`, `injection`) that expand to several of them, and the placeholder each one
/// leaves behind when a guard redacts.
public enum BuiltinDetector: String, CaseIterable, Sendable {
    case email
    case phone
    case paymentCard = "payment_card"
    case iban
    case usSSN = "us_ssn"
    case ipv4
    case ipv6
    case openAIKey = "openai_key"
    case anthropicKey = "anthropic_key"
    case awsAccessKey = "aws_access_key"
    case githubToken = "github_token"
    case slackToken = "slack_token"
    case stripeKey = "stripe_key"
    case googleAPIKey = "google_api_key"
    case privateKey = "private_key"
    case jwt
    case highEntropyToken = "high_entropy_token"
    case promptInjection = "prompt_injection"
    case invisibleText = "invisible_text"

    public var placeholder: String {
        switch self {
        case .email: return "[EMAIL]"
        case .phone: return "[PHONE]"
        case .paymentCard: return "[CARD]"
        case .iban: return "[IBAN]"
        case .usSSN: return "[SSN]"
        case .ipv4, .ipv6: return "[IP]"
        case .openAIKey, .anthropicKey, .awsAccessKey, .githubToken, .slackToken, .stripeKey, .googleAPIKey,
            .privateKey, .jwt, .highEntropyToken:
            return "[SECRET]"
        case .promptInjection, .invisibleText: return "[REDACTED]"
        }
    }

    public static let groups: [String: [BuiltinDetector]] = [
        "pii": [.email, .phone, .paymentCard, .iban, .usSSN, .ipv4, .ipv6],
        "secrets": [
            .openAIKey, .anthropicKey, .awsAccessKey, .githubToken, .slackToken, .stripeKey, .googleAPIKey,
            .privateKey, .jwt, .highEntropyToken,
        ],
        "injection": [.promptInjection, .invisibleText],
    ]

    /// Position in `allCases`: the bit in a scanner's mask, and the tie-break when two matches start
    /// together (specific secrets before `high_entropy_token`).
    var ordinal: Int {
        switch self {
        case .email: return 0
        case .phone: return 1
        case .paymentCard: return 2
        case .iban: return 3
        case .usSSN: return 4
        case .ipv4: return 5
        case .ipv6: return 6
        case .openAIKey: return 7
        case .anthropicKey: return 8
        case .awsAccessKey: return 9
        case .githubToken: return 10
        case .slackToken: return 11
        case .stripeKey: return 12
        case .googleAPIKey: return 13
        case .privateKey: return 14
        case .jwt: return 15
        case .highEntropyToken: return 16
        case .promptInjection: return 17
        case .invisibleText: return 18
        }
    }
}
