/* EXIT_COUNTS summaries: once per interval of TSC time, per CPU, the VM
 * exits of each reason since its last summary, as streamed trace records
 * (class exits). Why: the per-exit vmx events stay in the flight recorder
 * by default (streamed, they held the guest to the serial line's pace),
 * and a reader still wants the exit rates. Sums of these records equal
 * the exact counters that EXIT_STATS prints, up to the last summary.
 * Runs on the exit path of its own CPU only: its vcpu's counters, its
 * trace ring, no lock. */
#include <percpu.h>
#include <x86.h>
#include "cpu/tsc.h"
#include "trace/trace.h"
#include "vmx/exit.h"

#define SUMMARY_MS    100
#define SLOTS         6     /* reasons per EXIT_COUNTS record (its args) */
#define NREASONS      (sizeof(((struct vcpu *)0)->exit_count) / sizeof(uint64_t))

static struct summary {
    uint64_t sent[NREASONS];    /* exit_count at the last summary */
    uint64_t next_tsc;
} summaries[MAX_CPUS];

static void emit(const uint64_t *s)
{
    trace_event(TEV_EXIT_COUNTS, s[0], s[1], s[2], s[3], s[4], s[5]);
}

void vmx_exit_summary(struct vcpu *v)
{
    struct summary *sum = &summaries[v->index];
    uint64_t now = rdtsc(), slot[SLOTS] = { 0 };
    unsigned n = 0;

    if (now < sum->next_tsc || !tsc_per_ms)
        return;
    sum->next_tsc = now + SUMMARY_MS * tsc_per_ms;
    for (unsigned r = 0; r < NREASONS; r++) {
        uint64_t d = v->exit_count[r] - sum->sent[r];
        if (!d)
            continue;
        sum->sent[r] = v->exit_count[r];
        slot[n++] = d << 16 | r;        /* the exitn format (events.def) */
        if (n == SLOTS) {
            emit(slot);
            for (n = 0; n < SLOTS; n++)
                slot[n] = 0;
            n = 0;
        }
    }
    if (n)
        emit(slot);
}
