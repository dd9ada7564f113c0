public import Foundation
public import GatehouseCore
internal import JWTKit
internal import Synchronization

/// How bearer tokens are checked: the `auth.jwt` section of the main configuration.
public struct JWTSettings: Sendable, Equatable {
    public enum KeySource: Sendable, Equatable {
        case jwksFile(String)
        case jwksURL(String)
    }

    /// `iss` must equal this, when set.
    public var issuer: String?
    /// `aud` must name one of these.
    public var audiences: [String]
    public var keySource: KeySource?
    /// The shared secret of HS256 tokens, when they are accepted.
    public var hs256Secret: Secret?
    /// The claim that names the agent (`sub` by default); it must be a configured agent.
    public var agentClaim: String
    /// A claim listing the caller's groups (strings), for policies written per group.
    public var groupsClaim: String?
    /// Clock skew allowed on `exp` and `nbf`.
    public var leeway: Duration
    public var algorithms: [String]
    /// How long fetched keys are trusted before they are fetched again.
    public var keysMaxAge: Duration

    public static let supportedAlgorithms = ["RS256", "ES256", "EdDSA", "HS256"]

    public init(
        issuer: String? = nil,
        audiences: [String] = [],
        keySource: KeySource? = nil,
        hs256Secret: Secret? = nil,
        agentClaim: String = "sub",
        groupsClaim: String? = nil,
        leeway: Duration = .seconds(30),
        algorithms: [String] = JWTSettings.supportedAlgorithms,
        keysMaxAge: Duration = .seconds(600)
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.keySource = keySource
        self.hs256Secret = hs256Secret
        self.agentClaim = agentClaim
        self.groupsClaim = groupsClaim
        self.leeway = leeway
        self.algorithms = algorithms
        self.keysMaxAge = keysMaxAge
    }
}

/// Checks JWT bearer tokens with jwt-kit (signatures are never checked by hand): RS256, ES256 and
/// EdDSA against a JWKS (a file or a URL; read again when a token names a key id it does not
/// know, a URL at most once a second, and when the keys are older than `keysMaxAge`), HS256
/// against a shared secret. Then `iss`, `aud`, `exp` (required) and `nbf`, with a small leeway, and the
/// claim that names the agent.
public final class JWTAuthenticator: Sendable {
    /// Reads a JWKS document from a URL (the executable's HTTP client; Policy opens no sockets).
    public typealias Fetcher = @Sendable (String) async throws -> Data

    private struct Keys: Sendable {
        var collection: JWTKeyCollection?
        var keyIDs: Set<String> = []
        var keyAlgorithms: [String: String] = [:]
        var loadedAt: ContinuousClock.Instant?
        var lastAttempt: ContinuousClock.Instant?
    }

    let settings: JWTSettings
    private let agents: Set<String>
    private let fetch: Fetcher
    private let keys = Mutex(Keys())
    private let hmac: JWTKeyCollection?

    public init(settings: JWTSettings, agents: Set<String>, fetch: @escaping Fetcher) async {
        self.settings = settings
        self.agents = agents
        self.fetch = fetch
        if let secret = settings.hs256Secret, !secret.isEmpty {
            hmac = await JWTKeyCollection().add(hmac: HMACKey(from: secret.revealedValue), digestAlgorithm: .sha256)
        } else {
            hmac = nil
        }
    }

    /// Whether a presented credential has the shape of a JWT (three base64url parts, a JSON header).
    public static func looksLikeJWT(_ credential: Substring) -> Bool {
        credential.hasPrefix("eyJ") && credential.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// Loads the keys; problems are reported, and requests then fail until a refresh succeeds.
    public func loadKeys() async -> String? {
        await refresh(force: true)
    }

    public func authenticate(_ token: Substring, now: Date = Date()) async -> Result<Identity, AuthenticationFailure> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URLDecode(parts[0]),
            let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
            let algorithm = header["alg"] as? String
        else { return .failure(.invalidToken("the token is not a JWT")) }
        guard settings.algorithms.contains(algorithm), algorithm != "none" else {
            return .failure(.invalidToken("the token's algorithm \(Self.printable(algorithm)) is not accepted"))
        }
        let payload: TokenClaims
        do {
            if algorithm == "HS256" {
                guard let hmac else { return .failure(.invalidToken("HS256 tokens are not accepted")) }
                payload = try await hmac.verify(String(token), as: TokenClaims.self)
            } else {
                let keyID = header["kid"] as? String
                guard let collection = await keys(for: keyID) else {
                    return .failure(.invalidToken("the token's signing key is unknown"))
                }
                if let keyID, let declared = keys.withLock({ $0.keyAlgorithms[keyID] }), declared != algorithm {
                    return .failure(.invalidToken("the token's algorithm does not match its key"))
                }
                payload = try await collection.verify(String(token), as: TokenClaims.self)
            }
        } catch {
            return .failure(.invalidToken("the token's signature does not verify"))
        }
        return check(payload, now: now)
    }

    private func check(_ claims: TokenClaims, now: Date) -> Result<Identity, AuthenticationFailure> {
        let leeway = Double(settings.leeway.components.seconds)
        guard let expires = claims.number("exp") else {
            return .failure(.invalidToken("the token has no expiry (exp)"))
        }
        guard now.timeIntervalSince1970 < expires + leeway else {
            return .failure(.invalidToken("the token has expired"))
        }
        if let notBefore = claims.number("nbf"), now.timeIntervalSince1970 + leeway < notBefore {
            return .failure(.invalidToken("the token is not valid yet (nbf)"))
        }
        if let issuer = settings.issuer, claims.string("iss") != issuer {
            return .failure(.invalidToken("the token was issued by another issuer"))
        }
        let audiences = claims.strings("aud")
        guard audiences.contains(where: settings.audiences.contains) else {
            return .failure(.invalidToken("the token is meant for another audience"))
        }
        guard let agent = claims.string(settings.agentClaim), !agent.isEmpty else {
            return .failure(.invalidToken("the token has no '\(settings.agentClaim)' claim naming an agent"))
        }
        guard agents.contains(agent) else {
            return .failure(.invalidToken("the token's '\(settings.agentClaim)' names no configured agent"))
        }
        let groups = settings.groupsClaim.map { claims.strings($0) } ?? []
        return .success(
            Identity(agentName: agent, method: .jwt(subject: claims.string("sub") ?? agent), groups: groups)
        )
    }

    /// The key collection to verify a token signed by `keyID`: refreshed first when the id is
    /// unknown (a rotated key) or the keys are old.
    private func keys(for keyID: String?) async -> JWTKeyCollection? {
        let (known, stale) = keys.withLock { keys -> (Bool, Bool) in
            let known = keyID.map { keys.keyIDs.contains($0) } ?? (keys.keyIDs.count == 1)
            let stale = keys.loadedAt.map { ContinuousClock.now - $0 > settings.keysMaxAge } ?? true
            return (known, stale)
        }
        if !known || stale { _ = await refresh(force: false) }
        return keys.withLock { keys in
            let known = keyID.map { keys.keyIDs.contains($0) } ?? (keys.keyIDs.count == 1)
            return known ? keys.collection : nil
        }
    }

    /// Reads the JWKS again. A URL is fetched at most once a second (tokens naming made-up key
    /// ids must not turn into a flood of fetches) unless forced; a file is cheap to read again.
    @discardableResult
    private func refresh(force: Bool) async -> String? {
        guard let source = settings.keySource else { return nil }
        let go = keys.withLock { keys -> Bool in
            guard case .jwksURL = source, !force else { return true }
            if let last = keys.lastAttempt, ContinuousClock.now - last < .seconds(1) { return false }
            keys.lastAttempt = .now
            return true
        }
        guard go else { return nil }
        let data: Data
        do {
            switch source {
            case .jwksFile(let path):
                guard let contents = FileManager.default.contents(atPath: path) else {
                    return "cannot read the JWKS file \(path)"
                }
                data = contents
            case .jwksURL(let url):
                data = try await fetch(url)
            }
        } catch {
            return "cannot fetch the JWKS: \(error)"
        }
        guard let jwks = try? JSONDecoder().decode(JWKS.self, from: data) else {
            return "the JWKS is not valid JSON Web Key Set"
        }
        let collection = JWTKeyCollection()
        var identifiers: Set<String> = []
        var algorithms: [String: String] = [:]
        for key in jwks.keys {
            guard let identifier = key.keyIdentifier?.string else { continue }
            do {
                try await collection.add(jwk: key, isDefault: false)
                identifiers.insert(identifier)
                if let algorithm = key.algorithm?.rawValue { algorithms[identifier] = algorithm }
            } catch {
                continue  // a key type this gateway does not accept; the others still count
            }
        }
        keys.withLock {
            $0.collection = collection
            $0.keyIDs = identifiers
            $0.keyAlgorithms = algorithms
            $0.loadedAt = .now
        }
        return identifiers.isEmpty && !jwks.keys.isEmpty ? "the JWKS has no usable key with a key id" : nil
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    /// A value from a token, safe to put in a message: short and printable.
    private static func printable(_ text: String) -> String {
        let cleaned = text.prefix(20).filter { $0.isLetter || $0.isNumber }
        return "'\(cleaned)'"
    }
}

/// Every claim of a token, whatever its name, for the checks the settings ask for.
struct TokenClaims: JWTPayload {
    enum Value: Codable, Sendable {
        case string(String)
        case number(Double)
        case strings([String])
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let list = try? container.decode([String].self) {
                self = .strings(list)
            } else {
                self = .other
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            case .strings(let list): try container.encode(list)
            case .other: try container.encodeNil()
            }
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let values: [String: Value]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var values: [String: Value] = [:]
        for key in container.allKeys {
            values[key.stringValue] = (try? container.decode(Value.self, forKey: key)) ?? .other
        }
        self.values = values
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in values { try container.encode(value, forKey: Key(stringValue: key)) }
    }

    /// Claims are checked after the signature, with the gateway's leeway (`JWTAuthenticator.check`).
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    func string(_ name: String) -> String? {
        if case .string(let text) = values[name] { return text }
        return nil
    }

    func number(_ name: String) -> Double? {
        if case .number(let number) = values[name] { return number }
        return nil
    }

    /// A string claim as a one-element list, or a list claim.
    func strings(_ name: String) -> [String] {
        switch values[name] {
        case .string(let text): [text]
        case .strings(let list): list
        default: []
        }
    }
}
