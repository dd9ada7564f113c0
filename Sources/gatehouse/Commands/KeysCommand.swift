internal import ArgumentParser
internal import Foundation
internal import GatehouseConfig
internal import Logging
internal import Policy
internal import Store

/// `gatehouse keys create|list|revoke`: managed API keys, in the store the configuration names.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke managed API keys (stored as hashes; shown once).",
        subcommands: [KeysCreateCommand.self, KeysListCommand.self, KeysRevokeCommand.self]
    )
}

/// The configuration and its store, for the keys commands.
struct KeyStoreAccess {
    let configuration: GatehouseConfiguration
    let store: Store

    static func open(_ option: ConfigOption) async throws -> KeyStoreAccess {
        let source = option.source
        let configuration: GatehouseConfiguration
        switch source.load(environment: ProcessInfo.processInfo.environment) {
        case .valid(let loaded): configuration = loaded
        case .invalid(let diagnostics):
            printDiagnostics(diagnostics, subject: source.description)
            throw ExitCode(1)
        }
        var logger = Logger(label: "gatehouse.keys")
        logger.logLevel = .critical
        do {
            let store = try await Store.open(path: configuration.store.path, logger: logger)
            return KeyStoreAccess(configuration: configuration, store: store)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct KeysCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a key for an agent and print it once.",
        discussion: """
            Returns once a gateway running on the same store has loaded the key (it checks the \
            store every 50 ms), or at once when none is running.
            """
    )

    @OptionGroup var configOption: ConfigOption

    @Option(name: .long, help: "The agent the key authenticates (one of the configuration's agents).")
    var agent: String

    @Option(name: .long, help: ArgumentHelp("How long the key lives: 30d, 12h, 90m.", valueName: "duration"))
    var expires: String?

    func validate() throws {
        if let expires, ManagedKeyIssuer.parseLifetime(expires) == nil {
            throw ValidationError("--expires must be a duration from 1m to 10 years, such as 30d or 12h")
        }
    }

    func run() async throws {
        let access = try await KeyStoreAccess.open(configOption)
        guard access.configuration.agents.contains(where: { $0.name == agent }) else {
            await access.store.close()
            FileHandle.standardError.write(Data("no agent named '\(agent)' in the configuration\n".utf8))
            throw ExitCode(1)
        }
        let issued = try await ManagedKeyIssuer.issue(
            agent: agent,
            expiresIn: expires.flatMap(ManagedKeyIssuer.parseLifetime),
            store: access.store
        )
        // Like a revocation, a new key works from the next request once the command returns.
        let version = (try? await access.store.apiKeysVersion()) ?? 0
        _ = await KeysRevokeCommand.waitForRunningGateway(store: access.store, version: version)
        await access.store.close()
        print(issued.key)
        let expiry = issued.stored.expiresAt.map { ", expires \($0)" } ?? ""
        FileHandle.standardError.write(
            Data("created \(issued.stored.id) for agent \(agent)\(expiry); the key above is shown only once\n".utf8)
        )
    }
}

struct KeysListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List managed keys (id, agent, status, dates); never the keys themselves."
    )

    @OptionGroup var configOption: ConfigOption

    @Option(name: .long, help: "Only this agent's keys.")
    var agent: String?

    func run() async throws {
        let access = try await KeyStoreAccess.open(configOption)
        let keys = try await access.store.apiKeys().filter { agent == nil || $0.agent == agent }
        await access.store.close()
        print("ID                 AGENT            STATUS   CREATED                   EXPIRES")
        for key in keys {
            let columns = [
                key.id.padding(toLength: 18, withPad: " ", startingAt: 0),
                key.agent.padding(toLength: 16, withPad: " ", startingAt: 0),
                ManagedKeyIssuer.status(key).padding(toLength: 8, withPad: " ", startingAt: 0),
                key.createdAt.padding(toLength: 25, withPad: " ", startingAt: 0),
                key.expiresAt ?? "never",
            ]
            print(columns.joined(separator: " "))
        }
    }
}

struct KeysRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a key by its id; a running gateway on the same store refuses it from its next request.",
        discussion: """
            Returns once a gateway running on the same store has applied the revocation (it checks \
            the store every 50 ms), or at once when none is running.
            """
    )

    @OptionGroup var configOption: ConfigOption

    @Argument(help: "The key's id (ghk_…), as `keys list` shows it.")
    var id: String

    func run() async throws {
        let access = try await KeyStoreAccess.open(configOption)
        guard let version = try await access.store.revokeAPIKey(id: id, at: UTCTimestamp.now()) else {
            await access.store.close()
            FileHandle.standardError.write(Data("no managed key with id '\(id)'\n".utf8))
            throw ExitCode(1)
        }
        let applied = await Self.waitForRunningGateway(store: access.store, version: version)
        await access.store.close()
        switch applied {
        case .applied: print("revoked \(id); the running gateway refuses it now")
        case .noGateway: print("revoked \(id) (no running gateway seen on this store)")
        case .timedOut: print("revoked \(id); the running gateway has not confirmed it yet")
        }
    }

    enum Confirmation { case applied, noGateway, timedOut }

    /// A gateway that spoke within 3 s is running; wait up to 3 s for it to apply `version`.
    static func waitForRunningGateway(store: Store, version: Int) async -> Confirmation {
        guard let (_, heartbeat) = try? await store.appliedAPIKeys(), let heartbeat,
            let spoke = UTCTimestamp.date(from: heartbeat), Date().timeIntervalSince(spoke) < 3
        else { return .noGateway }
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline {
            if let (applied, _) = try? await store.appliedAPIKeys(), applied >= version { return .applied }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return .timedOut
    }
}
