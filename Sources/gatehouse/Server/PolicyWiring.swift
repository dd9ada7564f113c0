internal import Foundation
internal import GatehouseConfig
internal import Logging
internal import Policy
internal import ServiceLifecycle
internal import Synchronization

/// Keeps the policy engine in step with the policies directory: polls it (names, sizes and
/// modification times of its files) and, on any change, loads and validates the whole directory
/// and swaps it in at once. An invalid directory keeps the running policies; its errors are
/// logged and kept for `GET /admin/policy`.
final class PolicyWatcher: Sendable {
    static let pollInterval: Duration = .milliseconds(500)

    struct Status: Sendable {
        var directory: String?
        var loadedAt: String?
        var errors: [ConfigDiagnostic] = []
    }

    let engine: PolicyEngine
    private let state: RuntimeState
    private let environment: [String: String]
    private let logger: Logger
    private let status = Mutex(Status())
    private let signature = Mutex<String?>(nil)

    init(engine: PolicyEngine, state: RuntimeState, environment: [String: String], logger: Logger) {
        self.engine = engine
        self.state = state
        self.environment = environment
        self.logger = logger
    }

    var currentStatus: Status { status.withLock { $0 } }

    /// Loads the configured directory once; at startup a failure stops the gateway.
    func loadInitial() -> [ConfigDiagnostic] {
        let directory = state.snapshot.configuration.policy.directory
        signature.withLock { $0 = Self.signature(of: directory) }
        return apply(directory: directory)
    }

    /// Polls until the gateway shuts down.
    func run() async {
        while (try? await Task.sleep(for: Self.pollInterval)) != nil {
            let directory = state.snapshot.configuration.policy.directory
            let current = Self.signature(of: directory)
            let changed = signature.withLock { previous -> Bool in
                defer { previous = current }
                return previous != current
            }
            if changed { _ = apply(directory: directory) }
        }
    }

    private func apply(directory: String?) -> [ConfigDiagnostic] {
        guard let directory else {
            engine.replace(with: .empty)
            status.withLock { $0 = Status(directory: nil, loadedAt: UTCTimestamp.now(), errors: []) }
            return []
        }
        switch PolicyDirectory.load(directory: directory, environment: environment) {
        case .valid(let policies):
            engine.replace(with: policies)
            status.withLock { $0 = Status(directory: directory, loadedAt: UTCTimestamp.now(), errors: []) }
            logger.notice(
                "policies loaded",
                metadata: [
                    "directory": "\(directory)", "files": "\(policies.files.joined(separator: ","))",
                    "agents": "\(policies.governedAgents.joined(separator: ","))",
                ]
            )
            return []
        case .invalid(let diagnostics):
            status.withLock {
                $0.directory = directory
                $0.errors = diagnostics
            }
            for diagnostic in diagnostics {
                logger.warning(
                    "policy rejected; the running policies stay",
                    metadata: ["error": "\(diagnostic.description)"]
                )
            }
            return diagnostics
        }
    }

    /// What changes when any policy file is added, removed or edited.
    static func signature(of directory: String?) -> String? {
        guard let directory, let files = try? PolicyDirectory.policyFiles(in: directory) else { return nil }
        return files.map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            return "\(name):\(size):\(modified)"
        }.joined(separator: "|")
    }
}

/// Runs the watcher as a service; it stops with the others at shutdown.
struct PolicyWatcherService: Service {
    let watcher: PolicyWatcher

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await watcher.run()
        }
    }
}
