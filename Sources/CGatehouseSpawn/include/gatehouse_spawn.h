#ifndef GATEHOUSE_SPAWN_H
#define GATEHOUSE_SPAWN_H

#include <sys/types.h>

/// Starts `argv[0]` (looked up in PATH when it has no slash) as a child process in a new process
/// group of its own, with `stdin_fd`, `stdout_fd` and `stderr_fd` as its standard streams, the
/// environment `envp`, and `cwd` as its working directory when not NULL. On Linux the child gets
/// SIGKILL when the thread that spawned it exits (PR_SET_PDEATHSIG), so call it from a thread that
/// lives as long as the gateway. Every other descriptor is closed in the child.
///
/// Returns 0 and the child's pid in `*pid_out`, or an errno value: the fork failed, or the child
/// could not change directory or exec (reported back through a close-on-exec pipe, so "command not
/// found" is an error here rather than an exit status later).
int gatehouse_spawn(
    char *const argv[], char *const envp[], const char *cwd,
    int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

/// pipe2(fds, O_CLOEXEC), which Swift cannot see without _GNU_SOURCE.
int gatehouse_pipe_cloexec(int fds[2]);

/// The signal that ended the process in a `waitpid` status, or 0 when it exited normally.
int gatehouse_wait_status_signal(int status);
/// The exit code in a `waitpid` status, or -1 when a signal ended the process.
int gatehouse_wait_status_exit_code(int status);

#endif
