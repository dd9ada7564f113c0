import Foundation
import GatehouseCore
import JWTKit
import Testing

@testable import Policy

@Suite("JWTAuthenticator (HS256)")
struct JWTAuthenticatorTests {
    struct Claims: JWTPayload {
        var iss: String?
        var sub: String?
        var aud: [String]?
        var exp: Double?
        var nbf: Double?
        var groups: [String]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let secret = "a-shared-secret-of-at-least-32-bytes!"
    static let audience = "https://gateway.test/mcp"

    func authenticator(leeway: Duration = .seconds(30)) async -> JWTAuthenticator {
        await JWTAuthenticator(
            settings: JWTSettings(
                issuer: "https://issuer.test",
                audiences: [Self.audience],
                hs256Secret: Secret(Self.secret),
                groupsClaim: "groups",
                leeway: leeway,
                algorithms: ["HS256"]
            ),
            agents: ["support"],
            fetch: { _ in Data() }
        )
    }

    func token(_ claims: Claims, secret: String = Self.secret) async throws -> String {
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    func valid(_ change: (inout Claims) -> Void = { _ in }) -> Claims {
        var claims = Claims(
            iss: "https://issuer.test",
            sub: "support",
            aud: [Self.audience],
            exp: Date().timeIntervalSince1970 + 300,
            groups: ["ops"]
        )
        change(&claims)
        return claims
    }

    @Test func aValidTokenNamesTheAgentAndItsGroups() async throws {
        let result = await authenticator().authenticate(try await token(valid())[...])
        #expect(result == .success(Identity(agentName: "support", method: .jwt(subject: "support"), groups: ["ops"])))
    }

    @Test func theLeewayCoversSmallClockSkewOnly() async throws {
        let now = Date().timeIntervalSince1970
        let justExpired = try await token(valid { $0.exp = now - 10 })
        #expect((try? await authenticator().authenticate(justExpired[...]).get()) != nil)
        let longExpired = try await token(valid { $0.exp = now - 100 })
        #expect(
            await authenticator().authenticate(longExpired[...]) == .failure(.invalidToken("the token has expired"))
        )
        let early = try await token(valid { $0.nbf = now + 10 })
        #expect((try? await authenticator().authenticate(early[...]).get()) != nil)
        let tooEarly = try await token(valid { $0.nbf = now + 100 })
        #expect(
            await authenticator(leeway: .zero).authenticate(tooEarly[...])
                == .failure(.invalidToken("the token is not valid yet (nbf)"))
        )
    }

    @Test(arguments: ["audience", "issuer", "agent", "expiry", "secret"])
    func refusals(_ what: String) async throws {
        let signed: String
        switch what {
        case "audience": signed = try await token(valid { $0.aud = ["https://other.test/mcp"] })
        case "issuer": signed = try await token(valid { $0.iss = "https://evil.test" })
        case "agent": signed = try await token(valid { $0.sub = "root" })
        case "expiry": signed = try await token(valid { $0.exp = nil })
        default: signed = try await token(valid(), secret: "another-secret-of-at-least-32-bytes!!")
        }
        guard case .failure(.invalidToken(let reason)) = await authenticator().authenticate(signed[...]) else {
            Issue.record("\(what): accepted")
            return
        }
        #expect(!reason.contains(signed))
    }

    @Test func onlyJWTShapedCredentialsAreTokens() {
        #expect(JWTAuthenticator.looksLikeJWT("eyJhbGciOi.eyJzdWIi.c2ln"))
        #expect(!JWTAuthenticator.looksLikeJWT("sk-plain-key"))
        #expect(!JWTAuthenticator.looksLikeJWT("ghk_0123456789ab_0123"))
    }
}
