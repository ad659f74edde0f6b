/* guest_main: parse the command line, run the chosen scenarios, report.
 *
 * Command line (key=value, space separated):
 *   scenarios=all | name[,name...]   which scenarios, in that order (default all)
 *   poweroff=1                       power off at the end (else halt)
 *   exitport=0xf4                    also try QEMU's isa-debug-exit there
 *   uartinit=0                       keep the UART as GRUB/the hypervisor set it
 *   (scenario options such as nmi_rounds=N: guest/README.md)
 *
 * Output, one line each: GUEST START <cmdline>; SCENARIO <name>: <what>;
 * CHECK <scenario>.<check>: PASS | FAIL <why>; INFO <scenario>: ...;
 * INFO summary: tsc=<n> at the end; GUEST SUMMARY passed=N failed=M;
 * GUEST DONE. An unexpected exception
 * prints GUEST FAULT lines, then the summary (the fault counted as failed)
 * and GUEST DONE. */
#include "guest.h"
#include "smp.h"

extern const struct scenario __scenarios_start[], __scenarios_end[];

static u8 bsp_ist[3][4096] __attribute__((aligned(16)));
static const char *cur_scn = "guest";
static unsigned passed, failed;
static bool want_poweroff;
static u16 exit_port;

static void check_line(const char *check, const char *why)
{
	if (why) {
		failed++;
		printf("CHECK %s.%s: FAIL %s\n", cur_scn, check, why);
	} else {
		passed++;
		printf("CHECK %s.%s: PASS\n", cur_scn, check);
	}
}

void check_pass(const char *check) { check_line(check, NULL); }

void guest_counts(unsigned *p, unsigned *f)
{
	*p = passed;
	*f = failed;
}

void check_fail(const char *check, const char *fmt, ...)
{
	char why[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	check_line(check, why[0] ? why : "(no reason given)");
}

void check(const char *check, bool ok, const char *fmt, ...)
{
	if (ok) {
		check_line(check, NULL);
		return;
	}
	char why[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	check_line(check, why[0] ? why : "(no reason given)");
}

bool check_need_hv(const char *check)
{
	if (hv.present)
		return false;
	check_line(check, hv.absent_why);
	return true;
}

void info(const char *fmt, ...)
{
	char buf[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("INFO %s: %s\n", cur_scn, buf);
}

const char *cmdline_get(const char *key, size_t *len)
{
	size_t kl = strlen(key);
	for (const char *p = boot_info.cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) > kl && !strncmp(tok, key, kl) && tok[kl] == '=') {
			*len = (size_t)(p - tok) - kl - 1;
			return tok + kl + 1;
		}
	}
	return NULL;
}

static bool opt_u64(const char *key, u64 *v)
{
	size_t n;
	const char *s = cmdline_get(key, &n);
	return s && parse_u64(s, n, v);
}

u64 cmdline_u64(const char *key, u64 dflt)
{
	u64 v;
	return opt_u64(key, &v) ? v : dflt;
}

void guest_finish(bool faulted)
{
	if (faulted) {
		failed++;
		printf("GUEST FAULT in scenario %s: the scenario was aborted\n", cur_scn);
	}
	if (cmdline_u64("lapic_stats", 0))
		lapic_print_access_counts();    /* for bench/bench_lapic.py */
	/* The emulated cycles since power-on (the TSC starts at 0 at reset,
	 * and the hypervisor gives the guest its own clock): bench_guest_boot's
	 * cost measure that the host's load does not move. */
	printf("INFO summary: tsc=%lu at the end\n", (unsigned long)rdtsc());
	printf("GUEST SUMMARY passed=%u failed=%u\n", passed, failed);
	printf("GUEST DONE\n");
	if (want_poweroff)
		power_off(exit_port);
	halt_forever();
}

static void run(const struct scenario *s)
{
	cur_scn = s->name;
	printf("SCENARIO %s: %s\n", s->name, s->desc);
	s->run();
	cur_scn = "guest";
}

static void run_selected(void)
{
	size_t n;
	const char *sel = cmdline_get("scenarios", &n);
	if (!sel) {
		sel = "all";
		n = 3;
	}
	while (n) {
		size_t l = 0;
		while (l < n && sel[l] != ',')
			l++;
		if (l == 3 && !strncmp(sel, "all", 3)) {
			for (const struct scenario *s = __scenarios_start; s < __scenarios_end; s++)
				if (!s->explicit_only)
					run(s);
		} else if (l) {
			const struct scenario *found = NULL;
			for (const struct scenario *s = __scenarios_start; s < __scenarios_end; s++)
				if (strlen(s->name) == l && !strncmp(s->name, sel, l))
					found = s;
			if (found) {
				run(found);
			} else {
				char known[256] = "";
				size_t k = 0;
				for (const struct scenario *s = __scenarios_start; s < __scenarios_end; s++)
					k += snprintf(known + (k < sizeof(known) ? k : sizeof(known)),
						      k < sizeof(known) ? sizeof(known) - k : 0,
						      "%s%s", k ? "," : "", s->name);
				check_fail("scenarios", "unknown scenario '%.*s' (known: %s)",
					   (int)l, sel, known);
			}
		}
		sel += l;
		n -= l;
		if (n) {
			sel++;
			n--;
		}
	}
}

void guest_main(u32 magic, u64 mbi)
{
	u8 *ist[3] = { bsp_ist[0] + 4096, bsp_ist[1] + 4096, bsp_ist[2] + 4096 };
	cpu_init(0, ist);
	mb2_parse(magic, mbi);
	u64 v;
	if (!opt_u64("uartinit", &v) || v)
		uart_init(0x3f8);
	want_poweroff = opt_u64("poweroff", &v) && v;
	if (opt_u64("exitport", &v) && v < 0x10000)
		exit_port = (u16)v;

	printf("GUEST START %s\n", boot_info.cmdline);
	if (!boot_info.valid)
		check_fail("multiboot2", "bad boot magic 0x%x or info 0x%lx; no command line, "
			   "memory map or ACPI", magic, mbi);
	hv_detect();
	if (hv.present)
		info("hypervisor '%s' present, ABI version %u, max leaf 0x%x",
		     hv.signature, hv.abi_version, hv.max_leaf);
	else
		info("%s", hv.absent_why);
	run_selected();
	guest_finish(false);
}
