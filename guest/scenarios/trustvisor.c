/* TrustVisor's hypercalls as a PAL author's program sees them (abi/tvabi.h):
 * the CPUID leaf, TEST, GENRAND, the micro-TPM's PCRs, REG taking the PAL's
 * pages away (a read or write of them faults, a hypercall cannot reach
 * them), every bad registration refused with its error, UNREG giving the
 * pages back scrubbed. Everything judged by what this guest measures. */
#include "../guest.h"
#include "tvabi.h"
#include "tvutpm.h"

#define PG 4096

static u8 pal_code[PG] __attribute__((aligned(PG)));
static u8 pal_data[2 * PG] __attribute__((aligned(PG)));
static u8 pal_stack[PG] __attribute__((aligned(PG)));
static u8 pal_param[PG] __attribute__((aligned(PG)));
static u8 scratch[2 * PG] __attribute__((aligned(PG)));
static struct tv_pal_sections secs;
static struct tv_pal_params params;

/* VMCALL with TrustVisor's registers; -1 or the exception vector. */
static int tv(u32 cmd, u64 rcx, u64 rdx, u64 rsi, u64 rdi, u32 *eax)
{
	struct vmcall_regs r = { .rax = cmd, .rcx = rcx, .rdx = rdx, .rsi = rsi, .rdi = rdi,
				 .rbx = 0xb1b1b1b1b1b1b1b1ull, .r8 = 0x0808080808080808ull };
	int v = vmcall_regs(&r);
	*eax = (u32)r.rax;
	if (v < 0 && (r.rcx != rcx || r.rdx != rdx || r.rsi != rsi || r.rdi != rdi ||
		      r.rbx != 0xb1b1b1b1b1b1b1b1ull || r.r8 != 0x0808080808080808ull))
		*eax = 0xdeadbeef;      /* a register that is no output changed */
	return v;
}

static void expect(const char *chk, u32 cmd, u64 rcx, u64 rdx, u64 rsi, u64 rdi, u32 want)
{
	u32 eax;
	int v = tv(cmd, rcx, rdx, rsi, rdi, &eax);
	if (v >= 0)
		check_fail(chk, "VMCALL %u raised %s", cmd, vector_name(v));
	else
		check(chk, eax == want, "command %u gave eax=0x%x, want 0x%x%s", cmd, eax, want,
		      eax == 0xdeadbeef ? " (a register other than EAX changed)" : "");
}

static void cpuid_and_test(void)
{
	u32 a, b, c, d;
	cpuid(TV_CPUID_LEAF, 0, &a, &b, &c, &d);
	check("cpuid_leaf", a == TV_CPUID_MAGIC, "CPUID 0x%x gave eax=0x%x, want 0x%x",
	      TV_CPUID_LEAF, a, TV_CPUID_MAGIC);
	expect("test", TV_HC_TEST, 1, 2, 3, 4, TV_OK);
	expect("unknown_command", 14, 0, 0, 0, 0, TV_ERR_UNKNOWN);
}

static void genrand(void)
{
	u32 a, b, c, d, eax;
	cpuid(1, 0, &a, &b, &c, &d);
	bool rdrand = c & (1u << 30);
	cpuid(7, 0, &a, &b, &c, &d);
	bool rdseed = b & (1u << 18);
	info("trustvisor: the CPU has rdrand=%d rdseed=%d", rdrand, rdseed);
	static u32 len;
	memset(scratch, 0, 64);
	len = 64;
	int v = tv(TV_HC_UTPM_GENRAND, (u64)scratch, (u64)&len, 0, 0, &eax);
	if (!rdrand && !rdseed) {
		check("genrand", v < 0 && eax == TV_ERR_INSUFFICIENT_ENTROPY,
		      "no RDRAND/RDSEED: eax=0x%x, want 3 (insufficient entropy)", eax);
	} else {
		unsigned zero = 0;
		for (int i = 0; i < 64; i++)
			zero += !scratch[i];
		check("genrand", v < 0 && eax == TV_OK && len == 64 && zero < 16,
		      "GENRAND(64) gave eax=0x%x len=%u, %u zero bytes of 64", eax, len, zero);
	}
	len = TV_MAX_RAND + 1;
	expect("genrand_too_long", TV_HC_UTPM_GENRAND, (u64)scratch, (u64)&len, 0, 0,
	       TV_ERR_BAD_PARAM);
	len = 16;
	expect("genrand_bad_pointer", TV_HC_UTPM_GENRAND, 0xFFFFFFFFF000ull, (u64)&len, 0, 0,
	       TV_ERR_BAD_PARAM);
}


static void pcrs(void)
{
	static u8 val[20], meas[20];
	static const u8 zero[20];
	u32 eax;
	memset(val, 0xee, sizeof(val));
	int v = tv(TV_HC_UTPM_PCRREAD, 3, (u64)val, 0, 0, &eax);
	check("pcr_fresh", v < 0 && eax == TV_OK && !memcmp(val, zero, 20),
	      "PCRREAD(3) gave eax=0x%x, first byte 0x%x; want 0 and 20 zero bytes", eax, val[0]);
	memcpy(meas, tvu_sha1_abc, 20);
	expect("pcr_extend", TV_HC_UTPM_PCREXT, 3, (u64)meas, 0, 0, TV_OK);
	v = tv(TV_HC_UTPM_PCRREAD, 3, (u64)val, 0, 0, &eax);
	check("pcr_value", v < 0 && eax == TV_OK && !memcmp(val, tvu_extended_abc, 20),
	      "after extend(SHA1(abc)) PCR 3 starts %02x%02x%02x%02x, want ccd5bd41 (SHA1(0^20||m))",
	      val[0], val[1], val[2], val[3]);
	expect("pcr_out_of_range", TV_HC_UTPM_PCRREAD, TV_PCR_NUM, (u64)val, 0, 0,
	       TV_ERR_PCR_OUT_OF_RANGE);
	expect("pcr_bad_pointer", TV_HC_UTPM_PCREXT, 0, 0xFFFFFFFFF000ull, 0, 0, TV_ERR_BAD_PARAM);
}

static void section(int i, u32 type, const void *p, u32 pages)
{
	secs.sections[i] = (struct tv_pal_section){ type, pages, (u64)p };
}

/* The good descriptor: CODE, DATA (2 pages), STACK, PARAM; one integer. */
static void good_pal(void)
{
	memset(&secs, 0, sizeof(secs));
	secs.num_sections = 4;
	section(0, TV_PAL_SECTION_CODE, pal_code, 1);
	section(1, TV_PAL_SECTION_DATA, pal_data, 2);
	section(2, TV_PAL_SECTION_STACK, pal_stack, 1);
	section(3, TV_PAL_SECTION_PARAM, pal_param, 1);
	memset(&params, 0, sizeof(params));
	params.num_params = 1;
	params.params[0] = (struct tv_pal_param){ TV_PAL_PM_INTEGER, 0, 4 };
}

static void reg_expect(const char *chk, u64 entry, u32 want)
{
	expect(chk, TV_HC_REG, (u64)&secs, 0, (u64)&params, entry, want);
}

static void bad_registrations(void)
{
	u64 entry = (u64)pal_code + 0x10;
	good_pal();
	secs.sections[1].start_addr += 8;
	reg_expect("reg_unaligned", entry, TV_ERR_SECTION_ALIGN);
	good_pal();
	secs.sections[2].page_num = 0;
	reg_expect("reg_zero_size", entry, TV_ERR_SECTION_SIZE);
	good_pal();
	section(2, TV_PAL_SECTION_STACK, pal_data + PG, 1);   /* inside DATA's 2nd page */
	reg_expect("reg_overlap", entry, TV_ERR_SECTION_OVERLAP);
	good_pal();
	secs.num_sections = TV_MAX_SECTIONS + 1;
	reg_expect("reg_too_many_sections", entry, TV_ERR_TOO_MANY);
	good_pal();
	params.num_params = TV_MAX_PARAMS + 1;
	reg_expect("reg_too_many_params", entry, TV_ERR_TOO_MANY);
	good_pal();
	secs.sections[0].type = 9;
	reg_expect("reg_bad_type", entry, TV_ERR_SECTION_TYPE);
	good_pal();
	reg_expect("reg_entry_outside_code", (u64)pal_data, TV_ERR_ENTRY);
	good_pal();
	section(3, TV_PAL_SECTION_PARAM, (void *)(IDENTITY_MAP_END + 0x10000), 1);
	reg_expect("reg_unmapped", entry, TV_ERR_SECTION_UNMAPPED);
	expect("reg_bad_descriptor", TV_HC_REG, 0xFFFFFFFFF000ull, 0, (u64)&params, entry,
	       TV_ERR_BAD_PARAM);
	expect("unreg_unknown", TV_HC_UNREG, (u64)pal_code + 0x20, 0, 0, 0, TV_ERR_ENTRY);
}

static bool all_bytes(const u8 *p, size_t n, u8 b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}

/* While registered: every page faults for this guest, and the hypervisor
 * will not touch it on the guest's behalf either. */
static void isolated(void)
{
	static const struct { const char *chk; u8 *p; } pages[] = {
		{ "pal_code_read_gp", pal_code }, { "pal_data_read_gp", pal_data + PG },
		{ "pal_stack_read_gp", pal_stack }, { "pal_param_read_gp", pal_param },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(pages); i++) {
		u64 val;
		int v = safe_read64((u64)pages[i].p + 8, &val);
		if (v < 0)
			check_fail(pages[i].chk, "the read of a PAL page completed (0x%lx)", val);
		else
			check(pages[i].chk, v == 13 && fault_error() == 0,
			      "the read raised vector %d error 0x%lx, want #GP(0)", v, fault_error());
	}
	int w = safe_write64((u64)pal_data, 0x1111111111111111ull);
	check("pal_write_gp", w == 13, "a write to the PAL's DATA gave vector %d, want #GP", w);
	struct vmcall_regs r = { .rax = HVABI_VMCALL_PRINT, .rbx = (u64)pal_code };
	int v = vmcall_regs(&r);
	check("pal_print_refused", v < 0 && (u32)r.rax == HVABI_ERR_BADARG,
	      "PRINT of a PAL page gave eax=0x%x, want HVABI_ERR_BADARG", (u32)r.rax);
	static u32 len = 16;
	expect("pal_genrand_refused", TV_HC_UTPM_GENRAND, (u64)pal_data, (u64)&len, 0, 0,
	       TV_ERR_BAD_PARAM);
	reg_expect("reg_twice", (u64)pal_code + 0x10, TV_ERR_ALREADY);
}

static void reg_unreg(void)
{
	u64 entry = (u64)pal_code + 0x10;
	memset(pal_code, 0xc3, PG);             /* ret, everywhere */
	memset(pal_data, 0x5a, sizeof(pal_data));
	memset(pal_stack, 0x5b, PG);
	memset(pal_param, 0x5c, PG);
	good_pal();
	u32 eax;
	int v = tv(TV_HC_REG, (u64)&secs, 0, (u64)&params, entry, &eax);
	check("reg", v < 0 && eax == TV_OK, "REG of a good PAL gave eax=0x%x (vector %d)", eax, v);
	if (v >= 0 || eax != TV_OK)
		return;
	isolated();
	expect("unreg", TV_HC_UNREG, entry, 0, 0, 0, TV_OK);
	bool scrubbed = all_bytes(pal_code, PG, 0) && all_bytes(pal_data, sizeof(pal_data), 0) &&
			all_bytes(pal_stack, PG, 0) && all_bytes(pal_param, PG, 0);
	check("unreg_scrubbed", scrubbed, "after UNREG the PAL's pages are readable but not all "
	      "zero (code[0]=0x%x data[0]=0x%x)", pal_code[0], pal_data[0]);
	int wv = safe_write64((u64)pal_data, 0x77);
	check("unreg_writable", wv < 0 && pal_data[0] == 0x77,
	      "after UNREG a write to the DATA page gave vector %d", wv);
	expect("unreg_twice", TV_HC_UNREG, entry, 0, 0, 0, TV_ERR_ENTRY);
	/* The same pages may be registered again once given back. */
	good_pal();
	reg_expect("reg_again", entry, TV_OK);
	expect("unreg_again", TV_HC_UNREG, entry, 0, 0, 0, TV_OK);
}

static void run(void)
{
	if (check_need_hv("cpuid_leaf"))
		return;
	cpuid_and_test();
	genrand();
	pcrs();
	bad_registrations();
	reg_unreg();
}

SCENARIO(65, trustvisor, run, "TrustVisor: CPUID leaf, TEST, GENRAND, PCRs, REG isolation, bad "
	 "registrations, UNREG scrubbing");
