/// How the viewer and `gatehouse traces` write times, durations, money and counts: one place, so
/// the page and the terminal agree. Digits are written by hand to stay clear of locale-dependent
/// formatters.
public enum TraceFormat {
    /// `2026-03-04 12:34:56 UTC`.
    public static func timestamp(_ nanoseconds: UInt64) -> String {
        let civil = CivilTime(nanoseconds)
        return "\(civil.date) \(civil.time) UTC"
    }

    /// `2026-03-04T12:34:56.789Z`, for a `<time datetime>` the page's script shows in local time.
    public static func isoTimestamp(_ nanoseconds: UInt64) -> String {
        let civil = CivilTime(nanoseconds)
        return "\(civil.date)T\(civil.time).\(pad(civil.milliseconds, 3))Z"
    }

    /// `0.4 ms`, `12 ms`, `3.2 s`, `4m 05s`, `2h 03m`.
    public static func duration(_ nanoseconds: UInt64) -> String {
        let tenthsOfMillisecond = nanoseconds / 100_000
        if tenthsOfMillisecond < 100 { return "\(tenthsOfMillisecond / 10).\(tenthsOfMillisecond % 10) ms" }
        let milliseconds = nanoseconds / 1_000_000
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        if milliseconds < 60_000 {
            let tenthsOfSecond = milliseconds / 100
            return "\(tenthsOfSecond / 10).\(tenthsOfSecond % 10) s"
        }
        let seconds = milliseconds / 1000
        if seconds < 3600 { return "\(seconds / 60)m \(pad(seconds % 60, 2))s" }
        return "\(seconds / 3600)h \(pad(seconds / 60 % 60, 2))m"
    }

    /// Dollars to the micro-dollar, trailing zeros dropped down to cents: `$0.00`, `$0.00015`, `$1.25`.
    public static func usd(_ amount: Double) -> String {
        // Past a trillion dollars the micro-dollar count would not fit an Int64; no real run gets there.
        guard amount.isFinite, abs(amount) < 1e12 else { return "$\(amount)" }
        let micros = Int64((abs(amount) * 1_000_000).rounded())
        var fraction = pad(UInt64(micros % 1_000_000), 6)
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return (amount < 0 && micros > 0 ? "-$" : "$") + grouped(micros / 1_000_000) + "." + fraction
    }

    /// `12,345`.
    public static func grouped(_ number: Int64) -> String {
        let digits = String(number.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return number < 0 ? "-" + result : result
    }

    /// Milliseconds from a trace's start, for offsets: `+12.5 ms`.
    public static func offset(_ nanoseconds: UInt64) -> String {
        "+" + duration(nanoseconds)
    }

    static func pad(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A Unix time in UTC as calendar fields (Howard Hinnant's days-to-civil algorithm).
private struct CivilTime {
    let date: String
    let time: String
    let milliseconds: UInt64

    init(_ nanoseconds: UInt64) {
        let seconds = nanoseconds / 1_000_000_000
        milliseconds = nanoseconds / 1_000_000 % 1000
        let days = Int64(seconds / 86_400)
        let secondOfDay = seconds % 86_400
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        date =
            "\(TraceFormat.pad(UInt64(year), 4))-\(TraceFormat.pad(UInt64(month), 2))-\(TraceFormat.pad(UInt64(day), 2))"
        time =
            "\(TraceFormat.pad(secondOfDay / 3600, 2)):\(TraceFormat.pad(secondOfDay / 60 % 60, 2)):\(TraceFormat.pad(secondOfDay % 60, 2))"
    }
}
