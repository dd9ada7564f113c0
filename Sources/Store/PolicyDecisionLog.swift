/// One policy decision as the audit log keeps it.
public struct PolicyDecisionRow: Sendable, Equatable {
    public var id: Int64
    public var decidedAt: String
    public var requestID: String?
    public var agent: String
    public var plane: String
    public var action: String
    public var target: String
    public var decision: String
    public var rule: String
    public var reason: String

    public init(
        id: Int64 = 0,
        decidedAt: String,
        requestID: String?,
        agent: String,
        plane: String,
        action: String,
        target: String,
        decision: String,
        rule: String,
        reason: String
    ) {
        self.id = id
        self.decidedAt = decidedAt
        self.requestID = requestID
        self.agent = agent
        self.plane = plane
        self.action = action
        self.target = target
        self.decision = decision
        self.rule = rule
        self.reason = reason
    }
}

/// Which decisions to read back; every filter is optional. Times compare as the stored UTC
/// timestamps (`2026-12-06T22:19:06.590Z`), so a prefix (`2026-12-06`) works too.
public struct PolicyDecisionQuery: Sendable, Equatable {
    public var agent: String?
    public var target: String?
    public var decision: String?
    public var since: String?
    public var until: String?
    public var limit: Int

    public init(
        agent: String? = nil,
        target: String? = nil,
        decision: String? = nil,
        since: String? = nil,
        until: String? = nil,
        limit: Int = 100
    ) {
        self.agent = agent
        self.target = target
        self.decision = decision
        self.since = since
        self.until = until
        self.limit = limit
    }
}

extension Store {
    /// Appends decisions in one transaction.
    public func recordPolicyDecisions(_ rows: [PolicyDecisionRow]) async throws {
        guard !rows.isEmpty else { return }
        _ = try await write { connection throws in
            let insert = try connection.cachedStatement(
                """
                INSERT INTO policy_decisions (decided_at, request_id, agent, plane, action, target, decision, rule, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            )
            try connection.transaction { () throws in
                for row in rows {
                    try insert.run([
                        .text(row.decidedAt), row.requestID.map { .text($0) } ?? .null, .text(row.agent),
                        .text(row.plane), .text(row.action), .text(row.target), .text(row.decision), .text(row.rule),
                        .text(row.reason),
                    ])
                }
            }
        }
    }

    /// Decisions matching the query, newest first.
    public func policyDecisions(_ query: PolicyDecisionQuery) async throws -> [PolicyDecisionRow] {
        try await read { connection throws in
            var conditions: [String] = []
            var parameters: [PreparedStatement.Value] = []
            if let agent = query.agent {
                conditions.append("agent = ?")
                parameters.append(.text(agent))
            }
            if let target = query.target {
                conditions.append("target = ?")
                parameters.append(.text(target))
            }
            if let decision = query.decision {
                conditions.append("decision = ?")
                parameters.append(.text(decision))
            }
            if let since = query.since {
                conditions.append("decided_at >= ?")
                parameters.append(.text(since))
            }
            if let until = query.until {
                conditions.append("decided_at < ?")
                parameters.append(.text(until))
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            parameters.append(.integer(Int64(max(1, min(query.limit, 10_000)))))
            let rows = try connection.prepare(
                """
                SELECT id, decided_at, request_id, agent, plane, action, target, decision, rule, reason
                FROM policy_decisions \(filter) ORDER BY id DESC LIMIT ?
                """
            ).run(parameters)
            return rows.compactMap { row -> PolicyDecisionRow? in
                guard row.count == 10, case .integer(let id) = row[0], case .text(let decidedAt) = row[1],
                    case .text(let agent) = row[3], case .text(let plane) = row[4], case .text(let action) = row[5],
                    case .text(let target) = row[6], case .text(let decision) = row[7], case .text(let rule) = row[8],
                    case .text(let reason) = row[9]
                else { return nil }
                var requestID: String?
                if case .text(let text) = row[2] { requestID = text }
                return PolicyDecisionRow(
                    id: id,
                    decidedAt: decidedAt,
                    requestID: requestID,
                    agent: agent,
                    plane: plane,
                    action: action,
                    target: target,
                    decision: decision,
                    rule: rule,
                    reason: reason
                )
            }
        }
    }
}
