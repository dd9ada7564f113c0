internal import Foundation

/// Sizes the shared NIO event-loop group by the CPUs this process may actually run on.
///
/// NIO sizes its singleton group by the machine's cores; a gateway pinned to fewer (taskset,
/// cpusets) would then spread each request over more loop threads than it has CPUs, paying a
/// thread hand-off for nothing. Measured with bench/ on one pinned core: streaming CPU per request
/// 192 → 168 µs. An explicit `NIO_SINGLETON_GROUP_LOOP_COUNT` is left alone.
enum EventLoopSizing {
    static let variable = "NIO_SINGLETON_GROUP_LOOP_COUNT"

    /// Must run before anything touches `MultiThreadedEventLoopGroup.singleton`.
    static func applyAffinity() {
        guard ProcessInfo.processInfo.environment[variable] == nil, let count = usableCPUCount() else { return }
        setenv(variable, String(count), 0)
    }

    /// CPUs in this process's affinity mask (`Cpus_allowed` in /proc/self/status), or nil when
    /// the kernel does not say.
    static func usableCPUCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return cpuCount(fromStatus: status)
    }

    /// Counts the bits of the `Cpus_allowed:` hex mask (comma-separated 32-bit groups).
    static func cpuCount(fromStatus status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else {
            return nil
        }
        var count = 0
        for character in line.dropFirst("Cpus_allowed:".count)
        where character != "," && character != " " && character != "\t" {
            guard let nibble = character.hexDigitValue else { return nil }
            count += nibble.nonzeroBitCount
        }
        return count > 0 ? count : nil
    }
}
