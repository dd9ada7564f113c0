import GatehouseCore
import Policy
import Testing

@Suite("APIKeyAuthenticator")
struct APIKeyAuthenticatorTests {
    static let agents = [
        AgentDefinition(name: "alpha", apiKeys: [Secret("sk-alpha-0"), Secret("sk-alpha-1")]),
        AgentDefinition(name: "beta", apiKeys: [Secret("sk-beta-0"), Secret(""), Secret("sk-beta-2")]),
        AgentDefinition(name: "gamma", apiKeys: [Secret("sk-gamma-0")]),
        AgentDefinition(name: "silent", apiKeys: []),
    ]

    let authenticator = APIKeyAuthenticator(agents: Self.agents)

    @Test(arguments: [
        ("sk-alpha-0", "alpha", 0),
        ("sk-alpha-1", "alpha", 1),
        ("sk-beta-0", "beta", 0),
        // The index is the key's position in the configured list, empty entries included.
        ("sk-beta-2", "beta", 2),
        ("sk-gamma-0", "gamma", 0),
    ])
    func authenticatesToTheOwningAgentAndKey(key: String, agent: String, keyIndex: Int) {
        let expected = Identity(agentName: agent, method: .configuredAPIKey(keyIndex: keyIndex))
        #expect(authenticator.authenticate(.bearer(Substring(key))) == .success(expected))
        #expect(authenticator.authenticate(.apiKeyHeader(Substring(key))) == .success(expected))
    }

    @Test(arguments: [
        "sk-alpha-2",
        "sk-alpha-",  // prefix of a real key
        "sk-alpha-00",  // a real key with a byte more
        "SK-ALPHA-0",
        "sk-alpha-0 ",
        "x",
    ])
    func wrongKeyIsInvalid(key: String) {
        #expect(authenticator.authenticate(.bearer(Substring(key))) == .failure(.invalidCredential))
        #expect(authenticator.authenticate(.apiKeyHeader(Substring(key))) == .failure(.invalidCredential))
    }

    @Test func missingCredential() {
        #expect(authenticator.authenticate(nil) == .failure(.missingCredential))
    }

    @Test func emptyConfiguredKeyNeverAuthenticates() {
        // "beta" has an empty key at index 1; an empty presented key must not match it.
        #expect(authenticator.authenticate(.bearer("")) == .failure(.invalidCredential))
        #expect(authenticator.authenticate(.apiKeyHeader("")) == .failure(.invalidCredential))
    }

    @Test func onlyEmptyKeysConfigured() {
        let empty = APIKeyAuthenticator(agents: [
            AgentDefinition(name: "blank", apiKeys: [Secret(""), Secret("")])
        ])
        #expect(empty.activeKeyCount == 0)
        #expect(empty.authenticate(.bearer("")) == .failure(.invalidCredential))
        #expect(empty.authenticate(.apiKeyHeader("")) == .failure(.invalidCredential))
        #expect(empty.authenticate(.bearer("anything")) == .failure(.invalidCredential))
    }

    @Test func activeKeyCountSkipsEmptyKeys() {
        #expect(authenticator.activeKeyCount == 5)
        #expect(APIKeyAuthenticator(agents: []).activeKeyCount == 0)
    }

    @Test func noAgentsRefusesEverything() {
        let none = APIKeyAuthenticator(agents: [])
        #expect(none.authenticate(.bearer("sk-alpha-0")) == .failure(.invalidCredential))
        #expect(none.authenticate(nil) == .failure(.missingCredential))
    }
}

@Suite("AuthenticationFailure")
struct AuthenticationFailureTests {
    @Test func messages() {
        #expect(
            AuthenticationFailure.missingCredential.message
                == "Missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'."
        )
        #expect(AuthenticationFailure.invalidCredential.message == "Invalid API key.")
    }

    @Test(arguments: ["sk-leaked-7d1e0f", "sk-alpha-1", "sk-alpha-0x"])
    func messageNeverContainsThePresentedKey(key: String) throws {
        let authenticator = APIKeyAuthenticator(agents: [
            AgentDefinition(name: "alpha", apiKeys: [Secret("sk-alpha-0")])
        ])
        let result = authenticator.authenticate(.bearer(Substring(key)))
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(failure == .invalidCredential)
        #expect(!failure.message.contains(key))
        #expect(!"\(failure)".contains(key))
    }
}
