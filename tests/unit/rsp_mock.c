/* The RSP core over stdin/stdout with the fake target of
 * rsp_mock_target.h, for stock gdb: `target remote | build/host/rsp_mock
 * [--threads N] [--log FILE]` (tests/host/test_rsp_gdb.py). --log writes
 * both directions of the traffic ("<- " gdb, "-> " us) for debugging.
 * Exits on EOF (gdb closed the pipe) and after `k`. */
#include <errno.h>
#include <unistd.h>

#include "rsp_mock_target.h"

static struct mock m;
static FILE *logf;

static void log_bytes(const char *dir, const uint8_t *p, size_t n)
{
    if (!logf)
        return;
    fprintf(logf, "%s", dir);
    fwrite(p, 1, n, logf);
    fprintf(logf, "\n");
    fflush(logf);
}

static void put_stdout(void *ctx, const uint8_t *bytes, size_t len)
{
    log_bytes("-> ", bytes, len);
    while (len) {
        ssize_t w = write(1, bytes, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            exit(1);
        bytes += w;
        len -= (size_t)w;
    }
}

int main(int argc, char **argv)
{
    int threads = 4, i;
    uint8_t buf[4096];

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc)
            logf = fopen(argv[++i], "w");
        else {
            fprintf(stderr, "usage: %s [--threads N] [--log FILE]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > RSP_MAX_THREADS)
        threads = 4;
    mock_init(&m, threads, true);
    m.rsp.put = put_stdout;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        log_bytes("<- ", buf, (size_t)n);
        rsp_input(&m.rsp, buf, (size_t)n);
        if (m.kills)
            break;
    }
    if (logf)
        fprintf(logf, "stats: packets=%llu bad_checksum=%llu malformed=%llu unknown=%llu\n",
                (unsigned long long)m.rsp.stats.packets,
                (unsigned long long)m.rsp.stats.bad_checksum,
                (unsigned long long)m.rsp.stats.malformed,
                (unsigned long long)m.rsp.stats.unknown);
    return 0;
}
