internal import CGatehouseSpawn
internal import Foundation
internal import NIOCore
internal import NIOPosix
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Why a stdio server's process could not be started.
struct ChildProcessSpawnError: Error, CustomStringConvertible {
    let command: String
    let errorNumber: Int32

    var description: String {
        "cannot start \(command): \(String(cString: strerror(errorNumber)))"
    }
}

/// How a child process ended.
enum ChildProcessExit: Sendable, Equatable, CustomStringConvertible {
    case exited(code: Int32)
    case signalled(signal: Int32)

    var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signalled(let signal): return "killed by signal \(signal)"
        }
    }
}

/// A started child process: its pid (also its process group), its stdin and stdout as one NIO
/// pipe channel, and its stderr as another. Spawning and waiting for the exit each run on a
/// dedicated thread: the parent-death signal is tied to the spawning thread, so that thread must
/// live as long as the gateway, and `waitpid` blocks.
final class ChildProcess: Sendable {
    let pid: pid_t
    let standardStreams: any Channel
    let standardError: any Channel
    private let exitStatus: EventLoopPromise<ChildProcessExit>

    var exit: EventLoopFuture<ChildProcessExit> { exitStatus.futureResult }

    private init(
        pid: pid_t,
        standardStreams: any Channel,
        standardError: any Channel,
        exitStatus: EventLoopPromise<ChildProcessExit>
    ) {
        self.pid = pid
        self.standardStreams = standardStreams
        self.standardError = standardError
        self.exitStatus = exitStatus
    }

    /// One long-lived thread for every spawn of the process (see the type's comment).
    private static let spawnThread: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Starts `command` with `arguments`. The two initializers install the channel handlers
    /// before any byte is read.
    static func spawn(
        command: String,
        arguments: [String],
        environment: [String: String],
        workingDirectory: String?,
        group: any EventLoopGroup,
        standardStreamsInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>,
        standardErrorInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> ChildProcess {
        let pipes = try Pipes()
        let argv = [command] + arguments
        let envp = environment.map { "\($0.key)=\($0.value)" }.sorted()
        let spawned: Result<pid_t, ChildProcessSpawnError> = try await spawnThread.runIfActive {
            withCStrings(argv) { argvPointers in
                withCStrings(envp) { envpPointers in
                    var pid: pid_t = 0
                    let status: Int32
                    if let workingDirectory {
                        status = gatehouse_spawn(
                            argvPointers,
                            envpPointers,
                            workingDirectory,
                            pipes.childStandardInput,
                            pipes.childStandardOutput,
                            pipes.childStandardError,
                            &pid
                        )
                    } else {
                        status = gatehouse_spawn(
                            argvPointers,
                            envpPointers,
                            nil,
                            pipes.childStandardInput,
                            pipes.childStandardOutput,
                            pipes.childStandardError,
                            &pid
                        )
                    }
                    return status == 0
                        ? .success(pid) : .failure(ChildProcessSpawnError(command: command, errorNumber: status))
                }
            }
        }
        pipes.closeChildEnds()
        let pid: pid_t
        switch spawned {
        case .success(let started): pid = started
        case .failure(let error):
            pipes.closeParentEnds()
            throw error
        }
        let eventLoop = group.next()
        let exitStatus = eventLoop.makePromise(of: ChildProcessExit.self)
        unreaped.withLock { _ = $0.insert(pid) }
        waitForExit(pid: pid, promise: exitStatus)
        do {
            let streams = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer(standardStreamsInitializer)
                .takingOwnershipOfDescriptors(input: pipes.parentStandardOutput, output: pipes.parentStandardInput)
                .get()
            let errors = try await NIOPipeBootstrap(group: eventLoop)
                .channelInitializer(standardErrorInitializer)
                .takingOwnershipOfDescriptor(input: pipes.parentStandardError)
                .get()
            return ChildProcess(pid: pid, standardStreams: streams, standardError: errors, exitStatus: exitStatus)
        } catch {
            kill(-pid, SIGKILL)
            throw error
        }
    }

    /// Sends `signal` to the whole process group the child leads.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// Children not yet reaped: a pid leaves the set only when `waitpid` returned it, so a pid
    /// here is never another process's.
    private static let unreaped = Mutex<Set<pid_t>>([])

    /// SIGKILL to the process group of every child still alive: the last resort of a gateway that
    /// exits without its orderly stop (shutdown past its bound).
    static func killEveryGroupNow() {
        for pid in unreaped.withLock({ $0 }) { kill(-pid, SIGKILL) }
    }

    /// A thread of its own blocks in `waitpid` until the child exits: it reaps it (no zombie)
    /// and reports how it ended.
    private static func waitForExit(pid: pid_t, promise: EventLoopPromise<ChildProcessExit>) {
        let thread = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else {
                    unreaped.withLock { _ = $0.remove(pid) }
                    promise.succeed(.exited(code: -1))
                    return
                }
            }
            // Still the group's leader pid until now, so the group can be signalled up to here.
            unreaped.withLock { _ = $0.remove(pid) }
            let signal = gatehouse_wait_status_signal(status)
            promise.succeed(
                signal != 0 ? .signalled(signal: signal) : .exited(code: gatehouse_wait_status_exit_code(status))
            )
        }
        thread.name = "gatehouse-wait-\(pid)"
        thread.stackSize = 64 << 10
        thread.start()
    }
}

/// The three pipes of a child's standard streams, all close-on-exec in the gateway.
private struct Pipes: Sendable {
    let childStandardInput: Int32
    let parentStandardInput: Int32
    let parentStandardOutput: Int32
    let childStandardOutput: Int32
    let parentStandardError: Int32
    let childStandardError: Int32

    init() throws {
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        var error: [Int32] = [-1, -1]
        guard gatehouse_pipe_cloexec(&input) == 0 else {
            throw ChildProcessSpawnError(command: "pipe", errorNumber: errno)
        }
        guard gatehouse_pipe_cloexec(&output) == 0 else {
            close(input[0])
            close(input[1])
            throw ChildProcessSpawnError(command: "pipe", errorNumber: errno)
        }
        guard gatehouse_pipe_cloexec(&error) == 0 else {
            for fd in input + output { close(fd) }
            throw ChildProcessSpawnError(command: "pipe", errorNumber: errno)
        }
        childStandardInput = input[0]
        parentStandardInput = input[1]
        parentStandardOutput = output[0]
        childStandardOutput = output[1]
        parentStandardError = error[0]
        childStandardError = error[1]
    }

    func closeChildEnds() {
        close(childStandardInput)
        close(childStandardOutput)
        close(childStandardError)
    }

    func closeParentEnds() {
        close(parentStandardInput)
        close(parentStandardOutput)
        close(parentStandardError)
    }
}

/// Calls `body` with a NULL-terminated C array of the strings, valid only during the call.
private func withCStrings<Result>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
) -> Result {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    // Never nil: the array holds at least its terminating nil.
    return pointers.withUnsafeBufferPointer { buffer in
        body(buffer.baseAddress!)
    }
}
