/* pymosh-server: hand a new session to the user's session forker without starting CPython.
 *
 * Copyright (C) the pymosh authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 * This program is free software: you can redistribute it and/or modify it under the terms
 * of the GNU General Public License as published by the Free Software Foundation, either
 * version 3 of the License, or (at your option) any later version. It is distributed
 * WITHOUT ANY WARRANTY; see <https://www.gnu.org/licenses/>.
 *
 * What src/pymosh/frontend/handoff.py's request() does, byte for byte (its docstring
 * defines the request; tests/frontend/test_launcher.py checks both send the same bytes):
 * connect to <state dir>/forker.sock, check that the listener is our uid (SO_PEERCRED),
 * send the request with stdin/stdout/stderr (SCM_RIGHTS), wait for the status byte, exit
 * with it. The forked session prints MOSH CONNECT on our stdout itself.
 *
 * Whenever there is no usable forker (PYMOSH_FORKER=0, a session command, no or an unsafe
 * state directory, no socket, another uid's socket, a refused or FALLBACK answer, another
 * installation) it execs the Python entry script installed beside it,
 * <root>/share/pymosh/pymosh-server, with <root>/bin/python3 -I -S (else python3 on PATH):
 * that starts the session in-process and starts a forker for next time.
 *
 * The installation id is "st_dev:st_ino:st_mtime_ns" of the installed
 * <root>/lib{,64}/pythonX.Y/site-packages/pymosh/frontend/handoff.py, <root> being the
 * directory above the one holding this program: one stat(), whatever path spells it; a
 * reinstall or another copy is another file. Built in (setup.py): PYMOSH_VERSION,
 * PYMOSH_MAGIC (handoff.MAGIC) and PYMOSH_PYVER ("3.12").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#if !defined(PYMOSH_VERSION) || !defined(PYMOSH_MAGIC) || !defined(PYMOSH_PYVER)
#error "build with -DPYMOSH_VERSION=... -DPYMOSH_MAGIC=... -DPYMOSH_PYVER=... (setup.py)"
#endif

#if !defined(RLIM_NLIMITS) && defined(RLIMIT_NLIMITS)
#define RLIM_NLIMITS RLIMIT_NLIMITS
#endif

#define FALLBACK 255
#define MAX_REQUEST (1u << 20)

extern char **environ;

static char root[PATH_MAX]; /* the installation: <root>/bin/pymosh-server */

/* ------------------------------------------------------------------ the fallback */

static void run_python(char **argv) __attribute__((noreturn));
static void run_python(char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    char python[PATH_MAX + 16], script[PATH_MAX + 32];
    char **args = calloc((size_t)argc + 4, sizeof(char *));
    if (!args) _exit(127);
    int have_root = root[0] != '\0';
    snprintf(python, sizeof python, "%s/bin/python3", root);
    snprintf(script, sizeof script, "%s/share/pymosh/pymosh-server", root);
    const char *exe = have_root && access(python, X_OK) == 0 ? python : "python3";
    int n = 0;
    args[n++] = (char *)exe;
    if (have_root && access(script, R_OK) == 0) {
        args[n++] = "-I"; /* the entry script: CPython without site-packages */
        args[n++] = "-S";
        args[n++] = script;
    } else { /* not laid out as installed: the module, site-packages and all */
        args[n++] = "-m";
        args[n++] = "pymosh.frontend.server";
    }
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = NULL;
    execvp(exe, args);
    fprintf(stderr, "pymosh-server: cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
}

/* ------------------------------------------------------------------ the request */

struct buf {
    char *data;
    size_t len, cap;
    int failed;
};

static void put(struct buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = cap > MAX_REQUEST * 2 ? NULL : realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* a field and its NUL separator (the last separator is dropped at the end) */
static void field(struct buf *b, const char *s) { put(b, s, strlen(s) + 1); }

static void number(struct buf *b, long long v) {
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    field(b, text);
}

/* NAME=VALUE entries as Python's dict of /proc/self/environ has them (procenv.py):
 * entries without '=' or with an empty name dropped, each name once, at its first
 * place, with its last value */
static void environment(struct buf *b) {
    size_t count = 0, total = 0;
    for (char **e = environ; *e; e++) total++;
    const char **first = calloc(total + 1, sizeof(char *)), **value = calloc(total + 1, sizeof(char *));
    size_t *name_len = calloc(total + 1, sizeof(size_t));
    if (!first || !value || !name_len) {
        b->failed = 1;
        return;
    }
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) continue;
        size_t len = (size_t)(eq - *e), i;
        for (i = 0; i < count; i++)
            if (name_len[i] == len && memcmp(first[i], *e, len) == 0) break;
        if (i == count) {
            first[count] = *e;
            name_len[count++] = len;
        }
        value[i] = eq + 1;
    }
    number(b, (long long)count);
    for (size_t i = 0; i < count; i++) {
        put(b, first[i], name_len[i] + 1); /* NAME= */
        field(b, value[i]);
    }
    free(first);
    free(value);
    free(name_len);
}

static void limits(struct buf *b) {
    struct rlimit rl[RLIM_NLIMITS];
    int have[RLIM_NLIMITS], count = 0;
    for (int n = 0; n < RLIM_NLIMITS; n++) {
        have[n] = getrlimit(n, &rl[n]) == 0;
        count += have[n];
    }
    number(b, count);
    for (int n = 0; n < RLIM_NLIMITS; n++) {
        if (!have[n]) continue;
        char text[80];
        snprintf(text, sizeof text, "%d:%lld:%lld", n, (long long)rl[n].rlim_cur,
                 (long long)rl[n].rlim_max);
        field(b, text);
    }
}

static int build_request(struct buf *b, int argc, char **argv, const char *install) {
    put(b, "\0\0\0\0", 4); /* the length, below */
    field(b, PYMOSH_MAGIC);
    field(b, PYMOSH_VERSION);
    field(b, install);
    char *cwd = getcwd(NULL, 0);
    field(b, cwd ? cwd : "");
    free(cwd);
    mode_t mask = umask(077);
    umask(mask);
    number(b, (long long)mask);
    number(b, argc - 1);
    for (int i = 1; i < argc; i++) field(b, argv[i]);
    environment(b);
    limits(b);
    if (b->failed) return -1;
    b->len--; /* no separator after the last field */
    uint32_t n = (uint32_t)(b->len - 4);
    if (n > MAX_REQUEST) return -1;
    unsigned char *p = (unsigned char *)b->data;
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
    return 0;
}

/* ------------------------------------------------------------------ where things are */

static void find_root(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) { /* <root>/bin/pymosh-server -> <root> */
        char *slash = strrchr(exe, '/');
        if (!slash) return;
        *slash = '\0';
    }
    snprintf(root, sizeof root, "%s", exe[0] ? exe : "/");
}

static int installation(char *out, size_t size) {
    static const char *const libs[] = {"lib", "lib64"};
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        char path[PATH_MAX + 96];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/python" PYMOSH_PYVER "/site-packages/pymosh/frontend/handoff.py",
                 root, libs[i]);
        if (stat(path, &st) == 0) {
            snprintf(out, size, "%llu:%llu:%lld", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino,
                     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
            return 0;
        }
    }
    return -1;
}

/* userdir.state_dir_path(): $PYMOSH_STATE_DIR, else ${XDG_STATE_HOME:-$HOME/.local/state}/pymosh */
static int state_dir(char *out, size_t size) {
    const char *explicit = getenv("PYMOSH_STATE_DIR");
    int n;
    if (explicit && *explicit) {
        if (explicit[0] == '/') {
            n = snprintf(out, size, "%s", explicit);
        } else {
            char *cwd = getcwd(NULL, 0);
            if (!cwd) return -1;
            n = snprintf(out, size, "%s/%s", cwd, explicit);
            free(cwd);
        }
    } else {
        const char *base = getenv("XDG_STATE_HOME");
        if (base && base[0] == '/') {
            n = snprintf(out, size, "%s/pymosh", base);
        } else {
            const char *home = getenv("HOME");
            if (!home || !*home) {
                struct passwd *pw = getpwuid(getuid());
                if (!pw) return -1;
                home = pw->pw_dir;
            }
            n = snprintf(out, size, "%s/.local/state/pymosh", home);
        }
    }
    if (n < 0 || (size_t)n >= size) return -1;
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0'; /* lstat() must see a symlink */
    return 0;
}

/* userdir.check_private(): a real directory, ours, no group or other bits */
static int private_dir(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
                   (st.st_mode & 077) == 0
               ? 0
               : -1;
}

/* ------------------------------------------------------------------ asking */

/* the forker's status byte; -1: nothing was started (use the fallback); -2: the request
 * was delivered but no answer came */
static int ask(int argc, char **argv) {
    const char *off = getenv("PYMOSH_FORKER");
    if (off && strcmp(off, "0") == 0) return -1;
    if (argc > 1 && (!strcmp(argv[1], "list") || !strcmp(argv[1], "kill") ||
                     !strcmp(argv[1], "resume")))
        return -1; /* server.SESSION_COMMANDS: not a new session */
    char install[96], dir[PATH_MAX];
    if (installation(install, sizeof install) || state_dir(dir, sizeof dir) || private_dir(dir))
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (snprintf(addr.sun_path, sizeof addr.sun_path, "%s/forker.sock", dir) >=
        (int)sizeof addr.sun_path)
        return -1;
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ucred cred;
    socklen_t len = sizeof cred;
    struct buf b = {0};
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) ||
        getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid() ||
        build_request(&b, argc, argv, install)) {
        close(sock);
        return -1;
    }
    int fds[3] = {0, 1, 2};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof fds)];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = b.data, .iov_len = b.len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                         .msg_controllen = sizeof control.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t sent;
    do sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    size_t done = sent < 0 ? 0 : (size_t)sent;
    while (sent >= 0 && done < b.len) { /* the rest of a long request */
        sent = send(sock, b.data + done, b.len - done, MSG_NOSIGNAL);
        if (sent > 0) done += (size_t)sent;
        else if (!(sent < 0 && errno == EINTR)) sent = -1;
    }
    free(b.data);
    if (sent < 0) {
        close(sock);
        return -1; /* the forker never got the request */
    }
    unsigned char status;
    ssize_t got;
    do got = recv(sock, &status, 1, 0);
    while (got < 0 && errno == EINTR);
    close(sock);
    return got == 1 ? status : -2;
}

int main(int argc, char **argv) {
    find_root();
    int status = ask(argc, argv);
    if (status == -2) {
        /* the request was delivered: a session may have started, so no second one */
        static const char msg[] = "pymosh-server: the session forker failed\n";
        if (write(2, msg, sizeof msg - 1) < 0) return 1;
        return 1;
    }
    if (status < 0 || status == FALLBACK) run_python(argv);
    return status;
}
