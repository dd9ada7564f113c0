/// Scanners for text that speaks to the model from inside data (a tool result, a fetched page, a
/// document): an explicit list of injection phrases and chat-template markers, and invisible text
/// (Unicode tag characters, zero-width runs, zero-width characters inside words).
///
/// The phrase list is deliberately explicit, so a reviewer can see what is caught and why prose
/// is not: each phrase needs its imperative and its object (`ignore` + `previous instructions`),
/// not a single word. Matching is case-insensitive on the NFKC view (fullwidth letters and
/// zero-width padding do not hide a phrase), with any run of whitespace between words.
extension BuiltinScanner {
    /// The phrases `prompt_injection` looks for. Keep this list explicit and reviewed.
    ///
    /// Syntax: slots separated by spaces, each matching one run of whitespace in the text;
    /// `a|b` alternatives; `?` after a slot makes it optional; `+` inside an alternative stands for
    /// whitespace; a leading `^` anchors the phrase at the start of a line. Letters are lowercase.
    static let injectionPhrases: [String] = [
        // Overriding earlier instructions.
        "ignore all|any|every? of? the|your|my|these|those|this? "
            + "previous|prior|above|earlier|preceding|former|original|foregoing "
            + "instructions|instruction|prompts|prompt|rules|directions|directives|guidelines|commands|context",
        "disregard all|any|every? of? the|your|my|these|those|this? "
            + "previous|prior|above|earlier|preceding|former|original|foregoing|system "
            + "instructions|instruction|prompts|prompt|rules|directions|directives|guidelines|messages|message",
        "forget all|any|every? of? the|your|my|these|those? "
            + "previous|prior|above|earlier|preceding|former|original "
            + "instructions|instruction|prompts|prompt|rules|directions|guidelines",
        "ignore|disregard|forget everything above|before|you+were+told|you+have+been+told",
        "ignore|disregard|forget|override|overwrite your|the "
            + "system+prompt|system+message|system+instructions",
        // Re-assigning the model's identity.
        "you are now dan|jailbroken|unrestricted|unfiltered|uncensored|unchained|"
            + "in+developer+mode|in+dev+mode|in+god+mode|in+jailbreak+mode|no+longer+bound|no+longer+an+ai|"
            + "free+from|acting+as",
        "you are now a|an new|different|unrestricted|unfiltered|uncensored|evil|rogue "
            + "ai|assistant|model|chatbot|persona",
        // Smuggled instructions and prompt extraction.
        "new|updated|revised|real|actual|additional|secret|hidden|true "
            + "instructions:|instruction:|system+prompt:",
        "system prompt:",
        "reveal|print|show|output|repeat|leak|display|dump|disclose me? your|the "
            + "system+prompt|initial+instructions|hidden+instructions|original+instructions|system+message",
        // Hiding actions from the user.
        "do+not|does+not|never|don't|don’t|dont tell|inform|notify|alert|warn the|your? "
            + "user|users|human",
        "without telling|informing|notifying|alerting|warning the|your? user|users|human",
        "do+not|never|don't|don’t|dont mention|reveal|disclose this|these|that|it|anything to "
            + "the|your? user|users|human",
        // Role markers at the start of a line.
        "^system:|assistant:",
        "^### instructions:|instruction:|instructions|instruction|system:|system",
    ]

    /// Chat-template tokens, matched anywhere (they contain `|`, so they are not phrase syntax).
    static let injectionMarkers: [String] = [
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|system|>", "<|assistant|>", "<|user|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "[inst]", "[/inst]", "<<sys>>", "<</sys>>",
    ]

    static let phraseTable = PhraseTable(phrases: injectionPhrases, literals: injectionMarkers)

    // MARK: - Invisible text

    /// Ranges (UTF-8 offsets of the original text) of: Unicode tag characters (except the tag
    /// sequence of a subdivision flag such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿), runs of two or more zero-width characters
    /// (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+180E), and a single one between two ASCII letters
    /// or digits. A single joiner between non-ASCII letters is left alone: Persian, Indic and Thai
    /// text use them legitimately.
    static func invisibleText(_ bytes: UnsafeBufferPointer<UInt8>, firstOnly: Bool) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var previous: UInt32 = 0
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                previous = UInt32(lead)
                index += 1
                continue
            }
            let (value, length) = NormalizedText.decodeScalar(bytes, at: index)
            let isTag = value >= 0xE0000 && value <= 0xE007F
            guard isTag || isZeroWidth(value) else {
                previous = value
                index += length
                continue
            }
            var end = index + length
            var run = 1
            var last = value
            var allowedFlag = isTag && previous == 0x1F3F4 && isFlagTag(value)
            while end < count {
                let (next, nextLength) = NormalizedText.decodeScalar(bytes, at: end)
                guard isTag ? (next >= 0xE0000 && next <= 0xE007F) : isZeroWidth(next) else { break }
                if isTag, last == 0xE007F || !(next == 0xE007F || isFlagTag(next)) { allowedFlag = false }
                run += 1
                last = next
                end += nextLength
            }
            let following: UInt32 = end < count ? NormalizedText.decodeScalar(bytes, at: end).0 : 0
            let suspicious: Bool
            if isTag {
                suspicious = !(allowedFlag && last == 0xE007F && run >= 3 && run <= 8)
            } else {
                suspicious = run >= 2 || (isASCIIAlnum(previous) && isASCIIAlnum(following))
            }
            if suspicious {
                found.append(index..<end)
                if firstOnly { return found }
            }
            previous = last
            index = end
        }
        return found
    }

    /// Tag digits and lower-case tag letters, the body of a subdivision flag (`gbsct`).
    private static func isFlagTag(_ value: UInt32) -> Bool {
        (value >= 0xE0030 && value <= 0xE0039) || (value >= 0xE0061 && value <= 0xE007A)
    }

    private static func isZeroWidth(_ value: UInt32) -> Bool {
        switch value {
        case 0x200B...0x200D, 0x2060...0x2064, 0xFEFF, 0x180E: return true
        default: return false
        }
    }

    private static func isASCIIAlnum(_ value: UInt32) -> Bool {
        value < 0x80 && UInt8(value).isAlnum
    }
}

/// Injection phrases compiled into flat arrays of plain values (no reference counting on the hot
/// path), behind a prefilter on the first two bytes of a word: one table lookup rejects almost
/// every word start of ordinary text.
struct PhraseTable: Sendable {
    private struct Token {
        let start: Int
        let end: Int
        /// Ends in a letter or digit: the next byte of the text must not be one.
        let endsWord: Bool
    }

    private struct Slot {
        let firstToken: Int
        let endToken: Int
        let optional: Bool
    }

    private struct Phrase {
        let firstSlot: Int
        let endSlot: Int
        let lineStart: Bool
        /// The range of `leads` holding the phrase's possible first tokens.
        let firstLead: Int
        let endLead: Int
    }

    /// The first (up to) four bytes of a token that can start a phrase, packed little-endian, with
    /// the mask of the bytes that count (those before a `+`, and no more than the token has).
    private struct Lead {
        let key: UInt32
        let mask: UInt32
    }

    private var bytes: [UInt8] = []
    private var tokens: [Token] = []
    private var slots: [Slot] = []
    private var phrases: [Phrase] = []
    private var leads: [Lead] = []
    /// The prefilter's alphabet: letters (either case) 1–26, then the other bytes phrases start
    /// with, whitespace one class; 0 for every byte no phrase can start with.
    private var byteClass = [UInt8](repeating: 0, count: 256)
    private var classCount = 27
    /// Bit `i` of `pairs[first * classCount + second]`: phrase `i` can start with that pair of
    /// byte classes. At most 64 phrases.
    private var pairs: [UInt64] = []

    init(phrases patterns: [String], literals: [String]) {
        var compiled: [([([UInt8], Bool)], Bool)] = []
        for pattern in patterns {
            let lineStart = pattern.hasPrefix("^")
            let slotTexts = pattern.drop(while: { $0 == "^" }).split(separator: " ")
            compiled.append(
                (
                    slotTexts.flatMap { slot -> [([UInt8], Bool)] in
                        let optional = slot.hasSuffix("?")
                        let body = optional ? slot.dropLast() : slot
                        // Alternatives of one slot share its optional flag; an empty token closes it.
                        return body.split(separator: "|").map { (Array($0.utf8), optional) } + [([], optional)]
                    },
                    lineStart
                )
            )
        }
        for literal in literals { compiled.append(([(Array(literal.utf8), false), ([], false)], false)) }
        for letter in UInt8(0x61)...UInt8(0x7A) {
            byteClass[Int(letter)] = letter - 0x60
            byteClass[Int(letter - 0x20)] = letter - 0x60
        }
        for (flat, _) in compiled {
            for (token, _) in flat {
                for byte in token.prefix(2) where byteClass[Int(byte)] == 0 {
                    if byte == 0x2B {
                        for space in [0x20, 0x09, 0x0A, 0x0D] { byteClass[space] = UInt8(classCount) }
                    } else {
                        byteClass[Int(byte)] = UInt8(classCount)
                    }
                    classCount += 1
                }
            }
        }
        pairs = [UInt64](repeating: 0, count: classCount * classCount)
        for (flat, lineStart) in compiled { add(flat, lineStart) }
    }

    /// Adds one phrase given as tokens with an optional flag, each slot closed by an empty token.
    private mutating func add(_ flat: [([UInt8], Bool)], _ lineStart: Bool) {
        let phrase = phrases.count
        guard phrase < 64 else { return }
        let firstSlot = slots.count
        let firstLead = leads.count
        var slotStart = tokens.count
        var leading = true
        for (token, optional) in flat {
            guard !token.isEmpty else {
                slots.append(Slot(firstToken: slotStart, endToken: tokens.count, optional: optional))
                slotStart = tokens.count
                leading = leading && optional
                continue
            }
            if leading, let first = token.first {
                let row = Int(byteClass[Int(first)]) * classCount
                if token.count > 1 {
                    pairs[row + Int(byteClass[Int(token[1])])] |= 1 << phrase
                } else {
                    for second in 0..<classCount { pairs[row + second] |= 1 << phrase }
                }
                var key: UInt32 = 0
                var mask: UInt32 = 0
                for (offset, byte) in token.prefix(4).enumerated() {
                    if byte == 0x2B { break }
                    key |= UInt32(byte) << (8 * offset)
                    mask |= 0xFF << (8 * offset)
                }
                leads.append(Lead(key: key, mask: mask))
            }
            tokens.append(
                Token(start: bytes.count, end: bytes.count + token.count, endsWord: token.last?.isAlnum ?? false)
            )
            bytes += token
        }
        phrases.append(
            Phrase(
                firstSlot: firstSlot,
                endSlot: slots.count,
                lineStart: lineStart,
                firstLead: firstLead,
                endLead: leads.count
            )
        )
    }

    /// The end of the first phrase matching at `index`, or nil.
    @inline(__always) func match(_ text: ScanText, at index: Int) -> Int? {
        let first = Int(byteClass[Int(text[index])])
        guard first != 0 else { return nil }
        let candidates = pairs[first * classCount + Int(byteClass[Int(text[index + 1])])]
        return candidates == 0 ? nil : match(candidates, text, index)
    }

    private func match(_ candidates: UInt64, _ text: ScanText, _ index: Int) -> Int? {
        var candidates = candidates
        var key = UInt32(text[index].asciiLowercased) | UInt32(text[index + 1].asciiLowercased) << 8
        key |= UInt32(text[index + 2].asciiLowercased) << 16 | UInt32(text[index + 3].asciiLowercased) << 24
        while candidates != 0 {
            let phrase = phrases[candidates.trailingZeroBitCount]
            candidates &= candidates - 1
            var lead = phrase.firstLead
            while lead < phrase.endLead, key & leads[lead].mask != leads[lead].key { lead += 1 }
            if lead == phrase.endLead { continue }
            if phrase.lineStart, !Self.isLineStart(text, index) { continue }
            if let end = match(phrase.firstSlot, phrase.endSlot, text, index, needsSpace: false) { return end }
        }
        return nil
    }

    private static func isLineStart(_ text: ScanText, _ index: Int) -> Bool {
        var before = index - 1
        while text[before] == 0x20 || text[before] == 0x09 { before -= 1 }
        return before < 0 || text[before] == 0x0A || text[before] == 0x0D
    }

    /// The end of slots `slot..<endSlot` matched at `position`, backtracking over optional slots.
    private func match(_ slot: Int, _ endSlot: Int, _ text: ScanText, _ position: Int, needsSpace: Bool) -> Int? {
        guard slot < endSlot else { return position }
        var start = position
        if needsSpace {
            start = text.runEnd(from: position) { $0.isSpace }
            guard start > position else { return nil }
        }
        let current = slots[slot]
        for tokenIndex in current.firstToken..<current.endToken {
            let token = tokens[tokenIndex]
            guard let end = matchToken(token, text, start), !(token.endsWord && text[end].isAlnum) else { continue }
            if let end = match(slot + 1, endSlot, text, end, needsSpace: true) { return end }
        }
        return current.optional ? match(slot + 1, endSlot, text, position, needsSpace: needsSpace) : nil
    }

    /// Case-insensitive (ASCII) comparison; `+` in the token matches one or more whitespace bytes.
    private func matchToken(_ token: Token, _ text: ScanText, _ start: Int) -> Int? {
        var index = start
        for offset in token.start..<token.end {
            let byte = bytes[offset]
            if byte == 0x2B {
                let end = text.runEnd(from: index) { $0.isSpace }
                guard end > index else { return nil }
                index = end
            } else {
                guard text[index].asciiLowercased == byte else { return nil }
                index += 1
            }
        }
        return index
    }
}
