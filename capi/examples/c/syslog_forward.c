/* syslog_forward: the library's log records (and the application's, through aura_log_emit)
 * forwarded to syslog with aura_syslog_install.
 *
 *   ./syslog_forward            demo: forwards to a socket of its own (through
 *                               $AURAIO_SYSLOG_SOCKET) and prints what a syslog daemon receives
 *   ./syslog_forward --system   forwards to this system's syslog (/dev/log)
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int system_log = argc > 1 && strcmp(argv[1], "--system") == 0;
    int s = -1;
    char path[108];
    if (!system_log) {
        /* A stand-in for the syslog daemon: a datagram socket the records are sent to. */
        snprintf(path, sizeof path, "/tmp/auraio-syslog-demo-%d.sock", (int)getpid());
        unlink(path);
        s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("demo syslog socket");
            return 1;
        }
        setenv("AURAIO_SYSLOG_SOCKET", path, 1);
    }
    if (aura_syslog_install("syslog_forward", LOG_LOCAL0) != 0) {
        perror("aura_syslog_install");
        return 1;
    }
    aura_log_emit(AURA_LOG_NOTICE, "application started, auraio %s", aura_version());
    /* The library's own record: an engine destroyed with a read stuck on an empty pipe says it
     * cancels it. */
    aura_options_t o;
    aura_options_init(&o);
    o.ring_count = 1;
    aura_engine_t *e = aura_create_with_options(&o);
    int p[2];
    static char byte;
    if (e == NULL || pipe(p) != 0 || aura_read(e, p[0], aura_buf(&byte), 1, -1, NULL, NULL) == NULL) {
        perror("setup");
        return 1;
    }
    aura_destroy(e);
    close(p[0]);
    close(p[1]);
    aura_syslog_remove();
    if (system_log) {
        printf("forwarded to /dev/log (see journalctl -t syslog_forward)\n");
        return 0;
    }
    int received = 0;
    char line[512];
    struct pollfd pf = {s, POLLIN, 0};
    while (poll(&pf, 1, 100) == 1) {
        ssize_t n = recv(s, line, sizeof line - 1, 0);
        if (n <= 0) {
            break;
        }
        line[n] = '\0';
        printf("syslog received: %s\n", line);
        received++;
    }
    close(s);
    unlink(path);
    return received >= 2 ? 0 : 1;
}
