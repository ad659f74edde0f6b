/* A registered PAL as TrustVisor's files share it (pal.c registers,
 * pal_view.c builds its own view, pal_call.c calls it). Not for other
 * layers. */
#ifndef TRUSTVISOR_PAL_H
#define TRUSTVISOR_PAL_H
#include <stdbool.h>
#include <stdint.h>
#include <tvabi.h>
#include "vmx/vcpu.h"

#define MAX_PALS        8
#define MAX_PAL_PAGES   32
#define PAL_MAX_TABLES  48      /* per hierarchy: a PAL needing more is refused */

struct pal_page {
    uint64_t gva, gpa;
    uint64_t *pte;              /* its 4 KiB EPT leaf in the shared EPT */
    uint64_t saved;             /* that leaf before REG */
    uint32_t type;
};

/* A 4-level radix tree of 4 KiB tables (the PAL's EPT and its page
 * tables have the same shape), every table from the hypervisor's pages. */
struct pal_tables {
    uint64_t *root;
    uint64_t *page[PAL_MAX_TABLES];
    unsigned n;
};

struct pal {
    bool claimed;               /* a REG is filling it in, or it is registered */
    bool used;                  /* registered: its pages are withheld */
    uint64_t entry, cr3;        /* entry point and the registering process (pal_process) */
    uint32_t npages;            /* its sections' pages, then SHARE's (type SHARED) */
    uint32_t nsections;         /* REG's sections and SHARE's ranges (<= TV_MAX_SECTIONS) */
    bool user;                  /* registered at CPL 3: user pages in its page tables */
    struct pal_page page[MAX_PAL_PAGES];
    struct tv_pal_params params;
    uint8_t pcr[TV_PCR_NUM][TV_PCR_SIZE];   /* the PAL's own uTPM */
    /* Its own view (pal_view.c), built at REG */
    struct pal_tables ept, gpt;
    uint64_t view_eptp, view_cr3;
    uint64_t param_gva, param_len;          /* its first PARAM section */
    uint64_t stack_top;                     /* the end of its first STACK section */
    volatile uint32_t running;              /* 1 + the index of the CPU it runs on */
};

extern struct pal tv_pals[MAX_PALS];

/* A process is its page tables' frame: CR3 bits 11:0 are the PCID with
 * CR4.PCIDE (SDM Vol. 3A, 4.10.1), and Linux gives a process a different
 * PCID on each CPU and over time, so they do not name the process. */
static inline uint64_t pal_process(uint64_t cr3)
{
    return cr3 & 0x000ffffffffff000ull;
}

/* pal_view.c: the PAL's EPT view and page tables (false: out of tables) */
bool pal_view_build(struct pal *p, bool user);
void pal_view_free(struct pal *p);
/* The hypervisor's pointer to [gva, gva+len) of the PAL's own pages, if
 * that range lies in one page of the PAL (of a section of type `type`, 0:
 * any), else NULL. */
void *pal_ptr(struct pal *p, uint64_t gva, uint64_t len, uint32_t type);
/* The same for a hypercall's buffer: any section to read, DATA, PARAM
 * or STACK to write. */
void *pal_ptr_rw(struct pal *p, uint64_t gva, uint64_t len, bool write);
/* REG's check: the parameters fit the PARAM section (TV_OK or an error) */
uint32_t pal_params_fit(const struct pal *p);

/* pal_call.c: calling a PAL and coming back */
bool pal_call_ept_violation(struct vcpu *v, struct pal *p, uint64_t gpa, uint64_t qual);
bool pal_call_exit(struct vcpu *v, uint32_t basic);
/* The PAL running on this CPU, or NULL */
struct pal *pal_running_here(struct vcpu *v);

#endif
