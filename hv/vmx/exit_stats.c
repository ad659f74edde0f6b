/* EXIT_STATS (host command): every CPU's exact VM exit counts by reason,
 * and its LAPIC exits by register. */
#include "console/console.h"
#include "serial/serial.h"
#include "trace/catalog.h"
#include "trace/wire.h"
#include "vmx/handlers.h"
#include "vmx/vmx.h"
#include <percpu.h>

static void print_cpu(uint32_t cpu)
{
    const struct vcpu *v = &vcpus[cpu];
    const char *last = catalog_exit_name(v->last_reason);
    printf("exit stats cpu%u: total %lu\n", cpu, v->exits);
    if (v->exits)
        printf("exit stats cpu%u: last exit %s at guest rip %#lx rflags %#lx cr0 %#lx\n",
               cpu, last ? last : "?", v->last_rip, v->last_rflags, v->last_cr0);
    for (unsigned r = 0; r < sizeof(v->exit_count) / sizeof(v->exit_count[0]); r++)
        if (v->exit_count[r]) {
            const char *name = catalog_exit_name(r);
            printf("exit stats cpu%u: %s %lu\n", cpu, name ? name : "?", v->exit_count[r]);
        }
    if (v->lapic_emulated || v->lapic_stepped)
        printf("lapic exits cpu%u: xapic accesses emulated %lu stepped %lu\n", cpu,
               v->lapic_emulated, v->lapic_stepped);
    for (unsigned mode = 0; mode < 2; mode++)
        for (unsigned r = 0; r < 0x100; r++)
            if (v->lapic_exits[mode][r])
                printf("lapic exits cpu%u: %s reg %#05x %lu\n", cpu,
                       mode ? "x2apic" : "xapic", r << 4, v->lapic_exits[mode][r]);
}

void vmx_print_exit_stats(void)
{
    for (uint32_t cpu = 0; cpu < cpu_count; cpu++)
        print_cpu(cpu);
    printf("exit stats: end\n");  /* a reader knows the dump is whole */
}

static void exit_stats_command(const uint8_t *args, uint32_t len)
{
    vmx_print_exit_stats();
}

void vmx_exit_stats_init(void)
{
    serial_command_register(WIRE_CTL_EXIT_STATS, "EXIT_STATS", exit_stats_command);
}
