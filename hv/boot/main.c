/* The BSP's start-up sequence, from the first C line to the idle loop. */
#include <stdint.h>
#include <string.h>
#include "config/config.h"
#include "console/console.h"
#include <percpu.h>
#include "mem/pmm.h"
#include "mem/identity.h"
#include "cpu/tsc.h"
#include "cpu/lapic.h"
#include "trace/trace.h"
#include <x86.h>
#include <image.h>
#include "boot/boot.h"
#include "config/multiboot.h"
#include "cpu/idt.h"
#include "cpu/exception.h"
#include "acpi/acpi.h"
#include "smp/smp.h"
#include "smp/work.h"
#include "vmx/features.h"
#include "vmx/vmx.h"
#include "hypapp/hypapp.h"
#include "trustvisor/trustvisor.h"
#include "selftest/selftest.h"
#include "nmi/nmi.h"
#include "vapic/vapic.h"
#include "vdev/guest_uart.h"
#include "trace/percpu_rings.h"
#include "serial/serial.h"
#include "gdbstub/stub.h"

static const char *const mmap_type[] = {
    "?", "usable", "reserved", "ACPI reclaimable", "ACPI NVS", "bad"
};

static void print_memory(void)
{
    printf("memory map (multiboot2):\n");
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        printf("  [%016lx-%016lx) %s\n", m->addr, m->addr + m->len,
               m->type < 6 ? mmap_type[m->type] : "other");
    }
    printf("hv footprint: [%#lx-%#lx) image %lu KiB, page pool ~%lu MiB\n",
           hv_footprint_start, hv_footprint_end,
           ((uint64_t)hv_end - (uint64_t)hv_start) >> 10,
           (hv_footprint_end - (uint64_t)hv_end) >> 20);
}

static void __attribute__((noreturn)) halt_all(const char *why)
{
    printf("hv: halted: %s\n", why);
    trace_event(TEV_CPU_PARKED, 0);
    serial_fatal_takeover();    /* flush every ring before stopping */
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

static uint32_t vmx_init_failures;

static void vmx_init_on_cpu(void *arg)
{
    (void)arg;
    struct vcpu *v = &vcpus[this_cpu_index()];
    if (!vmx_cpu_init() || !vapic_cpu_init(v))
        __atomic_fetch_add(&vmx_init_failures, 1, __ATOMIC_RELAXED);
    else
        hypapp_cpu_init(v);
}

/* The layers above the VMX core register their exits, hooks, devices and
 * channels with it, bottom up. */
static void register_vmx_users(void)
{
    vapic_global_init();
    guest_uart_init();
    hypapp_init();
    trustvisor_register();
}

void hv_main(uint32_t mbi_phys)
{
    /* The BSP's stacks are static so exceptions work from the first line. */
    static uint8_t bsp_ist[3][IST_STACK_SIZE] __attribute__((aligned(16)));
    struct percpu *bsp = &percpu_table[0];
    bsp->stack_base = boot_stack;
    for (int i = 1; i < 4; i++)
        bsp->ist_base[i] = bsp_ist[i - 1];
    idt_init();
    cpu_init_self(bsp);
    trace_rings_prepare(0, NULL);
    console_flush_early();

    if (multiboot_parse(mbi_phys) == 0)
        cmdline_parse(boot_info.cmdline);
    trace_rings_apply_settings();
    serial_start();         /* the UART as configured; output flows from here */
    printf("hv: debug-first hypervisor, command line '%s'\n", boot_info.cmdline);

    if (pmm_init(hv_config.heap_bytes))
        halt_all("no room for the hypervisor's memory");
    if (mem_map_all_ram())
        halt_all("no room to map the RAM above 4 GiB");
    bsp->online = true;
    tsc_calibrate();
    print_memory();
    printf("tsc: %lu kHz\n", tsc_per_ms);

    struct acpi_cpus cpus;
    if (acpi_find_cpus(boot_info.acpi_rsdp, &cpus))
        halt_all("CPU enumeration failed");
    printf("acpi: %u CPUs in the MADT, local APIC at %#lx\n", cpus.count, cpus.lapic_base);
    trace_event(TEV_CPU_ONLINE, bsp->apic_id);
    printf("cpu0 online: apic id %u (%s) [BSP]\n", bsp->apic_id,
           lapic_x2apic_mode() ? "x2apic" : "xapic");
    uint32_t online = smp_start_aps(&cpus);
    printf("smp: %u of %u CPUs online\n", online, cpus.count);
    serial_announce();      /* again, now with the CPU count and TSC rate */
    trace_event(TEV_BOOT, online, tsc_per_ms);
    gdbstub_init();         /* every CPU is a thread from here */
    gdbstub_boot_wait();

    if (!vmx_features_probe())
        halt_all("no VMX: this CPU does not offer Intel VT-x, the hypervisor cannot run here");

    if (!vmx_global_init())
        halt_all("VMX is present but lacks what the hypervisor needs (see above)");
    register_vmx_users();
    uint32_t failed = smp_run_on_all(vmx_init_on_cpu, NULL, 5000) + vmx_init_failures;
    if (failed)
        halt_all("VMX set-up failed on some CPU (see above)");

    selftest_run(hv_config.selftest);
    printf("hv: ready\n");
    if (hv_config.no_guest)
        cpu_idle();
    selftest_start_background(hv_config.selftest);
    nmi_init();     /* NMIs are classified from the first guest entry on */
    vmx_launch_guest(hv_config.boot_drive);
}
