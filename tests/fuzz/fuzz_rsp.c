/* libFuzzer target: arbitrary bytes from "gdb" into the RSP core
 * (hv/gdbstub/rsp*.c) with the mock target of tests/unit/rsp_mock_target.h.
 * The first input byte picks the set-up (thread count, whether the target
 * stops at once or later, a split point). Checks, besides ASan/UBSan:
 *   - everything sent is '+', '-' or a well-formed packet: "$", a body
 *     without '$' or '#' and at most RSP_PACKET_MAX bytes on the wire, run
 *     lengths by gdb's rules, "#" and the right checksum;
 *   - feeding the input whole or in two pieces gives the same bytes out;
 *   - the core never asks the target for a thread or register out of
 *     range (the mock aborts), nor more memory than a packet holds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../unit/rsp_mock_target.h"

static struct mock m;
static uint8_t *ref;
static size_t ref_cap;

static int hexv(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;                  /* the core sends lower case only */
}

static void check_output(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (p[i] == '+' || p[i] == '-') {
            i++;
            continue;
        }
        if (p[i] != '$')
            abort();
        size_t j = i + 1;
        unsigned sum = 0;
        while (j < n && p[j] != '#') {
            if (p[j] == '$')
                abort();
            if (p[j] == '*') {
                if (j == i + 1 || j + 1 >= n)
                    abort();
                uint8_t c = p[j + 1];
                if (c == '#' || c == '$' || c > 126 || c < 29 + 3)
                    abort();
                sum += p[j];
                j++;
            }
            sum += p[j++];
        }
        if (j + 2 >= n)
            abort();
        if (j - i - 1 > RSP_PACKET_MAX)
            abort();
        int hi = hexv(p[j + 1]), lo = hexv(p[j + 2]);
        if (hi < 0 || lo < 0 || (unsigned)(hi << 4 | lo) != (sum & 0xff))
            abort();
        i = j + 3;
    }
}

/* Feeds data in two pieces at k; when the target stops later, reports a
 * stop whenever the core waits for one, as the hypervisor would. */
static void run(const uint8_t *data, size_t size, size_t k, int threads, bool sync)
{
    struct rsp_stop s = { .thread = 2, .signal = 5, .reason = RSP_STOP_WATCH, .addr = 0x10 };
    size_t i;

    mock_init(&m, threads, sync);
    for (i = 0; i < size; i = k) {
        size_t end = i < k ? k : size;
        rsp_input(&m.rsp, data + i, end - i);
        if (m.rsp.running && !sync) {
            rsp_console_output(&m.rsp, "console\n", 8);
            rsp_stopped(&m.rsp, &s);
        }
        if (end == size)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int threads;
    bool sync;
    size_t k, ref_len;

    if (size < 1)
        return 0;
    threads = 1 + (data[0] & 7);
    sync = !(data[0] & 8);
    data++;
    size--;
    k = size ? (size_t)(data[0] * 7919u) % size : 0;

    run(data, size, size, threads, sync);
    check_output(m.out, m.out_len);
    if (m.out_len > ref_cap) {
        ref_cap = m.out_len * 2;
        ref = realloc(ref, ref_cap);
        if (!ref)
            abort();
    }
    memcpy(ref, m.out, m.out_len);
    ref_len = m.out_len;

    run(data, size, k, threads, sync);
    if (sync && (m.out_len != ref_len || memcmp(m.out, ref, ref_len)))
        abort();
    return 0;
}
