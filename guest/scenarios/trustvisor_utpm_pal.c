/* trustvisor_utpm_pal: a PAL's own micro-TPM. The PAL below makes one
 * TrustVisor VMCALL from inside itself, with the registers and buffers the
 * caller put in its one pointer parameter (a struct io, marshalled into
 * its PARAM section, where the caller knows it lands: the first parameter
 * is copied to the start of the first PARAM section, trustvisor/README.md;
 * so every pointer in it is a PAL address). Checked: its PCR 0 is its
 * measurement (printed for the host to recompute from guest.elf), its PCR
 * extends are its own (the guest's PCRs stay), SEAL/UNSEAL inside it, a
 * blob of the PAL refused to the guest and one of the guest refused to the
 * PAL (other PCRs), QUOTE and ID_GETPUB inside it (printed for the host),
 * pointers outside its sections or into its code refused. */
#include "tvabi.h"
#include "tvpal.h"
#include "tvutpm.h"

#define PG 4096

__asm__(
	".pushsection .rodata.tvutpm, \"a\"\n"
	".balign 4096\n"
	".globl tvu_template\n"
	"tvu_template:\n"               /* rdi: struct io (its PARAM copy) */
	"	push %rbx\n"
	"	mov %rdi, %rbx\n"
	"	mov 0(%rbx), %rax\n"
	"	mov 8(%rbx), %rcx\n"
	"	mov 16(%rbx), %rdx\n"
	"	mov 24(%rbx), %rsi\n"
	"	mov 32(%rbx), %rdi\n"
	"	vmcall\n"
	"	mov %rax, 40(%rbx)\n"
	"	pop %rbx\n"
	"	ret\n"
	".balign 4096\n"
	".popsection\n");
extern const u8 tvu_template[];

struct io {
	u64 cmd, rcx, rdx, rsi, rdi, rax;
	struct tv_buf in, out, sig, info;
	u32 len, pad;
	u8 nonce[TV_QUOTE_NONCE_SIZE];
	u8 pcr[TV_PCR_SIZE], meas[TV_PCR_SIZE];
	u8 data[32], plain[40];
	u8 pub[TV_PUBKEY_SIZE];
	u8 blob[32 + TV_SEAL_OVERHEAD];
	u8 sigb[TV_QUOTE_SIG_SIZE];
	u8 infob[TV_QUOTE_MAX_INFO];
};

static u8 pal_code[PG] __attribute__((aligned(PG)));
static u8 pal_stack[PG] __attribute__((aligned(PG)));
static u8 pal_param[PG] __attribute__((aligned(PG)));
static struct tv_pal_sections secs;
static struct tv_pal_params params;
static struct io io;
static u64 outside;
/* PAL address of a field of io (its copy at the start of PARAM). */
#define PA(field) ((u64)pal_param + (u64)((u8 *)&io.field - (u8 *)&io))

/* One VMCALL from inside the PAL; its EAX (or TV_ERR_PAL_FAULT...). */
static u32 pal_hc(u32 cmd, u64 rcx, u64 rdx, u64 rsi, u64 rdi)
{
	io.cmd = cmd, io.rcx = rcx, io.rdx = rdx, io.rsi = rsi, io.rdi = rdi;
	io.rax = 0xdeadbeef;
	u64 r = tvp_call((u64)pal_code, (u64)&io, 0, 0);
	return r == io.rax ? (u32)r : 0xdead0000u | (u32)r;
}

static u32 reg(void)
{
	memcpy(pal_code, tvu_template, PG);
	secs = (struct tv_pal_sections){ .num_sections = 3 };
	secs.sections[0] = (struct tv_pal_section){ TV_PAL_SECTION_CODE, 1, (u64)pal_code };
	secs.sections[1] = (struct tv_pal_section){ TV_PAL_SECTION_STACK, 1, (u64)pal_stack };
	secs.sections[2] = (struct tv_pal_section){ TV_PAL_SECTION_PARAM, 1, (u64)pal_param };
	params = (struct tv_pal_params){ .num_params = 1 };
	params.params[0] = (struct tv_pal_param){ TV_PAL_PM_POINTER, 0, sizeof(io) };
	return tvu_vmcall(TV_HC_REG, (u64)&secs, 0, (u64)&params, (u64)pal_code);
}


static void pcrs(void)
{
	static u8 guest5[20], after5[20];
	static const u8 zero[20];
	u32 rc = pal_hc(TV_HC_UTPM_PCRREAD, 0, PA(pcr), 0, 0);
	check("pal_pcr0_measured", rc == TV_OK && memcmp(io.pcr, zero, 20) != 0,
	      "PCRREAD(0) inside the PAL gave 0x%x, first byte 0x%x (want its measurement)",
	      rc, io.pcr[0]);
	tvu_print_hex("pal pcr0", io.pcr, 20);
	tvu_vmcall(TV_HC_UTPM_PCRREAD, 5, (u64)guest5, 0, 0);
	memcpy(io.meas, tvu_sha1_abc, 20);
	rc = pal_hc(TV_HC_UTPM_PCREXT, 5, PA(meas), 0, 0);
	u32 rc2 = pal_hc(TV_HC_UTPM_PCRREAD, 5, PA(pcr), 0, 0);
	check("pal_pcr_extend_own", rc == TV_OK && rc2 == TV_OK && !memcmp(io.pcr, tvu_extended_abc, 20),
	      "inside the PAL PCREXT(5, SHA1(abc)) gave 0x%x, PCRREAD 0x%x starting %02x%02x; want "
	      "ccd5bd41 (a fresh PCR of its own)", rc, rc2, io.pcr[0], io.pcr[1]);
	tvu_vmcall(TV_HC_UTPM_PCRREAD, 5, (u64)after5, 0, 0);
	check("guest_pcr_untouched", !memcmp(guest5, after5, 20),
	      "the guest's PCR 5 changed when the PAL extended its own");
	rc = pal_hc(TV_HC_UTPM_PCRREAD, 1, (u64)&outside, 0, 0);
	check("pal_pointer_outside_refused", rc == TV_ERR_BAD_PARAM,
	      "PCRREAD into guest memory outside the PAL's sections gave 0x%x", rc);
	rc = pal_hc(TV_HC_UTPM_PCRREAD, 1, (u64)pal_code + 0x800, 0, 0);
	check("pal_pointer_code_refused", rc == TV_ERR_BAD_PARAM,
	      "PCRREAD into the PAL's own CODE gave 0x%x", rc);
}

static void seal(void)
{
	static u8 gblob[32 + TV_SEAL_OVERHEAD], gdata[32];
	static struct tv_buf in, out;
	for (u32 i = 0; i < 32; i++)
		io.data[i] = (u8)(0x50 + i), gdata[i] = (u8)i;
	io.in = (struct tv_buf){ PA(data), 32, 0 };
	io.out = (struct tv_buf){ PA(blob), sizeof(io.blob), 0 };
	u32 rc = pal_hc(TV_HC_UTPM_SEAL, PA(in), 0x21, PA(out), 0);    /* PCRs 0, 5 */
	u32 blen = io.out.len;
	check("pal_seal", rc == TV_OK && blen == sizeof(io.blob), "SEAL inside the PAL gave 0x%x, "
	      "%u bytes", rc, blen);
	io.in = (struct tv_buf){ PA(blob), blen, 0 };
	io.out = (struct tv_buf){ PA(plain), sizeof(io.plain), 0 };
	memset(io.plain, 0, sizeof(io.plain));
	rc = pal_hc(TV_HC_UTPM_UNSEAL, PA(in), PA(out), 0, 0);
	check("pal_unseal", rc == TV_OK && io.out.len == 32 && !memcmp(io.plain, io.data, 32),
	      "UNSEAL inside the PAL gave 0x%x, %u bytes", rc, io.out.len);
	/* The PAL's blob from outside: the guest's PCRs 0 and 5 are not its. */
	in = (struct tv_buf){ (u64)io.blob, blen, 0 };
	out = (struct tv_buf){ (u64)io.plain, sizeof(io.plain), 0 };
	rc = tvu_vmcall(TV_HC_UTPM_UNSEAL, (u64)&in, (u64)&out, 0, 0);
	check("guest_unseal_pal_blob_refused", rc == TV_ERR_SEAL_PCR,
	      "the guest's UNSEAL of the PAL's blob gave 0x%x, want 0x%x", rc, TV_ERR_SEAL_PCR);
	/* The guest's blob bound to its PCR 0, inside the PAL. */
	in = (struct tv_buf){ (u64)gdata, 32, 0 };
	out = (struct tv_buf){ (u64)gblob, sizeof(gblob), 0 };
	rc = tvu_vmcall(TV_HC_UTPM_SEAL, (u64)&in, 0x1, (u64)&out, 0);
	memcpy(io.blob, gblob, sizeof(gblob));
	io.in = (struct tv_buf){ PA(blob), out.len, 0 };
	io.out = (struct tv_buf){ PA(plain), sizeof(io.plain), 0 };
	u32 rc2 = pal_hc(TV_HC_UTPM_UNSEAL, PA(in), PA(out), 0, 0);
	check("pal_unseal_guest_blob_refused", rc == TV_OK && rc2 == TV_ERR_SEAL_PCR,
	      "the guest's SEAL gave 0x%x, the PAL's UNSEAL of it 0x%x (want 0x%x)", rc, rc2,
	      TV_ERR_SEAL_PCR);
}

static void quote(void)
{
	static u8 gpub[TV_PUBKEY_SIZE], pcr0[20];
	static u32 glen = sizeof(gpub);
	u32 rc = pal_hc(TV_HC_UTPM_PCRREAD, 0, PA(pcr), 0, 0);
	memcpy(pcr0, io.pcr, 20);
	io.len = sizeof(io.pub);
	rc |= pal_hc(TV_HC_UTPM_ID_GETPUB, PA(pub), PA(len), 0, 0);
	u32 grc = tvu_vmcall(TV_HC_UTPM_ID_GETPUB, (u64)gpub, (u64)&glen, 0, 0);
	check("pal_getpub", rc == TV_OK && grc == TV_OK && io.len == TV_PUBKEY_SIZE &&
	      !memcmp(io.pub, gpub, TV_PUBKEY_SIZE), "ID_GETPUB inside the PAL gave 0x%x (len %u), "
	      "the guest's 0x%x: want the same key (one per boot)", rc, io.len, grc);
	for (u32 i = 0; i < sizeof(io.nonce); i++)
		io.nonce[i] = (u8)(0xc0 ^ (7 * i));
	io.sig = (struct tv_buf){ PA(sigb), sizeof(io.sigb), 0 };
	io.info = (struct tv_buf){ PA(infob), sizeof(io.infob), 0 };
	rc = pal_hc(TV_HC_UTPM_QUOTE, 0x21, PA(sig), PA(nonce), PA(info));
	bool ok = rc == TV_OK && io.sig.len == TV_QUOTE_SIG_SIZE &&
		  io.info.len == TV_QUOTE_HEADER + 40 && !memcmp(io.infob + 4, io.nonce, 20) &&
		  !memcmp(io.infob + 28, pcr0, 20) && !memcmp(io.infob + 48, tvu_extended_abc, 20);
	check("pal_quote", ok, "QUOTE(PCRs 0,5) inside the PAL gave 0x%x, sig %u, info %u bytes "
	      "(%s)", rc, io.sig.len, io.info.len, ok ? "right" : "not its nonce and PCRs");
	tvu_print_hex("pal pub", io.pub, TV_PUBKEY_SIZE);
	tvu_print_hex("pal info", io.infob, io.info.len);
	tvu_print_hex("pal sig", io.sigb, io.sig.len);
}

/* What is registered is the guest's to change, not a PAL's: REG, UNREG
 * and SHARE from inside it are refused, and it stays registered. */
static void lifecycle(void)
{
	static u64 addr, len = PG;
	u32 r1 = pal_hc(TV_HC_REG, PA(pcr), 0, 0, (u64)pal_code);
	u32 r2 = pal_hc(TV_HC_UNREG, (u64)pal_code, 0, 0, 0);
	addr = (u64)&outside & ~(u64)(PG - 1);
	u32 r3 = pal_hc(TV_HC_SHARE, (u64)pal_code, (u64)&addr, (u64)&len, 1);
	u32 r4 = pal_hc(TV_HC_UTPM_PCRREAD, 0, PA(pcr), 0, 0);
	check("pal_lifecycle_refused", r1 == TV_ERR_PAL_MODE && r2 == TV_ERR_PAL_MODE &&
	      r3 == TV_ERR_PAL_MODE && r4 == TV_OK, "inside the PAL: REG 0x%x, UNREG 0x%x, SHARE "
	      "0x%x (want 0x%x each), then a call 0x%x (want 0: still registered)", r1, r2, r3,
	      TV_ERR_PAL_MODE, r4);
}

static void run(void)
{
	if (check_need_hv("reg"))
		return;
	u32 rc = reg();
	check("reg", rc == TV_OK, "REG of the micro-TPM PAL gave 0x%x", rc);
	if (rc != TV_OK)
		return;
	lifecycle();
	pcrs();
	seal();
	quote();
	rc = tvu_vmcall(TV_HC_UNREG, (u64)pal_code, 0, 0, 0);
	check("unreg", rc == TV_OK, "UNREG gave 0x%x", rc);
	/* Registered again: a fresh micro-TPM (PCR 5 zero again). */
	rc = reg();
	u32 rc2 = pal_hc(TV_HC_UTPM_PCRREAD, 5, PA(pcr), 0, 0);
	static const u8 zero[20];
	check("reg_again_fresh_utpm", rc == TV_OK && rc2 == TV_OK && !memcmp(io.pcr, zero, 20),
	      "REG again gave 0x%x, PCRREAD(5) inside 0x%x, first byte 0x%x (want 0)", rc, rc2,
	      io.pcr[0]);
	tvu_vmcall(TV_HC_UNREG, (u64)pal_code, 0, 0, 0);
}

SCENARIO(69, trustvisor_utpm_pal, run, "TrustVisor: a PAL's own micro-TPM: its measurement, "
	 "PCRs, SEAL/UNSEAL, QUOTE from inside it");
