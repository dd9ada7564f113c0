internal import GatehouseJSON

/// Reads every page of one server's paginated list (`tools/list`, `prompts/list`, …): the items in
/// order, the smallest `ttlMs` the pages carried (0 when one had none), and the params of the next
/// page's request. Pure; bounded to `maximumPages` so a server's cursor loop cannot hold a caller.
struct PagedListReader {
    static let maximumPages = 100

    /// The member of each result that holds the items (`tools`, `prompts`, `resources`, …).
    let key: String
    private(set) var items: [JSONValue] = []
    private var smallestTTL: Int?
    private var cursor: String?
    private var pages = 0
    private(set) var isComplete = false

    init(key: String) {
        self.key = key
    }

    var ttlMilliseconds: Int { smallestTTL ?? 0 }

    /// `params` of the next page's request.
    var nextParams: JSONValue {
        var params = JSONObject()
        if let cursor { params["cursor"] = .string(cursor) }
        return .object(params)
    }

    /// Takes one page's result. False when it holds no list under `key` (and reading stops).
    mutating func absorb(_ result: JSONValue) -> Bool {
        guard let page = result[key]?.arrayValue else {
            isComplete = true
            return false
        }
        items += page
        let pageTTL = max(result["ttlMs"]?.intValue ?? 0, 0)
        smallestTTL = min(smallestTTL ?? pageTTL, pageTTL)
        cursor = result["nextCursor"]?.stringValue
        pages += 1
        isComplete = cursor == nil || pages >= Self.maximumPages
        return true
    }
}
