/// Scanners for personal data: e-mail addresses, phone numbers, payment cards (Luhn and issuer
/// ranges), IBANs (per-country length and mod-97), US social security numbers, IPv4 and IPv6
/// addresses. Each is written to reject the look-alikes that fill real traffic: order ids, dates,
/// times, version strings, MAC addresses, `icon@2x.png`, `std::string`.
extension BuiltinScanner {
    // MARK: - E-mail

    /// `local@domain.tld`: local part [A-Za-z0-9._%+-] (1–64, not ending in a dot), at least two
    /// domain labels, a top-level domain of two or more letters that is not an image extension.
    static func email(_ text: ScanText, _ sink: inout MatchSink) {
        var floor = 0
        var search = 0
        while sink.wants(.email), let at = text.firstIndex(of: 0x40, from: search) {
            search = at + 1
            var start = at
            while start > floor, isEmailLocal(text[start - 1]) { start -= 1 }
            while start < at, text[start] == 0x2E || text[start] == 0x2D || text[start] == 0x2B {
                start += 1
            }
            guard at - start >= 1, at - start <= 64, text[at - 1] != 0x2E else { continue }
            var end = text.runEnd(from: at + 1) { $0.isAlnum || $0 == 0x2E || $0 == 0x2D }
            while end > at + 1, text[end - 1] == 0x2E || text[end - 1] == 0x2D { end -= 1 }
            guard isDomain(text, at + 1, end), !hasDoubleDot(text, start, at) else { continue }
            sink.add(.email, start, end)
            floor = end
            search = end
        }
    }

    private static func isEmailLocal(_ byte: UInt8) -> Bool {
        // . _ % + -
        byte.isAlnum || byte == 0x2E || byte == 0x5F || byte == 0x25 || byte == 0x2B || byte == 0x2D
    }

    private static func hasDoubleDot(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        var index = start
        while index + 1 < end {
            if text[index] == 0x2E, text[index + 1] == 0x2E { return true }
            index += 1
        }
        return false
    }

    private static let imageExtensions: Set<[UInt8]> = Set(
        ["png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic"].map { Array($0.utf8) }
    )

    /// Labels of [A-Za-z0-9-] (1–63, no leading or trailing hyphen), at least two, TLD letters.
    private static func isDomain(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        guard end - start >= 4, end - start <= 253 else { return false }
        var labels = 0
        var labelStart = start
        var index = start
        while index <= end {
            if index == end || text[index] == 0x2E {
                let length = index - labelStart
                guard length >= 1, length <= 63, text[labelStart] != 0x2D, text[index - 1] != 0x2D else {
                    return false
                }
                labels += 1
                if index == end {
                    guard labels >= 2, length >= 2 else { return false }
                    var tld: [UInt8] = []
                    for offset in labelStart..<end {
                        guard text[offset].isLetter else { return false }
                        tld.append(text[offset].asciiLowercased)
                    }
                    return !imageExtensions.contains(tld)
                }
                labelStart = index + 1
            }
            index += 1
        }
        return false
    }

    // MARK: - Phone

    /// International: `+` then 8–15 digits, groups separated by one of space, dash, dot, with at
    /// most one parenthesis (`+44 (0)20 7946 0958`). North American: `(555) 123-4567`,
    /// `555-123-4567`, `555.123.4567`, optionally after `1-`. Bare digit runs, dates and versions
    /// have no such shape.
    static func phone(_ text: ScanText, _ runs: [Int], _ sink: inout MatchSink) {
        var floor = 0
        for run in runs where run >= floor {
            guard sink.wants(.phone) else { return }
            let marker = text[run - 1]
            var start = run
            var end: Int?
            if marker == 0x2B, text[run] != 0x30, run - 1 >= floor, !text[run - 2].isAlnum, text[run - 2] != 0x2B {
                start = run - 1
                end = internationalPhoneEnd(text, run)
            }
            if end == nil {
                start = marker == 0x28 && run - 1 >= floor ? run - 1 : run
                let before = text[start - 1]
                if !before.isAlnum, !(isNumberPunctuation(before) && text[start - 2].isDigit) {
                    end = northAmericanPhoneEnd(text, start)
                }
            }
            if let end {
                sink.add(.phone, start, end)
                floor = end
            }
        }
    }

    /// `.`, `,`, `-`, `/`, `:`, `+`: a digit before one of these makes the next digits part of a
    /// longer number (a date, a version, a range).
    private static func isNumberPunctuation(_ byte: UInt8) -> Bool {
        byte == 0x2E || byte == 0x2C || byte == 0x2D || byte == 0x2F || byte == 0x3A || byte == 0x2B
    }

    private static func internationalPhoneEnd(_ text: ScanText, _ first: Int) -> Int? {
        var digits = 0
        var index = first
        var lastDigitEnd = first
        while true {
            while text[index].isDigit {
                digits += 1
                index += 1
            }
            lastDigitEnd = index
            if digits > 15 { return nil }
            var separator = index
            var plain = 0
            var parentheses = 0
            while true {
                let byte = text[separator]
                if byte == 0x20 || byte == 0x2D || byte == 0x2E {
                    plain += 1
                } else if byte == 0x28 || byte == 0x29 {
                    parentheses += 1
                } else {
                    break
                }
                separator += 1
            }
            guard separator > index, plain <= 1, parentheses <= 1, text[separator].isDigit else { break }
            index = separator
        }
        guard digits >= 8, !text[lastDigitEnd].isLetter else { return nil }
        return lastDigitEnd
    }

    private static func northAmericanPhoneEnd(_ text: ScanText, _ start: Int) -> Int? {
        let separator = text[start + 1]
        if text[start] == 0x31, separator == 0x2D || separator == 0x2E || separator == 0x20,
            let end = northAmericanCore(text, start + 2)
        {
            return end
        }
        return northAmericanCore(text, start)
    }

    private static func digits(_ text: ScanText, _ start: Int, _ count: Int) -> Bool {
        for offset in 0..<count where !text[start + offset].isDigit { return false }
        return true
    }

    private static func northAmericanCore(_ text: ScanText, _ start: Int) -> Int? {
        let end: Int
        if text[start] == 0x28 {
            guard digits(text, start + 1, 3), text[start + 4] == 0x29 else { return nil }
            let exchange = text[start + 5] == 0x20 ? start + 6 : start + 5
            let separator = text[exchange + 3]
            guard digits(text, exchange, 3), separator == 0x2D || separator == 0x2E || separator == 0x20,
                digits(text, exchange + 4, 4)
            else { return nil }
            end = exchange + 8
        } else {
            let separator = text[start + 3]
            guard digits(text, start, 3), separator == 0x2D || separator == 0x2E, digits(text, start + 4, 3),
                text[start + 7] == separator, digits(text, start + 8, 4)
            else { return nil }
            end = start + 12
        }
        let after = text[end]
        guard !after.isAlnum, !((after == 0x2D || after == 0x2E) && text[end + 1].isDigit) else { return nil }
        return end
    }

    // MARK: - Payment card

    /// 13–19 digits, optionally in groups of three or more separated by one space or dash,
    /// passing Luhn, with a known issuer prefix and a length that issuer uses. When groups follow
    /// a card, the longest valid prefix ending at a group boundary is the match.
    static func paymentCard(_ text: ScanText, _ runs: [Int], _ sink: inout MatchSink) {
        var floor = 0
        for index in runs where index >= floor {
            guard sink.wants(.paymentCard) else { return }
            guard !text[index - 1].isAlnum, !(isNumberPunctuation(text[index - 1]) && text[index - 2].isDigit) else {
                continue
            }
            var cursor = index
            var total = 0
            var groups = 0
            var ends: [(end: Int, digits: Int)] = []
            while true {
                let groupStart = cursor
                cursor = text.runEnd(from: cursor) { $0.isDigit }
                let length = cursor - groupStart
                let continues = (text[cursor] == 0x20 || text[cursor] == 0x2D) && text[cursor + 1].isDigit
                if length < 3, groups > 0 || continues { break }
                total += length
                groups += 1
                if total > 19 { break }
                if total >= 13 { ends.append((cursor, total)) }
                guard continues else { break }
                cursor += 1
            }
            for candidate in ends.reversed() where cardEndIsClean(text, candidate.end) {
                var number: [UInt8] = []
                number.reserveCapacity(candidate.digits)
                for offset in index..<candidate.end where text[offset].isDigit { number.append(text[offset] &- 0x30) }
                if isCardNumber(number) {
                    sink.add(.paymentCard, index, candidate.end)
                    floor = candidate.end
                    break
                }
            }
        }
    }

    private static func cardEndIsClean(_ text: ScanText, _ end: Int) -> Bool {
        let after = text[end]
        return !after.isLetter && !((after == 0x2E || after == 0x2C) && text[end + 1].isDigit)
    }

    /// Issuer prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay), then Luhn.
    static func isCardNumber(_ digits: [UInt8]) -> Bool {
        guard digits.count >= 13, digits.count <= 19 else { return false }
        func prefix(_ length: Int) -> Int {
            var value = 0
            for digit in digits.prefix(length) { value = value * 10 + Int(digit) }
            return value
        }
        let count = digits.count
        let lengthFits: Bool
        switch (prefix(1), prefix(2), prefix(3), prefix(4)) {
        case (4, _, _, _): lengthFits = count == 13 || count == 16 || count == 19
        case (_, 51...55, _, _), (_, _, _, 2221...2720): lengthFits = count == 16
        case (_, 34, _, _), (_, 37, _, _): lengthFits = count == 15
        case (_, _, _, 6011), (_, 65, _, _), (_, _, 644...649, _): lengthFits = count >= 16
        case (_, _, _, 3528...3589): lengthFits = count >= 16
        case (_, _, 300...305, _), (_, 36, _, _), (_, 38, _, _): lengthFits = count >= 14
        case (_, 62, _, _): lengthFits = count >= 16
        default: lengthFits = false
        }
        return lengthFits && luhn(digits)
    }

    static func luhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            let value = Int(digit)
            sum += position % 2 == 1 ? (value * 2 > 9 ? value * 2 - 9 : value * 2) : value
        }
        return sum % 10 == 0
    }

    // MARK: - IBAN

    /// IBAN lengths of the SEPA countries and a few more; other country codes may be 15–34 long.
    private static let ibanLengths: [UInt16: Int] = {
        let table: [(String, Int)] = [
            ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("BA", 20), ("BE", 16), ("BG", 22), ("BH", 22),
            ("BR", 29), ("CH", 21), ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18), ("EE", 20), ("ES", 24),
            ("FI", 18), ("FO", 18), ("FR", 27), ("GB", 22), ("GI", 23), ("GL", 18), ("GR", 27), ("HR", 21),
            ("HU", 28), ("IE", 22), ("IL", 23), ("IS", 26), ("IT", 27), ("LI", 21), ("LT", 20), ("LU", 20),
            ("LV", 21), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MT", 31), ("NL", 18), ("NO", 15),
            ("PL", 28), ("PT", 25), ("RO", 24), ("RS", 22), ("SA", 24), ("SE", 24), ("SI", 19), ("SK", 24),
            ("SM", 27), ("TR", 26), ("UA", 29), ("VA", 22), ("XK", 20),
        ]
        var lengths: [UInt16: Int] = [:]
        for (code, length) in table {
            let bytes = Array(code.utf8)
            lengths[UInt16(bytes[0]) << 8 | UInt16(bytes[1])] = length
        }
        return lengths
    }()

    /// Country code, two check digits, then alphanumerics (optionally a space after every four),
    /// the country's length (or 15–34), and the mod-97 check.
    static func iban(_ text: ScanText, _ runs: [Int], _ sink: inout MatchSink) {
        // Driven by the check digits: the two letters before a run of digits.
        var floor = 0
        for run in runs where run - 2 >= floor {
            guard sink.wants(.iban) else { return }
            let start = run - 2
            if text[start].isLetter, text[start + 1].isLetter, text[run + 1].isDigit, !text[start - 1].isAlnum,
                let end = ibanEnd(text, start)
            {
                sink.add(.iban, start, end)
                floor = end
            }
        }
    }

    private static func ibanEnd(_ text: ScanText, _ start: Int) -> Int? {
        var characters: [UInt8] = []
        var ends: [Int] = []
        characters.reserveCapacity(34)
        ends.reserveCapacity(34)
        var index = start
        while characters.count < 35 {
            var byte = text[index]
            if byte == 0x20, characters.count % 4 == 0, characters.count > 0, text[index + 1].isAlnum {
                index += 1
                byte = text[index]
            }
            guard byte.isAlnum else { break }
            characters.append(byte.asciiUppercased)
            index += 1
            ends.append(index)
        }
        let country = UInt16(characters[0]) << 8 | UInt16(characters[1])
        let length: Int
        if let expected = ibanLengths[country] {
            guard characters.count >= expected else { return nil }
            length = expected
        } else {
            guard characters.count >= 15, characters.count <= 34 else { return nil }
            length = characters.count
        }
        let end = ends[length - 1]
        guard !text[end].isAlnum, ibanChecksumIsValid(characters[0..<length]) else { return nil }
        return end
    }

    /// ISO 13616: the first four characters moved to the end, letters as 10–35, the number mod 97 is 1.
    static func ibanChecksumIsValid(_ characters: ArraySlice<UInt8>) -> Bool {
        var remainder = 0
        let start = characters.startIndex
        let rearranged = characters[(start + 4)...] + characters[start..<(start + 4)]
        for character in rearranged {
            if character.isDigit {
                remainder = (remainder * 10 + Int(character &- 0x30)) % 97
            } else if character.isUpper {
                remainder = (remainder * 100 + Int(character &- 0x41) + 10) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }

    // MARK: - US SSN

    /// `AAA-GG-SSSS` (or with spaces, the same separator twice); area not 000, 666 or 9xx, group
    /// not 00, serial not 0000.
    static func usSSN(_ text: ScanText, _ runs: [Int], _ sink: inout MatchSink) {
        var floor = 0
        for index in runs where index >= floor {
            guard sink.wants(.usSSN) else { return }
            let separator = text[index + 3]
            guard separator == 0x2D || separator == 0x20, !text[index - 1].isAlnum,
                !(isNumberPunctuation(text[index - 1]) && text[index - 2].isDigit),
                digits(text, index, 3), digits(text, index + 4, 2), text[index + 6] == separator,
                digits(text, index + 7, 4)
            else { continue }
            let end = index + 11
            let after = text[end]
            let area = number(text, index, 3)
            guard !after.isAlnum, !((after == 0x2D || after == 0x2E || after == separator) && text[end + 1].isDigit),
                area != 0, area != 666, area < 900, number(text, index + 4, 2) != 0, number(text, index + 7, 4) != 0
            else { continue }
            sink.add(.usSSN, index, end)
            floor = end
        }
    }

    private static func number(_ text: ScanText, _ start: Int, _ count: Int) -> Int {
        var value = 0
        for offset in 0..<count { value = value * 10 + Int(text[start + offset] &- 0x30) }
        return value
    }

    // MARK: - IPv4

    /// A dotted quad of octets 0–255 without leading zeros, not inside a longer dotted number
    /// (`1.2.3.4.5`) or a word (`v1.2.3.4`).
    static func ipv4(_ text: ScanText, _ runs: [Int], _ sink: inout MatchSink) {
        var floor = 0
        for index in runs where index >= floor {
            guard sink.wants(.ipv4) else { return }
            guard !text[index - 1].isAlnum, text[index - 1] != 0x2E, let end = dottedQuadEnd(text, index) else {
                continue
            }
            let after = text[end]
            guard !after.isAlnum, after != 0x5F, !(after == 0x2E && text[end + 1].isDigit) else { continue }
            sink.add(.ipv4, index, end)
            floor = end
        }
    }

    /// The end of `d.d.d.d` at `start` (octets 0–255, no leading zeros), or nil.
    static func dottedQuadEnd(_ text: ScanText, _ start: Int) -> Int? {
        var index = start
        for octet in 0..<4 {
            if octet > 0 {
                guard text[index] == 0x2E else { return nil }
                index += 1
            }
            let end = text.runEnd(from: index) { $0.isDigit }
            let length = end - index
            guard length >= 1, length <= 3, length == 1 || text[index] != 0x30, number(text, index, length) <= 255
            else { return nil }
            index = end
        }
        return index
    }

    // MARK: - IPv6

    /// Full (eight groups), compressed (`::`, not alone) and IPv4-suffixed forms, with at least
    /// one decimal digit somewhere: times (`12:30:45`), MAC addresses and `Foo::bar` paths fail.
    static func ipv6(_ text: ScanText, _ sink: inout MatchSink) {
        // Driven by colons: each run of [0-9A-Fa-f:.] holding one is examined once.
        let isRunByte = { (byte: UInt8) in byte.isHexDigit || byte == 0x3A || byte == 0x2E }
        var floor = 0
        while sink.wants(.ipv6), let colon = text.firstIndex(of: 0x3A, from: floor) {
            var start = colon
            while start > floor, isRunByte(text[start - 1]) { start -= 1 }
            let runEnd = text.runEnd(from: colon + 1, isRunByte)
            floor = runEnd
            let before = text[start - 1]
            let after = text[runEnd]
            guard !before.isAlnum, before != 0x5F, !after.isAlnum, after != 0x5F else { continue }
            // A leading dot is punctuation; trailing dots and single colons too.
            while start < colon, text[start] == 0x2E { start += 1 }
            var end = runEnd
            if text[end - 1] == 0x2E { end -= 1 }
            if text[end - 1] == 0x3A, text[end - 2] != 0x3A { end -= 1 }
            if isIPv6(text, start, end) {
                sink.add(.ipv6, start, end)
            }
        }
    }

    private static func isIPv6(_ text: ScanText, _ start: Int, _ end: Int) -> Bool {
        guard end - start >= 3, end - start <= 45 else { return false }
        var groups = 0
        var compressed = false
        var sawDigit = false
        var index = start
        if text[index] == 0x3A {
            guard text[index + 1] == 0x3A else { return false }
            compressed = true
            index += 2
        }
        while index < end {
            let groupEnd = text.runEnd(from: index) { $0.isHexDigit }
            if groupEnd < end, text[groupEnd] != 0x3A {
                // The IPv4 tail: must run to the end.
                guard let quadEnd = dottedQuadEnd(text, index), quadEnd == end else { return false }
                groups += 2
                sawDigit = true
                break
            }
            let length = groupEnd - index
            guard length >= 1, length <= 4 else { return false }
            for offset in index..<groupEnd where text[offset].isDigit { sawDigit = true }
            groups += 1
            index = groupEnd
            if index == end { break }
            // A colon follows the group.
            if text[index + 1] == 0x3A {
                guard !compressed else { return false }
                compressed = true
                index += 2
            } else {
                index += 1
                guard index < end else { return false }
            }
        }
        guard sawDigit, groups >= 1 else { return false }
        return compressed ? groups <= 7 : groups == 8
    }
}
