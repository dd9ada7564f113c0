internal import Foundation
internal import GatehouseCore

/// URLs as they may be shown: any `user:password@` part replaced, since a base URL can carry
/// credentials and logs and admin responses must never show one.
enum DisplayURL {
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let authorityEnd =
            afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return text }
        return String(text[..<schemeEnd.upperBound]) + Secret.redactedPlaceholder + String(afterScheme[at...])
    }
}
