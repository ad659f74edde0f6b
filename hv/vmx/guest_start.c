/* Starting the machine's own OS, as XMHF does: the first sector of the boot
 * disk (a multiboot module GRUB read with `module2 --nounzip (hd0)+1`) is
 * copied to 0:7c00 and the BSP enters it in real mode (unrestricted guest)
 * with DL = the boot drive. INT 15h is hooked so the guest's E820 map
 * leaves out the hypervisor (the EPT denies it as well). */
#include <string.h>
#include "config/config.h"
#include "console/console.h"
#include <percpu.h>
#include "mem/pmm.h"
#include "trace/trace.h"
#include <x86.h>
#include "config/multiboot.h"
#include "cpu/exception.h"
#include "vmx/controls.h"
#include "vmx/guest_start.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"
#include "vmx/exit_table.h"

#define BDA_BASE_MEM_KB   0x413
#define IVT_INT15         (0x15 * 4)
#define BOOT_SECTOR_ADDR  0x7c00

struct int15_hook int15_hook;
struct e820_table guest_e820;

static void e820_add(uint64_t a, uint64_t end, uint32_t type)
{
    if (end <= a || guest_e820.count == E820_MAX)
        return;
    guest_e820.e[guest_e820.count++] = (struct e820_entry){ a, end - a, type };
}

/* Usable RAM [a, end) minus the holes (sorted by start) becomes usable and
 * reserved pieces. */
static void add_ram_minus_holes(uint64_t a, uint64_t end, const uint64_t (*holes)[2], int n)
{
    for (int i = 0; i < n && a < end; i++) {
        uint64_t lo = holes[i][0], hi = holes[i][1];
        if (hi <= a || lo >= end)
            continue;
        e820_add(a, lo, 1);
        e820_add(lo > a ? lo : a, hi < end ? hi : end, 2);
        a = hi;
    }
    e820_add(a, end, 1);
}

/* The firmware's map minus the hypervisor and the hook's own kilobyte. */
static void build_guest_e820(uint64_t hook_lo, uint64_t hook_hi)
{
    const uint64_t holes[2][2] = { { hook_lo, hook_hi },        /* below 1 MiB */
                                   { hv_footprint_start, hv_footprint_end } };
    guest_e820.count = 0;
    for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mb_mmap_entry *m = &boot_info.mmap[i];
        if (m->type == 1)
            add_ram_minus_holes(m->addr, m->addr + m->len, holes, 2);
        else
            e820_add(m->addr, m->addr + m->len, m->type);
    }
}

static void install_int15_hook(void)
{
    uint16_t *bda_kb = phys_ptr(BDA_BASE_MEM_KB);
    uint16_t *ivt15 = phys_ptr(IVT_INT15);
    /* Take the top kilobyte of conventional memory, as option ROMs do. */
    uint16_t kb = --*bda_kb;
    uint32_t lin = (uint32_t)kb * 1024;
    static const uint8_t stub[] = { 0x0f, 0x01, 0xc1,   /* vmcall */
                                    0xcf };             /* iret   */
    memcpy(phys_ptr(lin), stub, sizeof(stub));
    int15_hook.orig_off = ivt15[0];
    int15_hook.orig_seg = ivt15[1];
    int15_hook.stub_seg = lin >> 4;
    int15_hook.stub_linear = lin;
    ivt15[0] = 0;
    ivt15[1] = lin >> 4;
    build_guest_e820(lin, lin + 1024);
    printf("guest: INT 15h hooked at %04x:0000 (was %04x:%04x); guest E820 has %u entries\n",
           int15_hook.stub_seg, int15_hook.orig_seg, int15_hook.orig_off, guest_e820.count);
    for (uint32_t i = 0; i < guest_e820.count; i++)
        printf("  e820 [%016lx-%016lx) type %u\n", guest_e820.e[i].addr,
               guest_e820.e[i].addr + guest_e820.e[i].len, guest_e820.e[i].type);
}

/* Without a boot sector the guest is a tiny built-in one: a line on its
 * COM1, a PING to the hypervisor, a call to the diag hypapp, then halt. It
 * proves the VMX path and the guest serial channel with no disk at all.
 * It waits for THR empty before each byte like any polled driver must:
 * with guest_serial=passthrough it talks to the real 16550, which drops
 * what overflows its FIFO. */
static void place_builtin_guest(void)
{
    static const uint8_t idle_guest[] = {
        0xbe, 0x33, 0x7c,                   /* mov si, msg */
        0xba, 0xfd, 0x03,                   /* mov dx, 0x3fd (LSR) */
        0xec,                               /* 1: in al, dx */
        0xa8, 0x20,                         /* test al, 0x20 (THR empty) */
        0x74, 0xfb,                         /* jz 1b */
        0xac,                               /* lodsb */
        0x84, 0xc0,                         /* test al, al */
        0x74, 0x07,                         /* jz 2f */
        0xb2, 0xf8,                         /* mov dl, 0xf8 (THR) */
        0xee,                               /* out dx, al */
        0xb2, 0xfd,                         /* mov dl, 0xfd */
        0xeb, 0xef,                         /* jmp 1b */
        0x66, 0xb8, 0x00, 0x00, 0x56, 0x48, /* 2: mov eax, 0x48560000 (PING) */
        0x66, 0xb9, 0x34, 0x12, 0, 0,       /* mov ecx, 0x1234 */
        0x0f, 0x01, 0xc1,                   /* vmcall (at 0x7c23) */
        0x66, 0xb8, 0x00, 0x01, 0, 0,       /* mov eax, 0x100 (diag hypapp) */
        0x0f, 0x01, 0xc1,                   /* vmcall (at 0x7c2c) */
        0xfa, 0xf4, 0xeb, 0xfd,             /* cli; hlt; jmp $-1 */
        'b', 'u', 'i', 'l', 't', '-', 'i', 'n', ' ', 'g', 'u', 'e', 's', 't',
        ':', ' ', 'h', 'e', 'l', 'l', 'o', '\r', '\n', 0,    /* msg (0x7c33) */
    };
    _Static_assert(sizeof(idle_guest) == 0x33 + 24, "msg is not at 0x7c33");
    memcpy(phys_ptr(BOOT_SECTOR_ADDR), idle_guest, sizeof(idle_guest));
}

static void real_mode_segment(uint32_t sel_f, uint32_t base_f, uint32_t lim_f, uint32_t ar_f,
                              uint32_t ar)
{
    vmcs_write_checked(sel_f, vmcs_field_name(sel_f), 0, 0xffff);
    vmcs_write_checked(base_f, vmcs_field_name(base_f), 0, ~0ull);
    vmcs_write_checked(lim_f, vmcs_field_name(lim_f), 0xffff, 0xffffffff);
    vmcs_write_checked(ar_f, vmcs_field_name(ar_f), ar, 0xffffffff);
}

/* Real mode at cs:ip, as after reset (the BSP at 0:7c00 as the BIOS left
 * it) or as a SIPI leaves an AP (cs = vector << 8, ip = 0): the state of
 * SDM Vol. 3A, 9.1.1 (Table 9-1), in the form the guest-state checks of an
 * unrestricted guest accept (Vol. 3C, 26.3.1). */
void vmx_guest_real_mode(uint16_t cs, uint16_t ip, uint8_t dl)
{
    /* Access rights: 0x93 data r/w accessed, 0x9b code; present, S=1.
     * Unrestricted guests may run real mode with these protected-mode-style
     * descriptors; LDTR unusable-but-valid (0x82) and a busy TSS (0x8b) as
     * 26.3.1.2 requires of TR and LDTR. */
    real_mode_segment(VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR, 0x9b);
    real_mode_segment(VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR, 0x93);
    real_mode_segment(VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR, 0x93);
    real_mode_segment(VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR, 0x93);
    real_mode_segment(VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR, 0x93);
    real_mode_segment(VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR, 0x93);
    real_mode_segment(VMCS_GUEST_LDTR_SEL, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR, 0x82);
    real_mode_segment(VMCS_GUEST_TR_SEL, VMCS_GUEST_TR_BASE, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR, 0x8b);
    /* The real-mode IVT at 0 (limit 0x3ff), as after reset. */
    vmcs_write(GUEST_GDTR_BASE, 0);
    vmcs_write(GUEST_GDTR_LIMIT, 0xffff);
    vmcs_write(GUEST_IDTR_BASE, 0);
    vmcs_write(GUEST_IDTR_LIMIT, 0x3ff);
    /* CR0: ET only as the guest sees it; the fixed bits (CR0/CR4_FIXED0,
     * 26.3.1.1) go in underneath; the masks hide them (24.6.6). */
    uint64_t mask0 = vmcs_read(CR0_GUEST_HOST_MASK), mask4 = vmcs_read(CR4_GUEST_HOST_MASK);
    vmcs_write(CR0_READ_SHADOW, 0x10);
    vmcs_write(GUEST_CR0, 0x10 | (mask0 & rdmsr(MSR_IA32_VMX_CR0_FIXED0)));
    vmcs_write(CR4_READ_SHADOW, 0);
    vmcs_write(GUEST_CR4, mask4 & (rdmsr(MSR_IA32_VMX_CR4_FIXED0) | CR4_VMXE));
    vmcs_write(GUEST_CR3, 0);
    vmcs_write(GUEST_DR7, 0x400);       /* reset value; bits 63:32 must be 0 (26.3.1.1) */
    vmcs_write(GUEST_CS_SEL, cs);
    vmcs_write(GUEST_CS_BASE, (uint64_t)cs << 4);
    vmcs_write(GUEST_RSP, cs == 0 && ip == BOOT_SECTOR_ADDR ? 0x7000 : 0);
    vmcs_write(GUEST_RIP, ip);
    vmcs_write(GUEST_RFLAGS, 0x2);      /* bit 1 is reserved to 1 (26.3.1.4) */
    vmcs_write(GUEST_PENDING_DBG, 0);
    vmcs_write(GUEST_SYSENTER_CS, 0);
    vmcs_write(GUEST_SYSENTER_ESP, 0);
    vmcs_write(GUEST_SYSENTER_EIP, 0);
    vmcs_write(GUEST_EFER, 0);
    /* An AP restarted by INIT may have been in long mode; "IA-32e mode
     * guest" must match EFER.LMA (26.3.1.1). */
    vmcs_write(ENTRY_CONTROLS, vmcs_read(ENTRY_CONTROLS) & ~ENTRY_IA32E_GUEST);
    vmcs_write(GUEST_PAT, 0x0007040600070406ull);  /* power-up PAT (Vol. 3A, 11.12.4) */
    vmcs_write(GUEST_DEBUGCTL, 0);
    vmcs_write(GUEST_INTERRUPTIBILITY, 0);  /* nothing blocked (24.4.2) */
    vmcs_write(GUEST_ACTIVITY_STATE, 0);    /* active: it runs at entry */
    struct vcpu *v = &vcpus[this_cpu_index()];
    memset(&v->regs, 0, sizeof(v->regs));
    v->regs.rdx = dl;
}

void vmx_launch_guest(uint8_t boot_drive)
{
    if (boot_info.module_count > 0) {
        const struct mb_module *m = &boot_info.modules[0];
        if (m->end - m->start < 512) {
            printf("guest: boot sector module is %lu bytes, need 512; not starting a guest\n",
                   m->end - m->start);
            cpu_park();
        }
        memcpy(phys_ptr(BOOT_SECTOR_ADDR), phys_ptr(m->start), 512);
        printf("guest: boot sector from module '%s', drive %#x\n", m->cmdline, boot_drive);
    } else {
        place_builtin_guest();
        printf("guest: no boot sector module; starting the built-in idle guest\n");
    }
    install_int15_hook();
    vmx_guest_real_mode(0, BOOT_SECTOR_ADDR, boot_drive);
    vmx_apply_corruption();     /* vmx_corrupt=FIELD (tests of the entry-failure dump) */
    trace_event(TEV_GUEST_START, BOOT_SECTOR_ADDR);
    printf("guest: launching at 0000:7c00\n");
    struct vcpu *v = &vcpus[this_cpu_index()];
    __atomic_store_n(&v->run_state, GUEST_RUNNING, __ATOMIC_RELEASE);
    v->launched = true;
    vmx_prepare_entry(v);       /* the same hooks as at the end of an exit */
    vmx_enter_guest(v, 1);
}
