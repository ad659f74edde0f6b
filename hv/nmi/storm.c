/* NMI_STORM (host command, hv/trace/wire.h): the hypervisor sends NMI IPIs
 * to chosen CPUs at a rate, the storm QEMU's inject-nmi drives from outside
 * (qmp/nmi-storm) made from inside, for Bochs, which has no QMP.
 *
 * Whichever CPU is about to enter its guest when a round is due claims it
 * and sends one NMI to each target. The targets take these NMIs as any
 * external NMI: neither a quiesce request nor the debugger's, so
 * nmi_arrived() makes each one the guest's (pending, then injected; one
 * that finds another still pending merges with it, as on hardware). While
 * a storm runs, every CPU asks the VMX core for an exit by the next round
 * (vcpu.exit_by_tsc), so the rate holds while the guest halts; interval 0
 * sends a round at every VM exit of every CPU, with no CPU's timer longer
 * than STORM_MIN_GAP_US.
 *
 * The end (rounds sent, duration over, or a stop command) is reported on
 * the console: rounds and NMIs sent to each CPU. A storm that replaces a
 * running one reports that one first; a round in flight at that moment
 * may be counted in either. */
#include "console/console.h"
#include "cpu/lapic.h"
#include "cpu/tsc.h"
#include <percpu.h>
#include "serial/serial.h"
#include "trace/trace.h"
#include "trace/wire.h"
#include "nmi/nmi.h"
#include "vmx/exit_table.h"

#define STORM_MIN_GAP_US    10
#define STORM_SETTLE_SPINS  100000  /* for a sender still in its round */

static struct {
    volatile uint32_t active;       /* 0: no storm */
    uint32_t targets;               /* CPU indices, bit per CPU */
    uint32_t rounds;                /* 0: no limit */
    uint64_t interval, start, end;  /* TSC; end 0: no limit */
    uint32_t interval_us;
    volatile uint64_t next;         /* TSC of the next round */
    volatile uint32_t claimed, sent;
    volatile uint64_t to[MAX_CPUS]; /* NMIs sent to each CPU */
} storm;

static uint32_t get_u32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Ends the storm once (the CPU that wins the switch reports it). */
static void storm_finish(const char *why)
{
    uint32_t on = 1;
    if (!__atomic_compare_exchange_n(&storm.active, &on, 0, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    for (int i = 0; i < STORM_SETTLE_SPINS &&
         __atomic_load_n(&storm.sent, __ATOMIC_ACQUIRE) !=
         __atomic_load_n(&storm.claimed, __ATOMIC_ACQUIRE); i++)
        __asm__ volatile("pause");
    uint64_t us = tsc_per_ms ? (rdtsc() - storm.start) * 1000 / tsc_per_ms : 0;
    printf("nmi storm: end (%s) after %lu us: %u rounds\n", why, us, storm.sent);
    for (uint32_t c = 0; c < cpu_count; c++)
        if (storm.targets >> c & 1)
            printf("nmi storm: sent cpu%u %lu\n", c, storm.to[c]);
    printf("nmi storm: end\n");     /* a reader knows the report is whole */
}

/* One round for whoever is first past its time; false if none is due or
 * the rounds are used up. */
static bool claim_round(uint64_t now, uint32_t *round)
{
    uint64_t due = __atomic_load_n(&storm.next, __ATOMIC_ACQUIRE);
    if (now < due || !__atomic_compare_exchange_n(&storm.next, &due, now + storm.interval,
                                                  false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return false;
    uint32_t c = __atomic_load_n(&storm.claimed, __ATOMIC_ACQUIRE);
    do {
        if (storm.rounds && c >= storm.rounds)
            return false;
    } while (!__atomic_compare_exchange_n(&storm.claimed, &c, c + 1, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    *round = c + 1;
    return true;
}

static void send_round(uint32_t round)
{
    trace_event(TEV_NMI_STORM_SEND, round, storm.targets);
    for (uint32_t c = 0; c < cpu_count; c++)
        if (storm.targets >> c & 1) {
            lapic_send_ipi(percpu_table[c].apic_id, ICR_NMI);
            __atomic_fetch_add(&storm.to[c], 1, __ATOMIC_RELEASE);
        }
    __atomic_fetch_add(&storm.sent, 1, __ATOMIC_RELEASE);
}

static bool storm_over(uint64_t now)
{
    if (storm.rounds && __atomic_load_n(&storm.sent, __ATOMIC_ACQUIRE) >= storm.rounds)
        return true;
    return storm.end && now >= storm.end;
}

/* Every CPU, before each entry (stage CONTROLS: before the drain and the
 * injection, so an NMI to this CPU itself is already pending). */
static void storm_before_entry(struct vcpu *v)
{
    if (!__atomic_load_n(&storm.active, __ATOMIC_ACQUIRE)) {
        v->exit_by_tsc = 0;
        return;
    }
    uint64_t now = rdtsc();
    uint32_t round;
    if (claim_round(now, &round))
        send_round(round);
    if (storm_over(now)) {
        storm_finish(storm.end && now >= storm.end ? "duration" : "rounds");
        v->exit_by_tsc = 0;
        return;
    }
    uint64_t by = __atomic_load_n(&storm.next, __ATOMIC_ACQUIRE);
    uint64_t floor = now + STORM_MIN_GAP_US * tsc_per_ms / 1000;
    if (by < floor)
        by = floor;
    if (storm.end && storm.end < by)
        by = storm.end;
    v->exit_by_tsc = by;
}

static void storm_command(const uint8_t *args, uint32_t len)
{
    if (len < WIRE_NMI_STORM_LEN - 1) {
        printf("nmi storm: command of %u bytes, want %u: ignored\n", len,
               WIRE_NMI_STORM_LEN - 1);
        return;
    }
    uint32_t targets = get_u32(args), us = get_u32(args + 4);
    uint32_t rounds = get_u32(args + 8), ms = get_u32(args + 12);
    storm_finish(targets ? "replaced" : "stopped");
    uint32_t all = cpu_count >= 32 ? ~0u : (1u << cpu_count) - 1;
    if (!targets) {
        printf("nmi storm: stopped\n");
        return;
    }
    if (targets & ~all || (!rounds && !ms)) {
        printf("nmi storm: targets %#x (CPUs %#x exist), rounds %u, duration %u ms: "
               "refused (unknown CPUs, or neither rounds nor duration)\n", targets, all,
               rounds, ms);
        return;
    }
    storm.targets = targets;
    storm.rounds = rounds;
    storm.interval_us = us;
    storm.interval = us * tsc_per_ms / 1000;
    storm.claimed = storm.sent = 0;
    for (uint32_t c = 0; c < MAX_CPUS; c++)
        storm.to[c] = 0;
    storm.start = rdtsc();
    storm.end = ms ? storm.start + ms * tsc_per_ms : 0;
    storm.next = storm.start;
    printf("nmi storm: start: targets %#x, interval %u us, rounds %u, duration %u ms\n",
           targets, us, rounds, ms);
    __atomic_store_n(&storm.active, 1, __ATOMIC_RELEASE);
}

void nmi_storm_init(void)
{
    serial_command_register(WIRE_CTL_NMI_STORM, "NMI_STORM", storm_command);
    vmx_before_entry_register(ENTRY_STAGE_CONTROLS, storm_before_entry);
}
