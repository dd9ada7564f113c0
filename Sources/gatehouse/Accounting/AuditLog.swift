internal import Policy
internal import Store

/// The audit log of policy decisions: every decision on a call, queued and written to the store
/// by a `RowWriter`, never dropped (a full queue makes the deciding call wait).
final class AuditLog: DecisionAuditSink, Sendable {
    let rows: RowQueue<PolicyDecisionRow>

    init(capacity: Int = 10_000) {
        rows = RowQueue(capacity: capacity)
    }

    func record(_ decision: DecisionRecord) async {
        await rows.append(
            PolicyDecisionRow(
                decidedAt: UTCTimestamp.now(),
                requestID: decision.requestID,
                agent: decision.agent,
                plane: decision.plane,
                action: decision.action,
                target: decision.target,
                decision: decision.decision.rawValue,
                rule: decision.rule,
                reason: decision.reason
            )
        )
    }
}
