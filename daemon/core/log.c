/* The process-wide log sink: one line per message on stderr, written with a single write(2) so
 * that lines of concurrent writers (the daemon, a test runner) never interleave mid-line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* The one mutable global outside the core context: set once at start-up, read everywhere. */
static int log_level = MCC_LOG_INFO;

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void mcc_log_set_level(int level)
{
    if (level < MCC_LOG_ERROR)
        level = MCC_LOG_ERROR;
    if (level > MCC_LOG_DEBUG)
        level = MCC_LOG_DEBUG;
    log_level = level;
}

int mcc_log_level_parse(const char *name)
{
    for (int i = 0; i <= MCC_LOG_DEBUG; i++)
        if (strcasecmp(name, log_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return MCC_LOG_WARN;
    return -1;
}

void mcc_logv(int level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    if (level < MCC_LOG_ERROR)
        level = MCC_LOG_ERROR;
    if (level > MCC_LOG_DEBUG)
        level = MCC_LOG_DEBUG;

    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int k = snprintf(line + n, sizeof(line) - n, " mccd[%ld] %s: %s", (long)getpid(),
                     log_names[level], prefix != NULL ? prefix : "");
    if (k > 0)
        n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (k > 0)
        n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
    /* A message must stay one line: a newline inside would let input forge log lines. */
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';

    int saved = errno;
    ssize_t w;
    do
        w = write(STDERR_FILENO, line, n);
    while (w < 0 && errno == EINTR);
    errno = saved;
}

void mcc_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mcc_logv(level, NULL, fmt, ap);
    va_end(ap);
}
