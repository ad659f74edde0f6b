/* The VMX core's own exit handlers (registered by vmx_exits_init in
 * exit.c). Internal to hv/vmx/. */
#ifndef HV_VMX_HANDLERS_H
#define HV_VMX_HANDLERS_H
#include "vmx/vcpu.h"

void vmx_exits_init(void);
void handle_exception_exit(struct vcpu *v);     /* exception_exit.c */
void handle_cpuid(struct vcpu *v);              /* cpuid.c */
void handle_vmcall(struct vcpu *v);             /* hypercall.c */
void handle_cr_access(struct vcpu *v);          /* cr_access.c */
void handle_rdmsr(struct vcpu *v);              /* msr.c */
void handle_wrmsr(struct vcpu *v);
void handle_xsetbv(struct vcpu *v);             /* xsetbv.c */
void handle_io(struct vcpu *v);                 /* io.c */
void handle_ept_violation(struct vcpu *v);      /* ept_violation.c */
void handle_invd(struct vcpu *v);               /* simple_exits.c */
void handle_nothing(struct vcpu *v);
void handle_vmx_insn(struct vcpu *v);
void handle_task_switch(struct vcpu *v);
void handle_triple_fault(struct vcpu *v) __attribute__((noreturn));
void handle_ept_misconfig(struct vcpu *v) __attribute__((noreturn));

/* msr.c / io.c: the bitmaps they fill, allocated by vmx_global_init. */
void vmx_msr_bitmap_set(uint8_t *bitmap);
void vmx_io_bitmaps_set(uint8_t *bitmaps);
/* exit_stats.c: the EXIT_STATS host command. */
void vmx_exit_stats_init(void);
/* tsc_msr.c: IA32_TSC, TSC_ADJUST and TSC_DEADLINE through the offset. */
void vmx_tsc_msrs_init(void);
/* cpuid_tsc.c: CPUID's TSC rate leaves, hidden where they are wrong. */
void vmx_cpuid_tsc_init(void);

#endif
