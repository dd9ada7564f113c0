internal import Foundation

/// The view of an argument that a path or URL rule judges. Rules must see what the server will
/// act on, not the characters an agent chose to write, so both normalisers undo every encoding
/// that could hide a traversal or another host, and refuse what cannot be judged.
enum ArgumentNormalizer: String, Sendable, CaseIterable {
    case none
    case path
    case url

    /// Why a value cannot be judged: the call is denied with this reason.
    struct Refusal: Error, Equatable {
        let reason: String
    }
}

/// File paths: percent-decoding (repeated, so `%252e` cannot smuggle a dot past one round),
/// Unicode NFKC (so `‥` and fullwidth solidi become `..` and `/`), backslashes as separators,
/// then `.` and `..` resolved and repeated slashes collapsed. NUL and control characters are
/// refused outright: servers truncate or mangle them differently.
enum PathNormalizer {
    static let maximumDecodingRounds = 4

    static func normalize(_ raw: String) -> Result<String, ArgumentNormalizer.Refusal> {
        var text = raw
        if text.utf8.contains(UInt8(ascii: "%")) {
            for _ in 0..<maximumDecodingRounds {
                guard text.utf8.contains(UInt8(ascii: "%")), let decoded = text.removingPercentEncoding,
                    decoded != text
                else { break }
                text = decoded
            }
            if text.utf8.contains(UInt8(ascii: "%")), text.removingPercentEncoding.map({ $0 != text }) == true {
                return .failure(.init(reason: "the path is percent-encoded more than \(maximumDecodingRounds) times"))
            }
        }
        // ASCII is its own NFKC form: only other text pays for the Unicode normalisation.
        if !text.utf8.allSatisfy({ $0 < 0x80 }) { text = text.precomposedStringWithCompatibilityMapping }
        let isASCII = text.utf8.allSatisfy { $0 < 0x80 }
        if isASCII {
            if text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                return .failure(.init(reason: "the path contains NUL or control characters"))
            }
        } else if text.unicodeScalars.contains(where: {
            $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value)
        }) {
            return .failure(.init(reason: "the path contains NUL or control characters"))
        }
        // Segments are resolved on the UTF-8 bytes: `/`, `\` and `.` are ASCII, and UTF-8 never
        // uses ASCII bytes inside a multi-byte character.
        let bytes = Array(text.utf8)
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        let isAbsolute = bytes.first == slash || bytes.first == UInt8(ascii: "\\")
        var segments: [ArraySlice<UInt8>] = []
        var start = 0
        for index in 0...bytes.count {
            guard index == bytes.count || bytes[index] == slash || bytes[index] == UInt8(ascii: "\\") else { continue }
            let segment = bytes[start..<index]
            start = index + 1
            if segment.isEmpty || segment.elementsEqual([dot]) { continue }
            if segment.elementsEqual([dot, dot]) {
                if segments.isEmpty || segments.last?.elementsEqual([dot, dot]) == true {
                    // Above the root stays at the root; a relative path keeps its leading `..`.
                    if !isAbsolute { segments.append(segment) }
                } else {
                    segments.removeLast()
                }
            } else {
                segments.append(segment)
            }
        }
        var joined: [UInt8] = []
        joined.reserveCapacity(bytes.count + 1)
        for (position, segment) in segments.enumerated() {
            if isAbsolute || position > 0 { joined.append(slash) }
            joined.append(contentsOf: segment)
        }
        if isAbsolute && segments.isEmpty { joined.append(slash) }
        return .success(String(decoding: joined, as: UTF8.self))
    }

    /// Whether `path` lies under `directory` (both normalised), segment by segment: `/srv/pub` is not
    /// under `/srv/public`. A directory written with a trailing slash admits only what is inside
    /// it; without, the directory itself too.
    static func isWithin(_ path: String, directory: String) -> Bool {
        if directory == "/" { return path.hasPrefix("/") }
        if directory.hasSuffix("/") { return path.hasPrefix(directory) && path.count > directory.count }
        return path == directory || path.hasPrefix(directory + "/")
    }
}

/// URLs the way HTTP clients read them (the WHATWG URL rules browsers, curl and Python's httpx
/// follow closely enough for a policy): surrounding whitespace and tabs or newlines inside are
/// dropped, the scheme is lowercased, backslashes count as slashes, user information is cut off
/// (`https://trusted@evil.example` goes to `evil.example`), and the host is percent-decoded,
/// NFKC-normalised, lowercased and stripped of a trailing dot. Hosts written as one number or in
/// octal or hex parts are refused rather than guessed at.
enum URLNormalizer {
    struct Parsed: Equatable {
        let scheme: String
        let host: String
        let port: Int?
        let path: String

        /// `scheme://host[:port]/path`, what prefix, equality and regex checks see.
        var canonical: String {
            let portPart = port.map { ":\($0)" } ?? ""
            return "\(scheme)://\(host)\(portPart)\(path)"
        }
    }

    static func parse(_ raw: String) -> Result<Parsed, ArgumentNormalizer.Refusal> {
        var text = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\u{0}"..."\u{20}"))
        text.unicodeScalars.removeAll { $0 == "\t" || $0 == "\n" || $0 == "\r" }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return .failure(.init(reason: "the URL contains control characters"))
        }
        guard let colon = text.firstIndex(of: ":") else {
            return .failure(.init(reason: "the URL has no scheme"))
        }
        let scheme = text[..<colon].lowercased()
        guard let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return .failure(.init(reason: "the URL's scheme is malformed")) }
        var rest = text[text.index(after: colon)...].replacingOccurrences(of: "\\", with: "/")[...]
        guard rest.hasPrefix("//") else {
            return .failure(.init(reason: "the URL has no host"))
        }
        rest = rest.drop(while: { $0 == "/" })
        let authorityEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let remainder = rest[authorityEnd...]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var hostText = authority
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(.init(reason: "the URL's IPv6 host is not closed"))
            }
            hostText = authority[...close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()), (0...65535).contains(parsed) else {
                    return .failure(.init(reason: "the URL's port is invalid"))
                }
                port = parsed
            } else if !after.isEmpty {
                return .failure(.init(reason: "the URL's host is malformed"))
            }
        } else if let portColon = authority.lastIndex(of: ":") {
            hostText = authority[..<portColon]
            let portText = authority[authority.index(after: portColon)...]
            if !portText.isEmpty {
                guard let parsed = Int(portText), (0...65535).contains(parsed) else {
                    return .failure(.init(reason: "the URL's port is invalid"))
                }
                port = parsed
            }
        }
        guard var host = String(hostText).removingPercentEncoding else {
            return .failure(.init(reason: "the URL's host is badly percent-encoded"))
        }
        host = host.precomposedStringWithCompatibilityMapping.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty else { return .failure(.init(reason: "the URL has an empty host")) }
        if host.unicodeScalars.contains(where: { " %/\\?#@".unicodeScalars.contains($0) || $0.value < 0x21 }) {
            return .failure(.init(reason: "the URL's host contains characters no host may have"))
        }
        if !host.hasPrefix("["), Self.looksNumeric(host), !Self.isDottedDecimalIPv4(host) {
            return .failure(.init(reason: "the URL's host is a number in a form clients read differently"))
        }
        if port == Self.defaultPorts[scheme] { port = nil }
        let pathEnd = remainder.firstIndex(where: { "?#".contains($0) }) ?? remainder.endIndex
        let path = String(remainder[..<pathEnd])
        return .success(Parsed(scheme: scheme, host: host, port: port, path: path.isEmpty ? "/" : path))
    }

    private static let defaultPorts = ["http": 80, "https": 443, "ws": 80, "wss": 443]

    /// A host whose last label is numeric is an IPv4 address to an HTTP client, in any of its forms.
    private static func looksNumeric(_ host: String) -> Bool {
        guard let last = host.split(separator: ".").last else { return false }
        return last.allSatisfy(\.isHexDigit) && (last.first?.isNumber ?? false)
            || last.lowercased().hasPrefix("0x")
    }

    private static func isDottedDecimalIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isNumber), let value = Int(part),
                value <= 255
            else { return false }
            return part == "0" || !part.hasPrefix("0")
        }
    }
}
