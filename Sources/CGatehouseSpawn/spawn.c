// The one piece of process control Swift cannot express safely: between fork and exec the child
// may only make async-signal-safe calls, and `prctl` is variadic (not importable into Swift).
#define _GNU_SOURCE
#include "gatehouse_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static void close_descriptors_from(int first) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned int)first, ~0U, 0) == 0) return;
#endif
    long maximum = sysconf(_SC_OPEN_MAX);
    if (maximum < 0 || maximum > 65536) maximum = 65536;
    for (int fd = first; fd < maximum; fd++) close(fd);
}

static void report_and_exit(int report_fd, int error) {
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

int gatehouse_spawn(
    char *const argv[], char *const envp[], const char *cwd,
    int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return error;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
#endif
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            if (signal_number != SIGKILL && signal_number != SIGSTOP) signal(signal_number, SIG_DFL);
        }
        // Move the report pipe above the standard streams before rearranging them.
        int report_fd = fcntl(report[1], F_DUPFD_CLOEXEC, 3);
        if (report_fd < 0) report_fd = report[1];
        int in = fcntl(stdin_fd, F_DUPFD, 3);
        int out = fcntl(stdout_fd, F_DUPFD, 3);
        int err = fcntl(stderr_fd, F_DUPFD, 3);
        if (in < 0 || out < 0 || err < 0) report_and_exit(report_fd, errno);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) report_and_exit(report_fd, errno);
        // Keep 0-2 and the report pipe (close-on-exec); close everything else.
        if (report_fd != 3) {
            if (dup3(report_fd, 3, O_CLOEXEC) < 0) report_and_exit(report_fd, errno);
            report_fd = 3;
        }
        close_descriptors_from(4);
        if (cwd != NULL && chdir(cwd) != 0) report_and_exit(report_fd, errno);
        execvpe(argv[0], argv, envp);
        report_and_exit(report_fd, errno);
    }
    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return child_error != 0 ? child_error : ECHILD;
    }
    *pid_out = pid;
    return 0;
}

int gatehouse_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gatehouse_wait_status_signal(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
int gatehouse_wait_status_exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
