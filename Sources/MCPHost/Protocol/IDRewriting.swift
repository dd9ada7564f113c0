public import GatehouseJSON

/// Who sent a request that shares an upstream connection with others: a downstream session, or
/// one stdio client. Opaque to the table; the caller decides what a token stands for.
public struct ClientToken: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "client-\(rawValue)" }
}

/// A request sent upstream and not answered yet.
public struct PendingUpstreamRequest: Sendable, Equatable {
    public let client: ClientToken
    /// The id the client chose; its reply goes back with this id.
    public let originalID: JSONRPCID
    /// The client's `_meta.progressToken`, if it asked for progress.
    public let originalProgressToken: JSONValue?
    /// The gateway-minted id the upstream sees (also its progress token, when one was asked for).
    public let upstreamID: JSONRPCID
    /// Mint order, for returning entries oldest first.
    let sequence: UInt64

    /// The error the client gets when the request cannot complete (the upstream died, the
    /// gateway is shutting down), answering the client's own id.
    public func errorResponse(_ error: JSONRPCErrorObject) -> JSONRPCMessage {
        .errorResponse(id: originalID, error: error)
    }
}

/// Why a request cannot be sent upstream.
public enum UpstreamRequestTableError: Error, Sendable, Equatable {
    /// `maximumPending` requests are already in flight on this connection.
    case full(maximumPending: Int)
    /// The client already has a request in flight with this id (ids must not be reused while
    /// in flight), so replies could not be told apart.
    case duplicateRequestID(JSONRPCID)
}

/// Request-id bookkeeping for one upstream connection that several clients share. Clients pick
/// ids independently, so two may both send id 1: every request goes upstream under a
/// gateway-minted id (`gh-<n>`), progress tokens are replaced the same way, and replies,
/// progress and cancellations are mapped back. Pure and bounded; one table per direction per
/// upstream connection, owned by whoever owns the connection.
public struct UpstreamRequestTable: Sendable {
    public let maximumPending: Int
    private let idPrefix: String
    private var nextSequence: UInt64 = 1
    private var pending: [JSONRPCID: PendingUpstreamRequest] = [:]
    private var upstreamIDs: [ClientKey: JSONRPCID] = [:]

    private struct ClientKey: Hashable {
        let client: ClientToken
        let originalID: JSONRPCID
    }

    /// `idPrefix` starts every minted id; pick one per table so ids from different tables can't be confused.
    public init(maximumPending: Int, idPrefix: String = "gh-") {
        precondition(maximumPending > 0, "maximumPending must be positive")
        self.maximumPending = maximumPending
        self.idPrefix = idPrefix
    }

    public var pendingCount: Int { pending.count }

    /// Records a request and returns the id to send upstream. With a progress token, the same
    /// minted id (as a string) replaces it upstream: it is unique while the request is pending.
    public mutating func mint(
        for client: ClientToken,
        originalID: JSONRPCID,
        progressToken: JSONValue?
    ) throws(UpstreamRequestTableError) -> JSONRPCID {
        let key = ClientKey(client: client, originalID: originalID)
        guard upstreamIDs[key] == nil else { throw .duplicateRequestID(originalID) }
        guard pending.count < maximumPending else { throw .full(maximumPending: maximumPending) }
        let upstreamID = JSONRPCID.string("\(idPrefix)\(nextSequence)")
        nextSequence += 1
        pending[upstreamID] = PendingUpstreamRequest(
            client: client,
            originalID: originalID,
            originalProgressToken: progressToken,
            upstreamID: upstreamID,
            sequence: nextSequence - 1
        )
        upstreamIDs[key] = upstreamID
        return upstreamID
    }

    /// The pending request an upstream id belongs to, left in the table.
    public func resolve(_ upstreamID: JSONRPCID) -> PendingUpstreamRequest? { pending[upstreamID] }

    /// Removes and returns the pending request an upstream id belongs to.
    @discardableResult
    public mutating func remove(_ upstreamID: JSONRPCID) -> PendingUpstreamRequest? {
        guard let entry = pending.removeValue(forKey: upstreamID) else { return nil }
        upstreamIDs[ClientKey(client: entry.client, originalID: entry.originalID)] = nil
        return entry
    }

    /// The upstream id of a client's pending request.
    public func upstreamID(for client: ClientToken, originalID: JSONRPCID) -> JSONRPCID? {
        upstreamIDs[ClientKey(client: client, originalID: originalID)]
    }

    /// Removes and returns every pending request of one client (it went away: the caller sends
    /// `notifications/cancelled` upstream for each).
    public mutating func failAll(for client: ClientToken) -> [PendingUpstreamRequest] {
        let entries = pending.values.filter { $0.client == client }.sorted(by: Self.mintOrder)
        for entry in entries { remove(entry.upstreamID) }
        return entries
    }

    /// Removes and returns every pending request, oldest first (the upstream connection or
    /// process died: each client gets `errorResponse` for each of its requests).
    public mutating func drain() -> [PendingUpstreamRequest] {
        let entries = pending.values.sorted(by: Self.mintOrder)
        pending = [:]
        upstreamIDs = [:]
        return entries
    }

    private static func mintOrder(_ lhs: PendingUpstreamRequest, _ rhs: PendingUpstreamRequest) -> Bool {
        lhs.sequence < rhs.sequence
    }
}

// MARK: - Whole messages

extension UpstreamRequestTable {
    /// A client's request as it goes upstream: minted id, and the minted progress token in place
    /// of the client's. Other messages are returned unchanged.
    public mutating func outgoingRequest(
        _ message: JSONRPCMessage,
        from client: ClientToken
    ) throws(UpstreamRequestTableError) -> JSONRPCMessage {
        guard case .request(let id, _, _) = message.kind else { return message }
        let progressToken = message.progressToken
        let upstreamID = try mint(for: client, originalID: id, progressToken: progressToken)
        var rewritten = message.replacingID(with: upstreamID)
        if progressToken != nil {
            rewritten =
                rewritten.replacingParamsMember("progressToken", with: upstreamID.jsonValue, inMeta: true) ?? rewritten
        }
        return rewritten
    }

    /// An upstream reply on its way back: removed from the table, with the client's id restored.
    /// Nil for an id the table does not know (late, after a cancellation, or never sent).
    public mutating func incomingResponse(_ message: JSONRPCMessage) -> (client: ClientToken, message: JSONRPCMessage)?
    {
        switch message.kind {
        case .response, .errorResponse:
            guard let upstreamID = message.id, let entry = remove(upstreamID) else { return nil }
            return (entry.client, message.replacingID(with: entry.originalID))
        case .request, .notification:
            return nil
        }
    }

    /// An upstream `notifications/progress` routed back to the client that asked, with its own
    /// token restored. Nil for other messages and for tokens of no pending request.
    public func incomingProgress(_ message: JSONRPCMessage) -> (client: ClientToken, message: JSONRPCMessage)? {
        guard case .notification("notifications/progress", let params) = message.kind,
            let token = params?["progressToken"], let upstreamID = JSONRPCID(token),
            let entry = pending[upstreamID], let original = entry.originalProgressToken,
            let rewritten = message.replacingParamsMember("progressToken", with: original, inMeta: false)
        else { return nil }
        return (entry.client, rewritten)
    }

    /// A client's `notifications/cancelled` as it goes upstream, naming the minted id. The
    /// request leaves the table: the upstream should not answer it, and a late answer is dropped.
    /// Nil when the request is not pending (already answered, or never sent).
    public mutating func outgoingCancellation(_ message: JSONRPCMessage, from client: ClientToken) -> JSONRPCMessage? {
        guard case .notification("notifications/cancelled", let params) = message.kind,
            let requestID = params?["requestId"].flatMap(JSONRPCID.init),
            let upstreamID = upstreamID(for: client, originalID: requestID),
            let rewritten = message.replacingParamsMember("requestId", with: upstreamID.jsonValue, inMeta: false)
        else { return nil }
        remove(upstreamID)
        return rewritten
    }
}
