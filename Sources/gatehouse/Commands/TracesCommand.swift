internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig
internal import GatehouseTracing
internal import Logging
internal import Store

/// `gatehouse traces list|show`: the runs in the local trace store, as the viewer at `/ui` shows
/// them, in the store the configuration names.
struct TracesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract: "List agent runs and show one as a tree of its spans (from the local trace store).",
        subcommands: [TracesListCommand.self, TracesShowCommand.self]
    )

    /// The store of the configuration `--config` names (or of the embedded defaults).
    static func openStore(_ option: ConfigOption) async throws -> Store {
        let source = option.source
        let configuration: GatehouseConfiguration
        switch source.load(environment: ProcessInfo.processInfo.environment) {
        case .valid(let loaded): configuration = loaded
        case .invalid(let diagnostics):
            printDiagnostics(diagnostics, subject: source.description)
            throw ExitCode(1)
        }
        var logger = Logger(label: "gatehouse.traces")
        logger.logLevel = .critical
        do {
            return try await Store.open(path: configuration.store.path, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct TracesListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List recent runs, newest first: trace id, agent, start, duration, tokens, cost, errors, denials."
    )

    @OptionGroup var configOption: ConfigOption

    @Option(name: .long, help: "Only this agent's runs.")
    var agent: String?

    @Option(name: .long, help: "Only runs with this status: ok, error or denied.")
    var status: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only runs that started this recently: 15m, 1h, 24h, 7d.", valueName: "window")
    )
    var since: String?

    @Option(name: .long, help: "At most this many runs (1 to 1000).")
    var limit: Int = TraceRunFilter.defaultLimit

    func validate() throws {
        guard (1...TraceRunFilter.maximumLimit).contains(limit) else {
            throw ValidationError("--limit must be from 1 to \(TraceRunFilter.maximumLimit)")
        }
        if case .failure(let problem) = TraceRunFilter.parse(agent: agent, status: status, since: since) {
            throw ValidationError(problem.description)
        }
    }

    func run() async throws {
        var filter: TraceRunFilter
        switch TraceRunFilter.parse(agent: agent, status: status, since: since) {
        case .success(let parsed): filter = parsed
        case .failure(let problem): throw ValidationError(problem.description)
        }
        filter.limit = limit
        let store = try await TracesCommand.openStore(configOption)
        let listing: TraceRunCatalog.Listing
        do {
            listing = try await TraceRunCatalog(store: store).runs(filter)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        print(TraceTerminalText.runsTable(listing.runs))
        if listing.isScanCapped {
            FileHandle.standardError.write(
                Data("the status filter looked at the newest \(listing.scannedRuns) runs only\n".utf8)
            )
        }
    }
}

struct TracesShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract:
            "Show a run: its summary, then its spans as a tree with tokens, cost, tool call ids, errors and decisions."
    )

    @OptionGroup var configOption: ConfigOption

    @Argument(help: ArgumentHelp("The run's trace id, or its first 8 or more hex digits.", valueName: "run"))
    var reference: String

    func run() async throws {
        let store = try await TracesCommand.openStore(configOption)
        let outcome: Result<TraceRunDetail, TracesShowError>
        do {
            outcome = try await Self.find(reference, in: TraceRunCatalog(store: store))
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        switch outcome {
        case .success(let detail):
            print(TraceTerminalText.runReport(detail))
        case .failure(let problem):
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
            throw ExitCode(1)
        }
    }

    static func find(
        _ reference: String,
        in catalog: TraceRunCatalog
    ) async throws -> Result<
        TraceRunDetail, TracesShowError
    > {
        switch try await catalog.resolve(reference) {
        case .found(let traceID):
            guard let detail = try await catalog.run(traceID: traceID) else { return .failure(.notFound(reference)) }
            return .success(detail)
        case .notFound: return .failure(.notFound(reference))
        case .ambiguous(let traceIDs): return .failure(.ambiguous(reference, traceIDs))
        case .invalid: return .failure(.invalid(reference))
        }
    }
}

/// Why `traces show` found no run, in words for the terminal.
enum TracesShowError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case ambiguous(String, [String])
    case invalid(String)

    var description: String {
        switch self {
        case .notFound(let reference): "no run with trace id '\(reference)' in the trace store"
        case .ambiguous(let reference, let traceIDs):
            "'\(reference)' starts several trace ids (\(traceIDs.joined(separator: ", "))); give more digits"
        case .invalid(let reference):
            "'\(reference)' is not a trace id: give its 32 hex digits, or at least the first 8"
        }
    }
}
