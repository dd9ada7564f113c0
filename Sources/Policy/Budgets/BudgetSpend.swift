public import Foundation
internal import Synchronization

/// A budget period: the UTC day or the UTC month.
public enum BudgetPeriod: String, Sendable, CaseIterable {
    case day
    case month

    /// The period `date` falls in, as a sortable key (`2026-12-06`, `2026-12`). Every priced call
    /// asks for both keys, so the fields come from `gmtime_r` and the digits are written directly
    /// (a calendar and `String(format:)` cost microseconds each on the request path).
    public func key(of date: Date) -> String {
        var seconds = Int(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let yearAndMonth = Self.digits(Int(parts.tm_year) + 1900, 4) + "-" + Self.digits(Int(parts.tm_mon) + 1, 2)
        switch self {
        case .day: return yearAndMonth + "-" + Self.digits(Int(parts.tm_mday), 2)
        case .month: return yearAndMonth
        }
    }

    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// When the period that holds `date` began.
    public func start(of date: Date) -> Date {
        let components: Set<Calendar.Component> = self == .day ? [.year, .month, .day] : [.year, .month]
        return Self.calendar.date(from: Self.calendar.dateComponents(components, from: date)) ?? date
    }

    /// When the period that holds `date` ends and the budget starts again.
    public func reset(after date: Date) -> Date {
        let start = start(of: date)
        return Self.calendar.date(byAdding: self == .day ? .day : .month, value: 1, to: start) ?? date
    }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()
}

/// LLM spend per agent in the current UTC day and month, for budgets: fed with each call's
/// cost by the usage books, seeded from the store at startup (so a restart forgets nothing), and
/// rolled over when a period ends.
public final class BudgetSpend: Sendable {
    private struct Running {
        var period: String
        var picoUSD: Int64
    }

    private let spend = Mutex<[BudgetPeriod: [String: Running]]>([:])

    public init() {}

    /// Spend already recorded in the current periods: `picoUSD` per agent since the day's start
    /// and since the month's start.
    public func seed(period: BudgetPeriod, at date: Date, picoUSDByAgent: [String: Int64]) {
        let key = period.key(of: date)
        spend.withLock { spend in
            for (agent, amount) in picoUSDByAgent {
                spend[period, default: [:]][agent] = Running(period: key, picoUSD: max(amount, 0))
            }
        }
    }

    public func add(agent: String, picoUSD: Int64, at date: Date = Date()) {
        guard picoUSD > 0 else { return }
        spend.withLock { spend in
            for period in BudgetPeriod.allCases {
                let key = period.key(of: date)
                var running = spend[period]?[agent] ?? Running(period: key, picoUSD: 0)
                if running.period != key { running = Running(period: key, picoUSD: 0) }
                running.picoUSD =
                    running.picoUSD.addingReportingOverflow(picoUSD).overflow ? .max : running.picoUSD + picoUSD
                spend[period, default: [:]][agent] = running
            }
        }
    }

    /// What the agent spent in the period holding `date`.
    public func spent(agent: String, period: BudgetPeriod, at date: Date = Date()) -> Int64 {
        spend.withLock { spend in
            guard let running = spend[period]?[agent], running.period == period.key(of: date) else { return 0 }
            return running.picoUSD
        }
    }
}
