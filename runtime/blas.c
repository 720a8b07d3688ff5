/*
 * blas.c - libftsrt's dealings with OpenBLAS's process-wide state (see
 * blas.h): the core type, corrected once per process when OpenBLAS's
 * DYNAMIC_ARCH detection picked a generic or older core than the CPU
 * supports (Debian's 0.3.21 runs an AVX-512 Xeon it does not know as
 * "Prescott", its sgemm 3-5x slower), and the thread count around
 * libftsrt's own calls.
 *
 * OpenBLAS reads OPENBLAS_CORETYPE only in its load-time constructor.
 * Its DYNAMIC_ARCH builds export gotoblas_dynamic_quit(), which forgets
 * the kernel table, and gotoblas_dynamic_init(), which picks one again
 * (from OPENBLAS_CORETYPE when set) and initialises its blocking
 * parameters: the correction sets OPENBLAS_CORETYPE for the duration of
 * that call, as a user would have at load time, and restores the
 * environment after.  Every entry point is looked up with dlsym in the
 * library that holds cblas_sgemm, so an OpenBLAS without them (a
 * single-architecture build) is left alone.
 */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif /* x86 */

int rt_blas_linked(void)
{
	return cblas_sgemm && cblas_dgemm && openblas_set_num_threads && openblas_get_num_threads;
}

/* --- the CPU ------------------------------------------------------------ */

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (unsigned long long)hi << 32 | lo;
}
#endif /* x86 */

void rt_cpu_isa_detect(struct rt_cpu_isa *isa)
{
	memset(isa, 0, sizeof(*isa));
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d, max;
	if (!__get_cpuid(0, &max, &b, &c, &d))
		return;
	isa->amd = (b == 0x68747541u /* "Auth"enticAMD */ || b == 0x6f677948u /* "Hygo"nGenuine */);
	if (max < 7 || !__get_cpuid(1, &a, &b, &c, &d))
		return;
	const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
	if (!osxsave || !avx)
		return;
	const unsigned long long xcr0 = xgetbv0();
	const int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
	__cpuid_count(7, 0, a, b, c, d);
	const unsigned l7b = b, l7max = a;
	isa->avx2_fma = ymm && fma && ((l7b >> 5) & 1);
	const unsigned need512 = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31;  /* F, DQ, BW, VL */
	isa->avx512 = isa->avx2_fma && zmm && (l7b & need512) == need512;
	if (isa->avx512 && l7max >= 1) {
		__cpuid_count(7, 1, a, b, c, d);
		isa->avx512_bf16 = (a >> 5) & 1;
	}
#endif /* x86 */
}

/* --- the decision ------------------------------------------------------- */

/*
 * OpenBLAS 0.3.21's x86 core names by the widest vector ISA their kernels
 * use: 4 AVX-512, 3 AVX2 with FMA, 2 AVX, 1 SSE or older.
 */
static const struct {
	const char *name;
	int rank;
} cores[] = {
	{"Unknown", 0}, {"Katmai", 1}, {"Coppermine", 1}, {"Northwood", 1}, {"Prescott", 1},
	{"Banias", 1}, {"Atom", 1}, {"Core2", 1}, {"Penryn", 1}, {"Dunnington", 1},
	{"Nehalem", 1}, {"Athlon", 1}, {"Opteron", 1}, {"Opteron_SSE3", 1}, {"Barcelona", 1},
	{"Nano", 1}, {"Bobcat", 1}, {"Sandybridge", 2}, {"Bulldozer", 2}, {"Piledriver", 2},
	{"Steamroller", 2}, {"Excavator", 3}, {"Haswell", 3}, {"Zen", 3}, {"SkylakeX", 4},
	{"Cooperlake", 4}, {"SapphireRapids", 4},
};

static int core_rank(const char *name)
{
	for (size_t i = 0; name && i < sizeof(cores) / sizeof(cores[0]); i++)
		if (strcasecmp(name, cores[i].name) == 0)
			return cores[i].rank;
	return -1;
}

const char *rt_blas_core_fix(const char *detected, const struct rt_cpu_isa *isa,
			     int have_cooperlake)
{
	int rank = core_rank(detected);
	if (rank < 0)
		return NULL;
	if (isa->avx512 && rank < 4)
		return isa->avx512_bf16 && have_cooperlake ? "Cooperlake" : "SkylakeX";
	if (isa->avx2_fma && rank < 3)
		return isa->amd ? "Zen" : "Haswell";
	return NULL;
}

/* --- the correction, once per process ------------------------------------ */

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static char report[200];                /* what setup did (process-wide, written once) */

/* The entry point sym of the OpenBLAS that holds cblas_sgemm (h), or NULL. */
static void *sym(void *h, const char *name)
{
	return h ? dlsym(h, name) : NULL;
}

/* OpenBLAS's table symbol of core name: gotoblas_ and the name in capitals. */
static int has_table(void *h, const char *name)
{
	char s[64] = "gotoblas_";
	size_t n = strlen(s);
	for (const char *p = name; *p && n + 1 < sizeof(s); p++)
		s[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	s[n] = '\0';
	return sym(h, s) != NULL;
}

/* Re-run OpenBLAS's DYNAMIC_ARCH initialisation with OPENBLAS_CORETYPE=core. */
static void reinit(void (*quit)(void), void (*init)(void), const char *core, const char *user)
{
	setenv("OPENBLAS_CORETYPE", core, 1);
	quit();
	init();
	if (user)
		setenv("OPENBLAS_CORETYPE", user, 1);
	else
		unsetenv("OPENBLAS_CORETYPE");
}

static void setup(void)
{
	const char *mode = getenv("FTSRT_OPENBLAS_CORETYPE");
	const int force = mode && strcmp(mode, "force") == 0;
	if (mode && *mode && !force && strcmp(mode, "auto") != 0) {
		snprintf(report, sizeof(report), "OpenBLAS core type left alone (FTSRT_OPENBLAS_CORETYPE=%s)",
			 mode);
		return;
	}
	void *h = NULL;
	Dl_info di;
	if (!rt_blas_linked()) {
		snprintf(report, sizeof(report), "no OpenBLAS in this process (Muon runs its reference path)");
		return;
	}
	if (dladdr((void *)cblas_sgemm, &di) && di.dli_fname)
		h = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	char *(*corename)(void) = (char *(*)(void))sym(h, "openblas_get_corename");
	void (*quit)(void) = (void (*)(void))sym(h, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))sym(h, "gotoblas_dynamic_init");
	if (!corename || !quit || !init) {
		snprintf(report, sizeof(report), "OpenBLAS core type left alone (%s)",
			 corename ? "not a DYNAMIC_ARCH build" : "not an OpenBLAS with openblas_get_corename");
		if (h)
			dlclose(h);
		return;
	}
	char detected[32];
	snprintf(detected, sizeof(detected), "%s", corename());
	struct rt_cpu_isa isa;
	rt_cpu_isa_detect(&isa);
	const char *fix = rt_blas_core_fix(detected, &isa, has_table(h, "Cooperlake"));
	const char *user = getenv("OPENBLAS_CORETYPE");
	char userbuf[64];
	if (user) {
		snprintf(userbuf, sizeof(userbuf), "%s", user);
		user = userbuf;
	}
	if (!fix) {
		snprintf(report, sizeof(report), "OpenBLAS core type %s", detected);
	} else if (user && !force) {
		snprintf(report, sizeof(report), "OpenBLAS core type %s, set by OPENBLAS_CORETYPE=%s "
			 "(the CPU supports %s: left alone)", detected, user, fix);
	} else if (!has_table(h, fix)) {
		snprintf(report, sizeof(report), "OpenBLAS core type %s (the CPU supports %s, which "
			 "this OpenBLAS lacks)", detected, fix);
	} else {
		reinit(quit, init, fix, user);
		if (strcasecmp(corename(), fix) == 0) {
			snprintf(report, sizeof(report), "OpenBLAS core type %s corrected to %s (%s); "
				 "FTSRT_OPENBLAS_CORETYPE=off keeps OpenBLAS's choice", detected, fix,
				 isa.avx512 ? "the CPU has AVX-512" : "the CPU has AVX2 and FMA");
		} else {
			reinit(quit, init, detected, user);
			snprintf(report, sizeof(report), "OpenBLAS core type %s (OpenBLAS refused %s)",
				 corename(), fix);
		}
	}
	dlclose(h);
}

void rt_blas_setup(void)
{
	pthread_once(&setup_once, setup);
}

const char *rt_blas_report(void)
{
	return report;
}

/* --- threads ------------------------------------------------------------ */

/*
 * libftsrt's calls run OpenBLAS on one thread: its parallelism is the
 * caller's team.  Nested and concurrent sections (two optimizers stepping
 * in two threads) share one saved count: the first to begin saves it, the
 * last to end restores it.
 */
static pthread_mutex_t single_mu = PTHREAD_MUTEX_INITIALIZER;
static int single_depth, single_saved;  /* process-wide, under single_mu */

void rt_blas_single_begin(void)
{
	if (!rt_blas_linked())
		return;
	pthread_mutex_lock(&single_mu);
	if (single_depth++ == 0) {
		single_saved = openblas_get_num_threads();
		if (single_saved != 1)
			openblas_set_num_threads(1);
	}
	pthread_mutex_unlock(&single_mu);
}

void rt_blas_single_end(void)
{
	if (!rt_blas_linked())
		return;
	pthread_mutex_lock(&single_mu);
	if (--single_depth == 0 && single_saved != 1)
		openblas_set_num_threads(single_saved);
	pthread_mutex_unlock(&single_mu);
}
