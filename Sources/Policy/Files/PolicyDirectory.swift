internal import Foundation
public import GatehouseConfig
internal import Yams

/// Loads a policies directory: every `*.yaml` / `*.yml` file in it (not in subdirectories),
/// `defaults.yaml` being the shared part merged into every agent's policy. Files ending in
/// `.test.yaml` hold `gatehouse policy test` cases and are not policies.
public enum PolicyDirectory {
    public static let defaultsFileName = "defaults.yaml"

    /// The policy files of a directory, in name order (so load order and rule order are stable).
    public static func policyFiles(in directory: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        return names.filter { name in
            (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasSuffix(".test.yaml")
                && !name.hasSuffix(".test.yml") && !name.hasPrefix(".")
        }.sorted()
    }

    /// Reads and compiles the directory. `environment` expands `${VAR}` in the files, as in the
    /// main configuration.
    public static func load(directory: String, environment: [String: String]) -> ConfigValidation<PolicySet> {
        let files: [String]
        do {
            files = try policyFiles(in: directory)
        } catch {
            return .invalid([
                ConfigDiagnostic(
                    file: directory,
                    line: 1,
                    column: 1,
                    path: "",
                    message: "cannot read the policies directory",
                    hint: "check policy.directory; it is read relative to the working directory"
                )
            ])
        }
        var sources: [(name: String, path: String, text: String)] = []
        var diagnostics: [ConfigDiagnostic] = []
        for name in files {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(
                    ConfigDiagnostic(
                        file: path,
                        line: 1,
                        column: 1,
                        path: "",
                        message: "cannot read the file",
                        hint: nil
                    )
                )
                continue
            }
            sources.append((name, path, String(decoding: data, as: UTF8.self)))
        }
        switch compile(sources, environment: environment) {
        case .valid(let set) where diagnostics.isEmpty: return .valid(set)
        case .valid: return .invalid(diagnostics)
        case .invalid(let more): return .invalid(diagnostics + more)
        }
    }

    /// A rule's id without its file (`researcher.yaml#no-cards` → `no-cards`).
    static func localID(_ id: String) -> Substring {
        id.split(separator: "#", maxSplits: 1).last ?? Substring(id)
    }

    /// The completion flow's block guards merged into one detector set, when they apply to every
    /// model (so one set serves every stream); nil otherwise.
    static func streamDetectors(_ guards: [GuardRule]) -> DetectorSet? {
        let blocking = guards.filter { $0.flows.contains(.completion) && $0.action == .block && $0.webhook == nil }
        guard blocking.count > 1, blocking.allSatisfy(\.subjects.isEmpty) else { return nil }
        return try? DetectorSet(blocking.flatMap(\.specs))
    }

    /// Compiles policy texts: `(name, path shown in diagnostics, YAML)`. Public for `policy check`
    /// and tests, which hold files in memory.
    public static func compile(
        _ sources: [(name: String, path: String, text: String)],
        environment: [String: String]
    ) -> ConfigValidation<PolicySet> {
        var diagnostics: [ConfigDiagnostic] = []
        var defaults: PolicyFileDecoder.Decoded?
        var agentFiles: [PolicyFileDecoder.Decoded] = []
        for source in sources {
            var decoder = PolicyFileDecoder(file: source.path, displayName: source.name, environment: environment)
            let isDefaults = source.name == defaultsFileName
            let decoded = decoder.decode(yaml: source.text, isDefaults: isDefaults)
            diagnostics += decoder.reader.diagnostics
            guard let decoded else { continue }
            if isDefaults { defaults = decoded } else { agentFiles.append(decoded) }
        }
        var policies: [String: AgentPolicy] = [:]
        var groupPolicies: [(group: String, policy: AgentPolicy)] = []
        var owners: [String: String] = [:]
        var groupOwners: [String: String] = [:]
        for (file, decoded) in zip(agentFiles.map(\.policy.file), agentFiles) {
            var merged = decoded.policy
            if let shared = defaults?.policy {
                // The shared rules come after the agent's own, so an agent's rule decides first;
                // deny rules win over allow rules wherever they are.
                merged.modelAllow += shared.modelAllow
                merged.modelDeny += shared.modelDeny
                merged.serverAllow += shared.serverAllow
                merged.serverDeny += shared.serverDeny
                merged.toolAllow += shared.toolAllow
                merged.toolDeny += shared.toolDeny
                merged.toolListOnly += shared.toolListOnly
                merged.limits += shared.limits
                if merged.budgets.isEmpty { merged.budgets = shared.budgets }
                if merged.contentCapture == nil { merged.contentCapture = shared.contentCapture }
                // A shared guard or session rule gives way to the agent's own of the same id.
                let ownGuards = Set(merged.guards.map { Self.localID($0.id) })
                merged.guards += shared.guards.filter { !ownGuards.contains(Self.localID($0.id)) }
                let ownRules = Set(merged.sessionRules.map { Self.localID($0.id) })
                merged.sessionRules += shared.sessionRules.filter { !ownRules.contains(Self.localID($0.id)) }
            }
            merged.completionStreamDetectors = Self.streamDetectors(merged.guards)
            let path = sources.first { $0.name == file }?.path ?? file
            // One file per agent and per group: a second claim is reported where it is written.
            func claim(_ name: String, _ node: Node, kind: String, owners: inout [String: String]) -> Bool {
                guard let owner = owners[name] else {
                    owners[name] = file
                    return true
                }
                diagnostics.append(
                    ConfigDiagnostic(
                        file: path,
                        line: node.mark?.line ?? 1,
                        column: node.mark?.column ?? 1,
                        path: "\(kind)s",
                        message: "\(kind) '\(name)' already has a policy in \(owner)",
                        hint: "one file per \(kind): merge the two"
                    )
                )
                return false
            }
            for (agent, node) in decoded.agents where claim(agent, node, kind: "agent", owners: &owners) {
                policies[agent] = merged
            }
            for (group, node) in decoded.groups where claim(group, node, kind: "group", owners: &groupOwners) {
                groupPolicies.append((group, merged))
            }
        }
        guard diagnostics.isEmpty else { return .invalid(diagnostics) }
        let unlisted = defaults?.unlistedAgents
        return .valid(
            PolicySet(
                policies: policies,
                groupPolicies: groupPolicies,
                unlistedAgents: unlisted?.0 ?? .allow,
                unlistedRule: unlisted?.rule ?? "no-policy",
                tags: defaults?.tags ?? PolicyTags(),
                files: sources.map(\.name)
            )
        )
    }
}
