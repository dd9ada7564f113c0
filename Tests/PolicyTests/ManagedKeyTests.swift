import Foundation
import GatehouseCore
import Policy
import Testing

@Suite("Managed keys")
struct ManagedKeyTests {
    let issued = ManagedKeyFormat.generate()

    func ring(expiresAt: Date? = nil, revoked: Bool = false) throws -> ManagedKeyRing {
        let key = try #require(
            ManagedKey(
                id: issued.id,
                agent: "support",
                hexHash: ManagedKeyFormat.hash(issued.key),
                expiresAt: expiresAt,
                isRevoked: revoked
            )
        )
        return ManagedKeyRing([key])
    }

    @Test func theFormatHasAPublicIDAndASecret() {
        #expect(issued.key.hasPrefix(issued.id + "_"))
        #expect(issued.key.count == 4 + 12 + 1 + 48)
        #expect(ManagedKeyFormat.id(of: issued.key[...]) == issued.id)
        #expect(ManagedKeyFormat.id(of: "sk-not-managed") == nil)
        #expect(ManagedKeyFormat.id(of: (issued.key + "0")[...]) == nil)
        #expect(ManagedKeyFormat.id(of: issued.key.replacingOccurrences(of: "_", with: "-")[...]) == nil)
        #expect(ManagedKeyFormat.generate().key != issued.key)
    }

    @Test func aValidKeyAuthenticatesItsAgentByID() throws {
        let identity = try ring().authenticate(.bearer(issued.key[...]))
        #expect(identity == .success(Identity(agentName: "support", method: .managedKey(id: issued.id))))
    }

    @Test func aKeyWithTheRightIDButAnotherSecretIsInvalid() throws {
        var forged = issued.key
        forged.removeLast()
        forged.append(issued.key.last == "0" ? "1" : "0")
        #expect(try ring().authenticate(.apiKeyHeader(forged[...])) == .failure(.invalidCredential))
    }

    @Test func revokedAndExpiredKeysFailWithTheirReason() throws {
        #expect(try ring(revoked: true).authenticate(.bearer(issued.key[...])) == .failure(.revokedCredential))
        let past = Date(timeIntervalSinceNow: -1)
        #expect(try ring(expiresAt: past).authenticate(.bearer(issued.key[...])) == .failure(.expiredCredential))
        let future = Date(timeIntervalSinceNow: 3600)
        #expect(try ring(expiresAt: future).authenticate(.bearer(issued.key[...])) != .failure(.expiredCredential))
    }

    @Test func aRevocationAppliesToTheNextLookup() throws {
        let ring = try ring()
        #expect(ring.authenticate(.bearer(issued.key[...])).map { (try? $0.get()) != nil } == true)
        ring.update(
            try #require(
                ManagedKey(
                    id: issued.id,
                    agent: "support",
                    hexHash: ManagedKeyFormat.hash(issued.key),
                    expiresAt: nil,
                    isRevoked: true
                )
            )
        )
        #expect(ring.authenticate(.bearer(issued.key[...])) == .failure(.revokedCredential))
    }

    @Test func otherKeysAreLeftToTheConfiguredKeys() throws {
        #expect(try ring().authenticate(.bearer("sk-configured-key")) == nil)
    }
}
