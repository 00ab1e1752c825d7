/* log_handler: route the library's log records (and the application's, via aura_log_emit)
 * to a handler of your own: here, stderr with a level prefix.
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *level_name(int level) {
    switch (level) {
    case AURA_LOG_ERR: return "ERR";
    case AURA_LOG_WARN: return "WARN";
    case AURA_LOG_NOTICE: return "NOTICE";
    case AURA_LOG_INFO: return "INFO";
    case AURA_LOG_DEBUG: return "DEBUG";
    default: return "???";
    }
}

static void handler(int level, const char *msg, void *userdata) {
    int *count = userdata;
    ++*count;
    fprintf(stderr, "[auraio %s] %s\n", level_name(level), msg);
}

int main(void) {
    int count = 0;
    aura_set_log_handler(handler, &count);
    aura_log_emit(AURA_LOG_INFO, "application started, auraio %s", aura_version());

    /* The library logs too: destroying an engine whose read waits on an empty pipe, it says
     * that it cancels the stuck request (INFO) before its callback gets ECANCELED. */
    aura_options_t opts;
    aura_options_init(&opts);
    opts.ring_count = 1;
    aura_engine_t *e = aura_create_with_options(&opts);
    if (e == NULL) {
        perror("aura_create_with_options");
        return 1;
    }
    int p[2];
    static char byte;
    if (pipe(p) != 0 || aura_read(e, p[0], aura_buf(&byte), 1, -1, NULL, NULL) == NULL) {
        perror("read of a pipe");
        return 1;
    }
    aura_destroy(e);
    close(p[0]);
    close(p[1]);

    aura_set_log_handler(NULL, NULL);
    aura_log_emit(AURA_LOG_ERR, "not delivered: no handler");
    printf("%d log records delivered\n", count);
    return count >= 2 ? 0 : 1;
}
