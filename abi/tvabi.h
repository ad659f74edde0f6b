/* tvabi.h -- TrustVisor's hypercall ABI, number for number (the XMHF/
 * uberXMHF TrustVisor's trustvisor.h and tv_utpm.h; 64-bit layout of its
 * XMHF64 port). One header for the hypervisor (trustvisor/) and the
 * guests that call it (the test guest, pal_demo). Documented in
 * trustvisor/README.md.
 *
 * VMCALL with EAX = command; arguments in ECX, EDX, ESI, EDI (a 64-bit
 * caller: RCX, RDX, RSI, RDI, full width); result in EAX (0: success).
 * Every other register is left as it was. */
#ifndef TVABI_H
#define TVABI_H

/* ---- detection: CPUID ---------------------------------------------------- */
/* CPUID with EAX = TV_CPUID_LEAF (ECX = 0) returns EAX = TV_CPUID_MAGIC
 * inside TrustVisor (pal_demo's check_cpuid()); EBX, ECX, EDX = 0. */
#define TV_CPUID_LEAF               0x7a567254u
#define TV_CPUID_MAGIC              0x7a767274u

/* ---- commands (EAX) -------------------------------------------------------- */
#define TV_HC_REG                   1   /* ECX sections*, ESI params*, EDI entry */
#define TV_HC_UNREG                 2   /* ECX entry */
#define TV_HC_SHARE                 6   /* ECX entry, EDX addrs*, ESI lens*, EDI count:
                                           u64 arrays (also from 32-bit callers) */
#define TV_HC_UTPM_PCRREAD          7   /* ECX index, EDX out (20 bytes) */
#define TV_HC_UTPM_PCREXT           8   /* ECX index, EDX measurement (20 bytes) */
#define TV_HC_UTPM_GENRAND          9   /* ECX out, EDX len* (u32 in: asked, out: given) */
#define TV_HC_UTPM_SEAL             10  /* ECX in (struct tv_buf *), EDX PCR mask, ESI out (struct tv_buf *) */
#define TV_HC_UTPM_UNSEAL           11  /* ECX in (struct tv_buf *), EDX out (struct tv_buf *) */
#define TV_HC_UTPM_QUOTE            12  /* ECX PCR mask, EDX sig (struct tv_buf *), ESI nonce (20 bytes),
                                           EDI quote info (struct tv_buf *) */
#define TV_HC_UTPM_ID_GETPUB        13  /* ECX out (65 bytes), EDX len* (u32 in: room, out: 65) */
#define TV_HC_TEST                  255 /* returns 0; quiesces every other CPU once */

/* ---- results (EAX) ---------------------------------------------------------- */
#define TV_OK                       0
/* The micro-TPM's own codes (tv_utpm.h) */
#define TV_ERR_BAD_PARAM            1   /* a bad argument (pointer, length...) */
#define TV_ERR_PCR_OUT_OF_RANGE     2
#define TV_ERR_INSUFFICIENT_ENTROPY 3   /* no RDRAND/RDSEED, or it kept failing */
#define TV_ERR                      4   /* anything else */
/* Registration (ours: TrustVisor says only "nonzero") */
#define TV_ERR_SECTION_ALIGN        0x10    /* a section start not page-aligned */
#define TV_ERR_SECTION_SIZE         0x11    /* zero pages, or too many */
#define TV_ERR_SECTION_OVERLAP      0x12    /* two sections share a page */
#define TV_ERR_SECTION_UNMAPPED     0x13    /* a page not present or not guest RAM */
#define TV_ERR_SECTION_READONLY     0x14    /* a page the caller may not write */
#define TV_ERR_SECTION_TYPE         0x15    /* unknown type, or no CODE/STACK */
#define TV_ERR_TOO_MANY             0x16    /* > TV_MAX_SECTIONS or > TV_MAX_PARAMS */
#define TV_ERR_ALREADY              0x17    /* a page already belongs to a PAL */
#define TV_ERR_ENTRY                0x18    /* entry not in a CODE section / no such PAL */
#define TV_ERR_NO_ROOM              0x19    /* PAL table or hypervisor pages full */
/* Calling a PAL (the caller's call returns with EAX = one of these) */
#define TV_ERR_PAL_FAULT            0x1a    /* the PAL faulted, touched memory outside its
                                               sections or ran too long: abandoned */
#define TV_ERR_PAL_BUSY             0x1b    /* the PAL runs on another CPU (call, UNREG) */
#define TV_ERR_PAL_MODE             0x1c    /* not callable from this mode (not 64- or 32-bit code
                                               with 4-level paging), or no STACK section;
                                               REG/UNREG/SHARE from inside a PAL */
#define TV_ERR_NOT_IMPLEMENTED      0x1f    /* no command returns it now (SHARE did) */
/* The micro-TPM's keys (ours) */
#define TV_ERR_SEAL_AUTH            0x20    /* UNSEAL: not a blob of this boot's key, altered or cut */
#define TV_ERR_SEAL_PCR             0x21    /* UNSEAL: authentic, but the PCRs it is bound to
                                               have other values in the caller's micro-TPM now */
#define TV_ERR_UNKNOWN              0xFFFFFFFFu /* not a TrustVisor command */

/* ---- registration descriptors (packed, little-endian) -------------------- */
#define TV_PAL_SECTION_CODE         1   /* read + execute */
#define TV_PAL_SECTION_DATA         2   /* read + write */
#define TV_PAL_SECTION_PARAM        3   /* read + write (parameters marshalled here) */
#define TV_PAL_SECTION_STACK        4   /* read + write */
#define TV_PAL_SECTION_SHARED_CODE  5   /* read + execute */
/* Not for REG: what SHARE adds. Read + write for the PAL, gone from the
 * guest while the PAL is registered, given back unscrubbed at UNREG. */
#define TV_PAL_SECTION_SHARED       6

#define TV_MAX_SECTIONS             10
#define TV_MAX_PARAMS               10
#define TV_PAL_PM_INTEGER           1
#define TV_PAL_PM_POINTER           2

#define TV_PCR_NUM                  8
#define TV_PCR_SIZE                 20  /* SHA-1 */
#define TV_MAX_RAND                 4096

/* SEAL / UNSEAL / QUOTE / ID_GETPUB (formats: trustvisor/README.md). A PCR
 * mask has bit i set for PCR i (bits 8-31: TV_ERR_PCR_OUT_OF_RANGE). SEAL
 * binds the blob to the *current* values of the masked PCRs of the
 * caller's micro-TPM (a PAL's own inside a PAL), not to values the caller
 * names (TrustVisor's TPM_PCR_INFO); UNSEAL opens it only while they are
 * the same. Keys are made once per boot and die with it. */
#define TV_SEAL_MAX_DATA            2048    /* bytes sealed at most */
#define TV_SEAL_HEADER              52      /* "TVS1", mask, PCR digest, nonce */
#define TV_SEAL_TAG                 16      /* Poly1305 */
#define TV_SEAL_OVERHEAD            (TV_SEAL_HEADER + TV_SEAL_TAG)
#define TV_SEAL_MAGIC               "TVS1"
#define TV_QUOTE_MAGIC              "TVQ1"
#define TV_QUOTE_NONCE_SIZE         20      /* TPM_NONCE */
#define TV_QUOTE_HEADER             28      /* "TVQ1", nonce, mask; then 20 bytes a PCR */
#define TV_QUOTE_MAX_INFO           (TV_QUOTE_HEADER + TV_PCR_NUM * TV_PCR_SIZE)
#define TV_QUOTE_SIG_SIZE           64      /* ECDSA P-256: r || s, big-endian */
#define TV_PUBKEY_SIZE              65      /* SEC1 uncompressed: 0x04 || X || Y */

#ifndef __ASSEMBLY__
#include <stdint.h>
struct tv_pal_section {         /* 16 bytes */
    uint32_t type;
    uint32_t page_num;          /* size in 4 KiB pages */
    uint64_t start_addr;        /* the caller's linear address, page-aligned */
} __attribute__((packed));

struct tv_pal_sections {        /* 8 + 10 * 16 bytes */
    uint32_t num_sections;
    uint32_t pad;
    struct tv_pal_section sections[TV_MAX_SECTIONS];
} __attribute__((packed));

struct tv_pal_param {           /* 16 bytes */
    uint32_t type;              /* TV_PAL_PM_INTEGER or TV_PAL_PM_POINTER */
    uint32_t pad;
    uint64_t size;              /* pointer: bytes pointed to */
} __attribute__((packed));

struct tv_pal_params {          /* 8 + 10 * 16 bytes */
    uint32_t num_params;
    uint32_t pad;
    struct tv_pal_param params[TV_MAX_PARAMS];
} __attribute__((packed));

/* A buffer of SEAL/UNSEAL/QUOTE (TrustVisor passes {pointer, length}
 * pairs there too). Input: len bytes at addr. Output: len is the room at
 * addr on the call and the bytes written on return (on TV_ERR_BAD_PARAM
 * for too little room: the bytes needed). */
struct tv_buf {                 /* 16 bytes */
    uint64_t addr;
    uint32_t len;
    uint32_t pad;
} __attribute__((packed));
#endif

#endif /* TVABI_H */
