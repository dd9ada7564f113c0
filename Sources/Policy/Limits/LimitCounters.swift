internal import Synchronization

/// The running counts behind every limit, kept across policy reloads (keyed by agent, limit and
/// item, not by the policy value). Pure state: callers pass the clock's reading, so tests drive it.
///
/// Counters live in shards, each behind its own lock, held only to update one counter: calls of
/// different agents or tools rarely meet on one lock.
/// Which counter: the agent, the limit (its scope and kind, stable across reloads) and the item
/// it counts (a tool, model or server; empty for the agent as a whole). Three strings hashed
/// together, so a call builds no key string.
struct CounterKey: Hashable, Sendable {
    let agent: String
    let limit: String
    let item: String
}

final class LimitCounters: Sendable {
    static let shardCount = 16

    /// One shard's counters. Separate dictionaries by kind, so each counter is mutated in place
    /// (`dictionary[key, default:]`): copying a window out and back would copy its whole log.
    private struct Counters {
        var windows: [CounterKey: SlidingWindow] = [:]
        var inFlight: [CounterKey: Int] = [:]
        var tokens: [CounterKey: TokenWindow] = [:]
    }

    private final class Shard: Sendable {
        let counters = Mutex(Counters())
    }

    private let shards: [Shard]

    init() {
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(_ key: CounterKey) -> Shard {
        var hasher = Hasher()
        hasher.combine(key)
        return shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))]
    }

    /// Counts one request against `limit` requests per `window`; nil when admitted, else how long
    /// until one would be.
    func takeRequest(key: CounterKey, limit: Int, window: Duration, now: ContinuousClock.Instant) -> Duration? {
        shard(key).counters.withLock { counters in
            counters.windows[key, default: SlidingWindow()].take(limit: limit, window: window, now: now)
        }
    }

    /// Undoes a `takeRequest` at `instant` (another limit of the same call refused it).
    func returnRequest(key: CounterKey, at instant: ContinuousClock.Instant) {
        shard(key).counters.withLock { counters in
            counters.windows[key]?.remove(instant)
        }
    }

    /// One more call in flight, if fewer than `limit` are.
    func enter(key: CounterKey, limit: Int) -> Bool {
        shard(key).counters.withLock { counters in
            let current = counters.inFlight[key] ?? 0
            guard current < limit else { return false }
            counters.inFlight[key] = current + 1
            return true
        }
    }

    func leave(key: CounterKey) {
        shard(key).counters.withLock { counters in
            guard let count = counters.inFlight[key] else { return }
            counters.inFlight[key] = count > 1 ? count - 1 : nil
        }
    }

    /// Reserves `estimate` tokens if the window has room left (what was used plus what calls in
    /// flight reserved is under the limit): concurrent calls see each other's reservations, so
    /// together they overshoot by at most about one call. nil when reserved, else how long until
    /// the window has room.
    func reserveTokens(
        key: CounterKey,
        estimate: Int,
        limit: Int,
        window: Duration,
        now: ContinuousClock.Instant
    ) -> Duration? {
        shard(key).counters.withLock { counters in
            counters.tokens[key, default: TokenWindow()].reserve(
                estimate: estimate,
                limit: limit,
                window: window,
                now: now
            )
        }
    }

    /// Replaces a reservation with what the call really used.
    func settleTokens(key: CounterKey, reserved: Int, used: Int, now: ContinuousClock.Instant) {
        shard(key).counters.withLock { counters in
            counters.tokens[key, default: TokenWindow()].settle(reserved: reserved, used: used, now: now)
        }
    }

    /// Tokens used in the window and reserved by calls in flight (for `/admin` and tests).
    func tokenUsage(key: CounterKey, window: Duration, now: ContinuousClock.Instant) -> (used: Int, reserved: Int) {
        shard(key).counters.withLock { counters in
            guard counters.tokens[key] != nil else { return (0, 0) }
            counters.tokens[key, default: TokenWindow()].expire(window: window, now: now)
            let tokens = counters.tokens[key, default: TokenWindow()]
            return (tokens.used, tokens.reserved)
        }
    }
}

/// The instants of the requests admitted in the last window, oldest first: exact ("at most N in
/// any window of this length"), and bounded by N entries.
struct SlidingWindow {
    private var instants: [ContinuousClock.Instant] = []
    private var head = 0

    var count: Int { instants.count - head }

    mutating func take(limit: Int, window: Duration, now: ContinuousClock.Instant) -> Duration? {
        while head < instants.count, now - instants[head] >= window { head += 1 }
        if head > 64 && head * 2 > instants.count {
            instants.removeFirst(head)
            head = 0
        }
        guard count < limit else {
            return instants[head] + window - now
        }
        instants.append(now)
        return nil
    }

    mutating func remove(_ instant: ContinuousClock.Instant) {
        guard let index = instants[head...].lastIndex(of: instant) else { return }
        instants.remove(at: index)
    }
}

/// Tokens used in the last window, in one-second buckets (so the state stays bounded however
/// many calls there are), plus the estimates of calls still in flight.
struct TokenWindow {
    private var buckets: [(start: ContinuousClock.Instant, tokens: Int)] = []
    private(set) var used = 0
    private(set) var reserved = 0

    mutating func expire(window: Duration, now: ContinuousClock.Instant) {
        var drop = 0
        while drop < buckets.count, now - buckets[drop].start >= window {
            used -= buckets[drop].tokens
            drop += 1
        }
        if drop > 0 { buckets.removeFirst(drop) }
    }

    mutating func reserve(estimate: Int, limit: Int, window: Duration, now: ContinuousClock.Instant) -> Duration? {
        expire(window: window, now: now)
        if used.addingReportingOverflow(reserved).partialValue < limit {
            reserved += estimate
            return nil
        }
        // Room comes back as buckets expire; with none to expire, when calls in flight settle.
        guard let oldest = buckets.first else { return .seconds(1) }
        return max(oldest.start + window - now, .seconds(1))
    }

    mutating func settle(reserved estimate: Int, used actual: Int, now: ContinuousClock.Instant) {
        reserved = max(0, reserved - estimate)
        guard actual > 0 else { return }
        if let last = buckets.last, now - last.start < .seconds(1) {
            buckets[buckets.count - 1].tokens += actual
        } else {
            buckets.append((now, actual))
        }
        used += actual
    }
}
