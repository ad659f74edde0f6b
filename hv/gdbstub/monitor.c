/* `monitor ...` in gdb (qRcmd): the hypervisor's own views, sent to gdb's
 * console. Commands that need a CPU's own VMCS run on that CPU (it is
 * parked; gdb_run_on); their printf output is captured for gdb. */
#include <stdarg.h>
#include <string.h>
#include <fmt.h>
#include "console/console.h"
#include <percpu.h>
#include "gdbstub/stub_internal.h"
#include "trace/catalog.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "cpu/tsc.h"
#include <x86.h>

static char out[8192];

static void say(struct rsp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct rsp *r, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        rsp_monitor_output(r, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The thread gdb selected (Hg), else the CPU that stopped. */
static uint32_t selected_cpu(void)
{
    int t = gdb.rsp.g_thread;
    if (t >= 1 && t <= (int)cpu_count)
        return (uint32_t)t - 1;
    return gdb.reporter >= 0 ? (uint32_t)gdb.reporter : 0;
}

static void send_captured(struct rsp *r, size_t len)
{
    for (size_t off = 0; off < len; off += 512)
        rsp_monitor_output(r, out + off, len - off < 512 ? len - off : 512);
}

static void run_captured(struct rsp *r, uint32_t cpu, void (*fn)(void *), void *arg)
{
    console_capture_start(cpu, out, sizeof(out));
    bool ran = gdb_run_on(cpu, fn, arg);
    size_t len = console_capture_stop();
    if (!ran)
        say(r, "cpu%u is not stopped; nothing to show\n", cpu);
    send_captured(r, len);
}

static void vmcs_on_cpu(void *arg)
{
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (!v->vmcs_phys) {
        printf("cpu%u has no VMCS\n", v->index);
        return;
    }
    printf("cpu%u VMCS at %#lx:\n", v->index, v->vmcs_phys);
    vmcs_dump_all();
}

void gdb_thread_extra(void *ctx, int tid, char *buf, size_t cap)
{
    if (tid < 1 || tid > (int)cpu_count) {
        snprintf(buf, cap, "no such CPU");
        return;
    }
    uint32_t i = (uint32_t)tid - 1;
    const struct gdb_cpu *c = &gdb_cpus[i];
    const struct vcpu *v = &vcpus[i];
    const char *last = catalog_exit_name(v->last_reason);
    snprintf(buf, cap, "cpu%u apic %u, %s, %s, last exit %s, guest rip %#lx", i,
             percpu_table[i].apic_id, gdb_cpu_is_stopped(i) ? "stopped" : "NOT stopped",
             c->guest.valid ? (c->trap_frame ? "in the hypervisor (exit)" : "in a VM exit")
                            : "in the hypervisor (no guest)",
             v->exits ? (last ? last : "?") : "none", c->guest.valid ? c->guest.rip : v->last_rip);
}

bool gdb_thread_alive(void *ctx, int tid)
{
    return tid >= 1 && tid <= (int)cpu_count && percpu_table[tid - 1].online;
}

static void cmd_cpus(struct rsp *r)
{
    for (uint32_t i = 0; i < cpu_count; i++) {
        char line[200];
        gdb_thread_extra(NULL, (int)i + 1, line, sizeof(line));
        say(r, "%s%s\n", line, (int)i == gdb.reporter ? "  <- stopped first" : "");
    }
}

static void cmd_nmi(struct rsp *r)
{
    say(r, "cpu  nmis  injected coalesced dropped pending quiesce-answers\n");
    for (uint32_t i = 0; i < cpu_count; i++) {
        const struct vcpu *v = &vcpus[i];
        say(r, "%-4u %-5lu %-8lu %-9lu %-7lu %-7u %lu\n", i, percpu_table[i].nmi_count,
            v->nmi_injected, v->nmi_coalesced, v->nmi_dropped, v->nmi_pending,
            v->quiesce_answered);
    }
}

static void cmd_exits(struct rsp *r)
{
    const unsigned nreasons = sizeof(vcpus[0].exit_count) / sizeof(vcpus[0].exit_count[0]);
    for (uint32_t i = 0; i < cpu_count; i++) {
        say(r, "cpu%u: %lu exits\n", i, vcpus[i].exits);
        for (unsigned e = 0; e < nreasons; e++)
            if (vcpus[i].exit_count[e]) {
                const char *n = catalog_exit_name(e);
                say(r, "  %-24s %lu\n", n ? n : "?", vcpus[i].exit_count[e]);
            }
    }
}

/* The EPT walk of the selected CPU for one guest physical address (SDM Vol.
 * 3C, 29.3.2: 4 levels, bit 7 a large page at levels 3 and 2). */
static uint64_t parse_number(const char *s)
{
    uint64_t x = 0;
    unsigned base = 10;
    while (*s == ' ')
        s++;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++) {
        unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0') :
                     *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) :
                     *s >= 'A' && *s <= 'F' ? (unsigned)(*s - 'A' + 10) : 99;
        if (d >= base)
            return x;
        x = x * base + d;
    }
}

static void cmd_ept(struct rsp *r, const char *arg)
{
    uint64_t gpa = parse_number(arg);
    const struct vcpu *v = &vcpus[selected_cpu()];
    uint64_t table = v->eptp & 0x000ffffffffff000ul;
    say(r, "EPT of cpu%u (EPTP %#lx), GPA %#lx:\n", v->index, v->eptp, gpa);
    for (int level = 4; level >= 1 && table; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e = ((const uint64_t *)phys_ptr(table))[(gpa >> shift) & 511];
        say(r, "  level %d entry %#018lx  %c%c%c\n", level, e, e & 1 ? 'r' : '-',
            e & 2 ? 'w' : '-', e & 4 ? 'x' : '-');
        if (!(e & 7)) {
            say(r, "  not mapped: an access is an EPT violation\n");
            return;
        }
        if (level == 1 || (level <= 3 && (e & (1ull << 7)))) {
            uint64_t size = 1ull << shift;
            say(r, "  -> HPA %#lx (%s page, memory type %lu)\n",
                (e & 0x000ffffffffff000ul & ~(size - 1)) | (gpa & (size - 1)),
                level == 1 ? "4 KiB" : level == 2 ? "2 MiB" : "1 GiB", (e >> 3) & 7);
            return;
        }
        table = e & 0x000ffffffffff000ul;
    }
}

int gdb_monitor(void *ctx, struct rsp *r, const char *cmd)
{
    while (*cmd == ' ')
        cmd++;
    if (!strcmp(cmd, "cpus"))
        cmd_cpus(r);
    else if (!strcmp(cmd, "vmcs"))
        run_captured(r, selected_cpu(), vmcs_on_cpu, NULL);
    else if (!strcmp(cmd, "guest") || !strcmp(cmd, "hv")) {
        gdb.view_guest = cmd[0] == 'g';
        say(r, "registers and memory are now the %s's (threads whose CPU runs no guest "
               "show none)\n", gdb.view_guest ? "guest" : "hypervisor");
        say(r, "use 'flushregs' if gdb cached the other view\n");
    } else if (!strncmp(cmd, "ept", 3) && (cmd[3] == ' ' || !cmd[3]))
        cmd_ept(r, cmd + 3);
    else if (!strcmp(cmd, "nmi"))
        cmd_nmi(r);
    else if (!strncmp(cmd, "trace", 5) && (cmd[5] == ' ' || !cmd[5]))
        gdb_monitor_trace(r, selected_cpu(), cmd + 5);
    else if (!strcmp(cmd, "exits"))
        cmd_exits(r);
    else if (!strcmp(cmd, "clock")) {
        /* The machine's own time (TSC, calibrated at boot): what a gdb
         * session costs in the target's time, on an emulator whose wall
         * clock is its speed (bench/bench_gdb.py reads it around each step). */
        uint64_t t = rdtsc();
        say(r, "tsc %lu us %lu\n", t, tsc_to_us(t));
    } else if (!strcmp(cmd, "help") || !*cmd)
        say(r, "monitor commands: cpus, vmcs, guest, hv, ept GPA, nmi, trace [N], exits, clock\n");
    else {
        say(r, "unknown monitor command '%s' (monitor help lists them)\n", cmd);
        return 22;
    }
    return 0;
}
