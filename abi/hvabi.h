/* hvabi.h -- the interface between the hypervisor and its guests, ABI v1.
 *
 * One source of truth: the hypervisor implements exactly this and the test
 * guest (guest/) checks exactly this. Plain #defines only, so the file can
 * be included from C and from assembly (hypervisor or guest) alike.
 *
 * Register conventions: "EAX" means the low 32 bits of RAX. Results written
 * to a 32-bit register are zero-extended into the 64-bit one. Every VMCALL
 * leaves all GPRs other than its documented outputs (RAX, RBX, RCX) and
 * RFLAGS unchanged, and resumes the guest after the 3-byte VMCALL.
 */
#ifndef HVABI_H
#define HVABI_H

#define HVABI_VERSION               2   /* 2: the core's VMCALLs moved to 0x48560000 */

/* ---- CPUID -------------------------------------------------------------- */
#define HVABI_CPUID1_ECX_VMX        (1u << 5)   /* reads 0: VMX is hidden */
#define HVABI_CPUID1_ECX_HYPERVISOR (1u << 31)  /* reads 1 */

/* Leaf 0x40000000: EAX = highest hypervisor leaf, EBX:ECX:EDX = signature. */
#define HVABI_CPUID_VENDOR_LEAF     0x40000000u
/* Leaf 0x40000001: EAX = HVABI_VERSION; EBX, ECX, EDX = 0. */
#define HVABI_CPUID_VERSION_LEAF    0x40000001u
#define HVABI_CPUID_MAX_LEAF        HVABI_CPUID_VERSION_LEAF
#define HVABI_SIGNATURE             "DebugFirstHV"   /* 12 chars, no NUL */
#define HVABI_SIG_EBX               0x75626544u      /* "Debu" */
#define HVABI_SIG_ECX               0x72694667u      /* "gFir" */
#define HVABI_SIG_EDX               0x56487473u      /* "stHV" */

/* ---- control registers and MSRs as the guest sees them ------------------ */
#define HVABI_CR4_VMXE              (1ul << 13)  /* reads 0; setting it: #GP(0) */
#define HVABI_MSR_FEATURE_CONTROL   0x3a         /* reads: lock (bit 0) = 1,
                                                    bits 1 and 2 (VMX enable) = 0;
                                                    writes: #GP(0) (locked) */
#define HVABI_FC_LOCK               (1ul << 0)
#define HVABI_FC_VMX_IN_SMX         (1ul << 1)
#define HVABI_FC_VMX_OUTSIDE_SMX    (1ul << 2)
#define HVABI_MSR_VMX_FIRST         0x480        /* IA32_VMX_BASIC: reads #GP(0) */
#define HVABI_MSR_VMX_LAST          0x491        /* every VMX capability MSR
                                                    0x480..0x491 reads #GP(0) */

/* ---- VMCALL: function in EAX, status in EAX ----------------------------- */
#define HVABI_OK                    0x00000000u
#define HVABI_ERR_UNKNOWN           0xFFFFFFFFu  /* unknown function */
#define HVABI_ERR_BADARG            0xFFFFFFFEu  /* bad argument (address...) */

/* The core's own functions live in a range the hypapp registry reserves
 * for it, out of the way of hypapps' external ABIs (TrustVisor's numbers
 * are 1-255; see trustvisor/README.md). "HV" in the high half. */
#define HVABI_VMCALL_CORE_FIRST     0x48560000u
#define HVABI_VMCALL_CORE_LAST      0x485600FFu

/* PING: in ECX = x. out EAX = 0, EBX = HVABI_PING_MAGIC, ECX = x + 1
 * (32-bit wrap-around). */
#define HVABI_VMCALL_PING           (HVABI_VMCALL_CORE_FIRST + 0x0)
#define HVABI_PING_MAGIC            0x600DF00Du

/* FOOTPRINT: out EAX = 0, RBX = first byte, RCX = end (exclusive) of the
 * hypervisor's physical memory, both 4 KiB aligned. The guest's memory map
 * (INT 15h E820) has no usable range overlapping it, and any guest access
 * to it is refused with #GP(0) injected at the accessing instruction (RIP
 * not advanced), memory unchanged. */
#define HVABI_VMCALL_FOOTPRINT      (HVABI_VMCALL_CORE_FIRST + 0x1)

/* PRINT: in RBX = guest-physical address of a NUL-terminated string; the
 * NUL must lie within the first HVABI_PRINT_MAX bytes (the string may cross
 * pages). The text goes to the hypervisor console. out EAX = 0, or
 * HVABI_ERR_BADARG if any byte up to the NUL is not guest RAM (unmapped,
 * beyond RAM, inside the footprint, a registered TrustVisor PAL's page) or
 * no NUL is found in HVABI_PRINT_MAX bytes. Bad input never crashes the
 * hypervisor. */
#define HVABI_VMCALL_PRINT          (HVABI_VMCALL_CORE_FIRST + 0x2)
#define HVABI_PRINT_MAX             256

/* ---- the diag hypapp: VMCALL functions 0x100-0x10f ---------------------- */
/* Hypapps own VMCALL ranges outside the core's; "diag" is built in and
 * exists for tests and benchmarks. */
#define HVABI_VMCALL_DIAG_FIRST     0x100
#define HVABI_VMCALL_DIAG_LAST      0x10f
#define HVABI_ERR_QUIESCE           0xFFFFFFFDu  /* quiesced section not exclusive */

/* DIAG_EXITS: out EAX = 0, RBX = VM exits this vCPU has taken so far. */
#define HVABI_VMCALL_DIAG_EXITS     0x100

/* DIAG_QUIESCE: in ECX = x. The hypervisor stops every other CPU that runs
 * a guest or idles in the hypervisor (quiesce), checks inside the section
 * that no other CPU is inside one and every other CPU is stopped, then
 * releases them (endquiesce). out EAX = 0, RBX = number of other CPUs that
 * were stopped, ECX = x + 1; or EAX = HVABI_ERR_QUIESCE if the section was
 * not exclusive (the hypervisor also prints why). */
#define HVABI_VMCALL_DIAG_QUIESCE   0x101

/* DIAG_NMI_STATS: out EAX = 0, RBX = NMIs the hypervisor injected into this
 * vCPU so far, RCX = NMIs for this vCPU that arrived while one was already
 * pending and were merged into it (the architectural one-pending limit),
 * RDX = quiesce requests this CPU answered. */
#define HVABI_VMCALL_DIAG_NMI_STATS 0x102

#endif /* HVABI_H */
