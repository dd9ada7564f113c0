internal import Crypto
public import Foundation
public import GatehouseCore
internal import Synchronization

/// Managed API keys: `ghk_` + 12 hex digits of public id + `_` + 48 hex digits of secret. The id
/// names the key in listings and logs; the gateway keeps only the SHA-256 of the whole key.
public enum ManagedKeyFormat {
    public static let prefix = "ghk_"

    /// A new key and its id, from the system's CSPRNG.
    public static func generate() -> (id: String, key: String) {
        var generator = SystemRandomNumberGenerator()
        func hex(_ count: Int) -> String {
            (0..<count).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16) }.joined()
        }
        let id = prefix + hex(12)
        return (id, id + "_" + hex(48))
    }

    /// The id of a presented key, if it has the managed form.
    public static func id(of presented: Substring) -> String? {
        guard presented.hasPrefix(prefix), presented.utf8.count == prefix.utf8.count + 12 + 1 + 48 else { return nil }
        let id = presented.prefix(prefix.count + 12)
        let rest = presented.dropFirst(prefix.count + 12)
        guard rest.first == "_", id.dropFirst(prefix.count).allSatisfy(\.isHexDigit),
            rest.dropFirst().allSatisfy(\.isHexDigit)
        else { return nil }
        return String(id)
    }

    /// Lowercase hex SHA-256 of a key.
    public static func hash(_ key: some StringProtocol) -> String {
        SHA256.hash(data: Array(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// One managed key as the gateway checks it.
public struct ManagedKey: Sendable, Equatable {
    public let id: String
    public let agent: String
    let hash: [UInt8]
    public let expiresAt: Date?
    public let isRevoked: Bool

    /// `hexHash`: what the store keeps; nil when it is not 64 hex digits (such a key never matches).
    public init?(id: String, agent: String, hexHash: String, expiresAt: Date?, isRevoked: Bool) {
        guard hexHash.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = hexHash.startIndex
        while index < hexHash.endIndex {
            let next = hexHash.index(index, offsetBy: 2)
            guard let byte = UInt8(hexHash[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.id = id
        self.agent = agent
        self.hash = bytes
        self.expiresAt = expiresAt
        self.isRevoked = isRevoked
    }
}

/// The managed keys in force, replaced whole when the store says they changed. Authentication
/// looks a key up by its public id and compares hashes in constant time.
public final class ManagedKeyRing: Sendable {
    private let keys = Mutex<[String: ManagedKey]>([:])

    public init(_ keys: [ManagedKey] = []) {
        replace(with: keys)
    }

    public func replace(with keys: [ManagedKey]) {
        let byID = Dictionary(keys.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.keys.withLock { $0 = byID }
    }

    /// Takes effect for the very next request (revocation through the admin API).
    public func update(_ key: ManagedKey) {
        keys.withLock { $0[key.id] = key }
    }

    /// nil when the credential is not a managed key (the configured keys are tried then);
    /// otherwise the identity or why it fails.
    public func authenticate(
        _ credential: PresentedCredential,
        now: Date = Date()
    ) -> Result<Identity, AuthenticationFailure>? {
        let presented = credential.key
        guard let id = ManagedKeyFormat.id(of: presented) else { return nil }
        guard let key = keys.withLock({ $0[id] }) else { return .failure(.invalidCredential) }
        let digest = Array(SHA256.hash(data: Array(presented.utf8)))
        var difference: UInt8 = 0
        for (left, right) in zip(digest, key.hash) { difference |= left ^ right }
        guard difference == 0, digest.count == key.hash.count else { return .failure(.invalidCredential) }
        if key.isRevoked { return .failure(.revokedCredential) }
        if let expiresAt = key.expiresAt, expiresAt <= now { return .failure(.expiredCredential) }
        return .success(Identity(agentName: key.agent, method: .managedKey(id: key.id)))
    }
}
