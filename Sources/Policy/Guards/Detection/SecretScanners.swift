internal import Foundation

/// Scanners for credentials: provider API keys recognised by their prefixes (OpenAI, Anthropic,
/// AWS, GitHub, Slack, Stripe, Google), PEM private keys, JWTs, and a generic high-entropy token
/// rule for the rest. Prefixed kinds must start a word; fixed-length kinds must also end one, so a
/// key-shaped fragment inside a longer identifier is not a match.
extension BuiltinScanner {
    private static let skDash = Array("sk-".utf8)
    private static let antDash = Array("ant-".utf8)
    private static let openAIScopes = ["proj-", "svcacct-", "admin-"].map { Array($0.utf8) }
    private static let stripePrefixes = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_"].map {
        Array($0.utf8)
    }
    private static let awsPrefixes = [
        "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA",
    ]
    .map { Array($0.utf8) }
    private static let googlePrefix = Array("AIza".utf8)
    private static let githubPAT = Array("github_pat_".utf8)
    private static let slackPrefix = Array("xox".utf8)
    private static let jwtPrefix = Array("eyJ".utf8)
    private static let pemBegin = Array("-----BEGIN ".utf8)
    private static let pemEnd = Array("-----END ".utf8)
    private static let pemDashes = Array("-----".utf8)
    private static let privateKeyLabel = Array("PRIVATE KEY".utf8)
    private static let privateKeyBlockLabel = Array("PRIVATE KEY BLOCK".utf8)

    /// The prefixed secret starting at `index`, a word start (`-` for PEM), if any.
    static func prefixedSecret(_ text: ScanText, at index: Int, _ sink: MatchSink) -> (BuiltinDetector, Int)? {
        let byte = text[index]
        if byte == 0x2D {
            guard text[index - 1] != 0x2D, sink.wants(.privateKey), let end = privateKeyEnd(text, index) else {
                return nil
            }
            return (.privateKey, end)
        }
        // The second byte rejects ordinary words before any prefix table is touched. Kinds whose
        // body runs on over [A-Za-z0-9_-] start only outside such a run (`=sk-…`, not `x-sk-…`):
        // a failed candidate is then never rescanned from inside its own run.
        let second = text[index + 1]
        let standalone = !text[index - 1].isKeyChar
        let found: (detector: BuiltinDetector, end: Int)?
        switch byte {
        case 0x73 where second == 0x6B && standalone:  // sk
            found = openAIOrAnthropicKey(text, index) ?? stripeKey(text, index)
        case 0x72 where second == 0x6B && standalone, 0x70 where second == 0x6B && standalone:  // rk, pk
            found = stripeKey(text, index)
        case 0x41 where second.isUpper:  // A
            found = awsAccessKey(text, index) ?? (standalone ? googleAPIKey(text, index) : nil)
        case 0x67 where second == 0x68 || second == 0x69:  // gh, gi
            found = githubToken(text, index, standalone: standalone)
        case 0x78 where second == 0x6F && standalone:  // xo
            found = slackToken(text, index)
        case 0x65 where second == 0x79 && standalone:  // ey
            found = jwt(text, index)
        default:
            found = nil
        }
        guard let found, sink.wants(found.detector) else { return nil }
        return found
    }

    private static func containsDigit(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        for index in start..<end where text[index].isDigit { return true }
        return false
    }

    /// `sk-ant-` (optionally `api03-`, `admin01-`, …) then 20+ of [A-Za-z0-9_-]: Anthropic.
    /// Otherwise `sk-` (optionally `proj-`, `svcacct-`, `admin-`) then 20+ of [A-Za-z0-9_-] with a
    /// digit among them: OpenAI (the digit keeps hyphenated words like `sk-learn-…` out).
    private static func openAIOrAnthropicKey(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        guard text.has(skDash, at: start) else { return nil }
        let body = start + 3
        let end = text.runEnd(from: body) { $0.isKeyChar }
        if text.has(antDash, at: body) {
            var key = body + 4
            let letters = text.runEnd(from: key) { $0.isLower }
            if letters > key, text[letters].isDigit, text[letters + 1].isDigit, text[letters + 2] == 0x2D {
                key = letters + 3
            }
            return end - key >= 20 ? (.anthropicKey, end) : nil
        }
        var key = body
        for scope in openAIScopes where text.has(scope, at: body) {
            key += scope.count
            break
        }
        return end - key >= 20 && containsDigit(text, key, end) ? (.openAIKey, end) : nil
    }

    /// `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`, `pk_live_` then 16+ alphanumerics.
    private static func stripeKey(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        for prefix in stripePrefixes where text.has(prefix, at: start) {
            let end = text.runEnd(from: start + prefix.count) { $0.isAlnum }
            return end - start - prefix.count >= 16 ? (.stripeKey, end) : nil
        }
        return nil
    }

    /// One of the AWS key-id prefixes then exactly 16 of [A-Z2-7], ending the word.
    private static func awsAccessKey(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        guard awsPrefixes.contains(where: { text.has($0, at: start) }) else { return nil }
        for index in (start + 4)..<(start + 20) {
            let byte = text[index]
            guard byte.isUpper || (byte >= 0x32 && byte <= 0x37) else { return nil }
        }
        return text[start + 20].isAlnum ? nil : (.awsAccessKey, start + 20)
    }

    /// `AIza` then exactly 35 of [A-Za-z0-9_-], ending the word.
    private static func googleAPIKey(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        guard text.has(googlePrefix, at: start) else { return nil }
        let end = text.runEnd(from: start + 4) { $0.isKeyChar }
        return end - start == 39 ? (.googleAPIKey, end) : nil
    }

    /// `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` then exactly 36 alphanumerics; `github_pat_` then
    /// exactly 82 of [A-Za-z0-9_]; both ending the word.
    private static func githubToken(_ text: ScanText, _ start: Int, standalone: Bool) -> (BuiltinDetector, Int)? {
        if text.has(githubPAT, at: start) {
            guard standalone else { return nil }
            let end = text.runEnd(from: start + githubPAT.count) { $0.isAlnum || $0 == 0x5F }
            return end - start - githubPAT.count == 82 ? (.githubToken, end) : nil
        }
        let kind = text[start + 2]
        guard text[start + 1] == 0x68, text[start + 3] == 0x5F,
            kind == 0x70 || kind == 0x6F || kind == 0x75 || kind == 0x73 || kind == 0x72
        else { return nil }
        let end = text.runEnd(from: start + 4) { $0.isAlnum }
        return end - start == 40 && text[end] != 0x5F ? (.githubToken, end) : nil
    }

    /// `xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-` then 10+ of [A-Za-z0-9-].
    private static func slackToken(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        let kind = text[start + 3]
        guard text.has(slackPrefix, at: start), text[start + 4] == 0x2D,
            kind == 0x62 || kind == 0x61 || kind == 0x70 || kind == 0x72 || kind == 0x73
        else { return nil }
        var end = text.runEnd(from: start + 5) { $0.isAlnum || $0 == 0x2D }
        while end > start + 5, text[end - 1] == 0x2D { end -= 1 }
        return end - start - 5 >= 10 ? (.slackToken, end) : nil
    }

    /// Three base64url segments of 10+ characters joined by dots, the first two starting `eyJ`
    /// (base64 of `{"`).
    private static func jwt(_ text: ScanText, _ start: Int) -> (BuiltinDetector, Int)? {
        guard text.has(jwtPrefix, at: start) else { return nil }
        let header = text.runEnd(from: start) { $0.isKeyChar }
        guard header - start >= 10, text[header] == 0x2E, text.has(jwtPrefix, at: header + 1) else { return nil }
        let payload = text.runEnd(from: header + 1) { $0.isKeyChar }
        guard payload - header - 1 >= 10, text[payload] == 0x2E else { return nil }
        let signature = text.runEnd(from: payload + 1) { $0.isKeyChar }
        return signature - payload - 1 >= 10 ? (.jwt, signature) : nil
    }

    /// `-----BEGIN … PRIVATE KEY-----` (any upper-case label ending in `PRIVATE KEY` or
    /// `PRIVATE KEY BLOCK`) through the `-----END …-----` line with the same label, or to the end
    /// of the text when that never comes (a key cut off mid-stream is still a key).
    private static func privateKeyEnd(_ text: ScanText, _ start: Int) -> Int? {
        guard text.has(pemBegin, at: start) else { return nil }
        let labelStart = start + pemBegin.count
        let labelEnd = text.runEnd(from: labelStart) { $0.isUpper || $0 == 0x20 }
        guard text.has(pemDashes, at: labelEnd),
            text.has(privateKeyLabel, at: labelEnd - privateKeyLabel.count)
                || text.has(privateKeyBlockLabel, at: labelEnd - privateKeyBlockLabel.count)
        else { return nil }
        let label = Array(text.bytes[labelStart..<labelEnd])
        var search = labelEnd + pemDashes.count
        while let dash = text.firstIndex(of: 0x2D, from: search) {
            let labelAt = dash + pemEnd.count
            if text.has(pemEnd, at: dash), text.has(label, at: labelAt), text.has(pemDashes, at: labelAt + label.count)
            {
                return labelAt + label.count + pemDashes.count
            }
            search = dash + 1
        }
        return text.count
    }

    // MARK: - High-entropy tokens

    /// [A-Za-z0-9+/_-], and `=` only as trailing padding (so `API_KEY=value` is two runs).
    @inline(__always) private static func isTokenByte(_ byte: UInt8) -> Bool {
        byte.isKeyChar || byte == 0x2B || byte == 0x2F
    }

    /// Runs of 32+ token characters with letters and digits and a Shannon entropy of at least
    /// 4 bits per character. Not: hex-only runs shorter than 40 (ids, MD5), UUIDs, and runs whose
    /// pieces between `/`, `+`, `_`, `-` are all words (`src/components/Button2`, `my_long_name_v2`).
    /// Leading word pieces (`api_key_`, `/token/`) stay outside the match when 24+ characters remain.
    static func highEntropy(_ text: ScanText, _ sink: inout MatchSink) {
        var index = 0
        while sink.wants(.highEntropyToken), index < text.count {
            guard isTokenByte(text[index]) else {
                index += 1
                continue
            }
            let start = index
            var end = text.runEnd(from: start, isTokenByte)
            let next = end
            if text[end] == 0x3D {
                let padding = text.runEnd(from: end) { $0 == 0x3D }
                if !isTokenByte(text[padding]) { end = padding }
            }
            if end - start >= 32, let tokenStart = highEntropyTokenStart(text, start, end) {
                sink.add(.highEntropyToken, tokenStart, end)
            }
            index = max(next, start + 1)
        }
    }

    private static func highEntropyTokenStart(_ text: ScanText, _ start: Int, _ end: Int) -> Int? {
        var letters = false
        var digits = false
        for index in start..<end {
            let byte = text[index]
            if byte.isLetter { letters = true } else if byte.isDigit { digits = true }
        }
        guard letters, digits, !isHexIdentifier(text, start, end), entropy(text, start, end) >= 4.0 else {
            return nil
        }
        // Split into pieces at separators; all pieces words → a path or a name, not a secret.
        var pieceStart = start
        var allWords = true
        var firstSecretPiece: Int?
        for index in start...end where index == end || isPieceSeparator(text[index]) {
            if index > pieceStart {
                if !isWordPiece(text, pieceStart, index) {
                    allWords = false
                    if firstSecretPiece == nil { firstSecretPiece = pieceStart }
                }
            }
            pieceStart = index + 1
        }
        guard !allWords else { return nil }
        if let firstSecretPiece, end - firstSecretPiece >= 24 { return firstSecretPiece }
        return start
    }

    @inline(__always) private static func isPieceSeparator(_ byte: UInt8) -> Bool {
        byte == 0x2F || byte == 0x2B || byte == 0x5F || byte == 0x2D || byte == 0x3D
    }

    /// Letters (lower case, Capitalised humps, or all capitals) then digits; or digits alone.
    private static func isWordPiece(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        let lettersEnd = min(end, text.runEnd(from: start) { $0.isLetter })
        for index in lettersEnd..<end where !text[index].isDigit { return false }
        var allUpper = true
        for index in start..<lettersEnd where !text[index].isUpper {
            allUpper = false
            break
        }
        if allUpper { return true }
        for index in start..<lettersEnd where text[index].isUpper {
            guard index + 1 < lettersEnd, text[index + 1].isLower else { return false }
        }
        return true
    }

    /// Hex digits with `-`/`_` (after an optional short word prefix such as `req_`), fewer than
    /// 40 hex digits: a UUID, a hash, a request id.
    private static func isHexIdentifier(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        var core = start
        let prefixEnd = text.runEnd(from: start) { $0.isLetter }
        if prefixEnd - start <= 16, prefixEnd < end, text[prefixEnd] == 0x5F || text[prefixEnd] == 0x2D {
            core = prefixEnd + 1
        }
        var hexDigits = 0
        for index in core..<end {
            let byte = text[index]
            if byte.isHexDigit {
                hexDigits += 1
            } else if byte != 0x2D && byte != 0x5F {
                return false
            }
        }
        return hexDigits < 40
    }

    /// Shannon entropy of the bytes in bits per byte.
    private static func entropy(_ text: ScanText, _ start: Int, _ end: Int) -> Double {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { counts in
            counts.initialize(repeating: 0)
            for index in start..<end { counts[Int(text[index] & 0x7F)] += 1 }
            let length = Double(end - start)
            var sum = 0.0
            for count in counts where count > 0 {
                let value = Double(count)
                sum += value * log2(value)
            }
            return log2(length) - sum / length
        }
    }
}
