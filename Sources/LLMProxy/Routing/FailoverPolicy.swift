/// Decides, from how an attempt failed, whether another deployment may be tried and for how long
/// the failing one should rest. Pure: the caller performs what it decides.
public enum FailoverPolicy {
    public enum AttemptFailure: Sendable, Equatable {
        /// No connection could be made (refused, DNS, TLS).
        case connectionFailed
        /// No response head within the deployment's first-byte timeout.
        case timedOut
        /// The provider answered with an error status before any byte reached the client.
        case status(Int, retryAfter: Duration?)
    }

    public enum Decision: Sendable, Equatable {
        /// Try the next deployment; cool this one down for `coolDown`.
        case tryNext(coolDown: Duration)
        /// The request itself is at fault: answer the client with this failure, no retry.
        case answerClient
    }

    public static func decide(_ failure: AttemptFailure, defaultCoolDown: Duration) -> Decision {
        switch failure {
        case .connectionFailed, .timedOut:
            return .tryNext(coolDown: defaultCoolDown)
        case .status(let status, let retryAfter):
            switch status {
            case 408, 409, 429, 500...599:
                return .tryNext(coolDown: retryAfter.map { min($0, .seconds(300)) } ?? defaultCoolDown)
            default:
                return .answerClient
            }
        }
    }

    /// Wait before pass `pass` (1-based) over the deployment list: exponential from 250 ms,
    /// capped at 4 s, with ±25 % jitter so clients that failed together do not retry together.
    public static func backoff(beforePass pass: Int, random: inout some RandomNumberGenerator) -> Duration {
        let base = min(250 * (1 << min(pass - 1, 4)), 4000)
        let jitter = Int.random(in: -(base / 4)...(base / 4), using: &random)
        return .milliseconds(base + jitter)
    }

    /// `Retry-After` as seconds (fractions allowed) or `retry-after-ms`, as the official SDKs read them.
    public static func retryAfter(seconds: String?, milliseconds: String?) -> Duration? {
        // Values come from the upstream: clamp before converting so `1e30` or `inf` cannot trap.
        let limit = 86_400_000.0
        if let milliseconds, let value = Double(milliseconds), value >= 0, !value.isNaN {
            return .milliseconds(Int64(min(value, limit)))
        }
        if let seconds, let value = Double(seconds), value >= 0, !value.isNaN {
            return .milliseconds(Int64(min(value * 1000, limit)))
        }
        return nil
    }
}
