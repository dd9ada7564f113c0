internal import Foundation
internal import GatehouseConfig
internal import HTTPTypes
internal import Hummingbird
internal import MCPHost
internal import NIOCore
internal import Policy
internal import Prometheus
internal import Store

/// Encodes a value as a JSON response (admin and health routes; never the proxy path).
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    return Response(
        status: status,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: data))
    )
}

/// `/healthz` (the process answers), `/readyz` (configuration loaded and store open), `/metrics`.
struct OperationalRoutes {
    let state: RuntimeState
    let store: Store
    let registry: PrometheusCollectorRegistry

    private struct Status: Encodable {
        let status: String
        let reasons: [String]?
    }

    func register(on router: Router<GatehouseRequestContext>) {
        router.get("/healthz") { _, _ in
            try jsonResponse(Status(status: "ok", reasons: nil))
        }
        router.get("/readyz") { _, _ in
            var reasons: [String] = []
            if !store.isOpen { reasons.append("store closed") }
            return reasons.isEmpty
                ? try jsonResponse(Status(status: "ready", reasons: nil))
                : try jsonResponse(Status(status: "not ready", reasons: reasons), status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }
}

/// The admin API under `/admin`, behind the admin token.
struct AdminRoutes {
    let state: RuntimeState
    let store: Store
    let reloader: ConfigReloader
    let ledger: UsageLedger
    let federation: MCPFederation
    let policyWatcher: PolicyWatcher
    let managedKeys: ManagedKeyRing

    private struct Usage: Encodable {
        struct Entry: Encodable {
            let agent: String
            let model: String
            let requests: Int
            let input_tokens: Int
            let output_tokens: Int
            let cost_usd: Double
        }
        struct Budget: Encodable {
            let agent: String
            let period: String
            let rule: String
            let limit_usd: Double
            let spent_usd: Double
            let remaining_usd: Double
            let resets_at: String
        }
        let usage: [Entry]
        /// Every budget of a configured agent, with the period's spend.
        let budgets: [Budget]
    }

    private struct ReloadApplied: Encodable {
        let status = "reloaded"
        let restart_required: [String]
    }

    private struct ReloadRejected: Encodable {
        struct Detail: Encodable {
            let message: String
            let type = "invalid_config"
        }
        let error: Detail
        let errors: [ConfigDiagnostic]
    }

    private struct History: Encodable {
        struct Load: Encodable {
            let loaded_at: String
            let source: String
            let trigger: String
            let outcome: String
            let error_count: Int
        }
        let loads: [Load]
    }

    private struct PolicyStatus: Encodable {
        let directory: String?
        let loaded_at: String?
        let files: [String]
        let agents: [String]
        /// The last change that was rejected (the running policies are the previous ones).
        let errors: [ConfigDiagnostic]
    }

    private struct Audit: Encodable {
        struct Entry: Encodable {
            let id: Int64
            let decided_at: String
            let request_id: String?
            let agent: String
            let plane: String
            let action: String
            let target: String
            let decision: String
            let rule: String
            let reason: String
        }
        let decisions: [Entry]
    }

    func register(on router: Router<GatehouseRequestContext>) {
        let admin = router.group("/admin").add(middleware: AdminAuthenticationMiddleware(state: state))
        TraceViewerRoutes(state: state, store: store).register(on: router)
        admin.get("audit") { request, _ in
            let parameters = request.uri.queryParameters
            func value(_ name: String) -> String? {
                parameters[name[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            }
            var query = PolicyDecisionQuery(
                agent: value("agent"),
                target: value("target") ?? value("tool") ?? value("model"),
                decision: value("decision"),
                since: value("since"),
                until: value("until")
            )
            if let limit = value("limit") {
                guard let parsed = Int(limit), (1...10_000).contains(parsed) else {
                    throw GatewayError(kind: .badRequest, message: "limit must be a whole number from 1 to 10000.")
                }
                query.limit = parsed
            }
            if let decision = query.decision, PolicyDecision.Effect(rawValue: decision) == nil {
                let effects = PolicyDecision.Effect.allCases.map(\.rawValue).joined(separator: ", ")
                throw GatewayError(kind: .badRequest, message: "decision must be one of: \(effects).")
            }
            let rows = try await store.policyDecisions(query)
            return try jsonResponse(
                Audit(
                    decisions: rows.map {
                        .init(
                            id: $0.id,
                            decided_at: $0.decidedAt,
                            request_id: $0.requestID,
                            agent: $0.agent,
                            plane: $0.plane,
                            action: $0.action,
                            target: $0.target,
                            decision: $0.decision,
                            rule: $0.rule,
                            reason: $0.reason
                        )
                    }
                )
            )
        }
        admin.get("policy") { _, _ in
            let status = policyWatcher.currentStatus
            let policies = policyWatcher.engine.policies
            return try jsonResponse(
                PolicyStatus(
                    directory: status.directory,
                    loaded_at: status.loadedAt,
                    files: policies.files,
                    agents: policies.governedAgents,
                    errors: status.errors
                )
            )
        }
        MCPAdminRoutes(federation: federation).register(on: admin)
        KeyAdminRoutes(state: state, store: store, ring: managedKeys).register(on: admin)
        admin.get("config") { _, _ in
            let snapshot = state.snapshot
            return try jsonResponse(ConfigView(snapshot.configuration, source: snapshot.source))
        }
        admin.get("config/history") { _, _ in
            let loads = try await store.recentConfigLoads(limit: 50)
            return try jsonResponse(
                History(
                    loads: loads.map {
                        .init(
                            loaded_at: $0.loadedAt,
                            source: $0.source,
                            trigger: $0.trigger.rawValue,
                            outcome: $0.outcome.rawValue,
                            error_count: $0.errorCount
                        )
                    }
                )
            )
        }
        admin.get("usage") { _, _ in
            try jsonResponse(
                Usage(
                    usage: ledger.snapshot().map {
                        .init(
                            agent: $0.agent,
                            model: $0.model,
                            requests: $0.requests,
                            input_tokens: $0.inputTokens,
                            output_tokens: $0.outputTokens,
                            cost_usd: Double($0.costPicoUSD) / 1e12
                        )
                    },
                    budgets: state.snapshot.configuration.agents.flatMap { agent in
                        policyWatcher.engine.budgetStatus(agent: agent.name).map {
                            Usage.Budget(
                                agent: agent.name,
                                period: $0.period.rawValue,
                                rule: $0.rule,
                                limit_usd: Double($0.limitPicoUSD) / 1e12,
                                spent_usd: Double($0.spentPicoUSD) / 1e12,
                                remaining_usd: Double(max(0, $0.limitPicoUSD - $0.spentPicoUSD)) / 1e12,
                                resets_at: UTCTimestamp.string(from: $0.resetsAt)
                            )
                        }
                    }
                )
            )
        }
        admin.post("reload") { _, _ in
            switch await reloader.reload() {
            case .applied(let restartRequired):
                return try jsonResponse(ReloadApplied(restart_required: restartRequired))
            case .rejected(let diagnostics):
                let body = ReloadRejected(
                    error: .init(message: "The new configuration is invalid; the running one is unchanged."),
                    errors: diagnostics
                )
                return try jsonResponse(body, status: .badRequest)
            }
        }
    }
}
