/*
 * err_check.h - asserting libftsrt's error convention (ftsrt.h,
 * CONVENTIONS) in the unit tests.
 *
 * The macros take the call as an expression that passes E as its last
 * argument (its ftsrt_error *), and need a variable `ftsrt_error err` in
 * scope:
 *
 *   FAILS(FTSRT_EINVAL, ftsrt_optim_set_lr(o, 9, 0.1, E));
 *   ck_assert_str_eq(err.message, "no parameter group 9");
 *   SUCCEEDS(ftsrt_optim_set_lr(o, 0, 0.1, E));
 *
 * FAILS runs the call twice: with E = &err, where it must return want and
 * fill err (status equal to the return value, a non-empty NUL-terminated
 * message; err is first filled with garbage so a stale value cannot pass),
 * then with E = NULL, where it must return want again.  err keeps the first
 * call's report.  Use it for calls that fail without side effects.
 *
 * SUCCEEDS runs the call once with E = &err: it must return FTSRT_OK and
 * leave err exactly as it was.
 */
#ifndef ERR_CHECK_H
#define ERR_CHECK_H

#include <check.h>
#include <string.h>

#include "ftsrt.h"

#define ERR_GARBAGE 0x5a

static inline void err_check_failed(int rc, int want, const ftsrt_error *e, const char *call,
				    int line)
{
	ck_assert_msg(rc == want, "line %d: %s returned %d, want %d", line, call, rc, want);
	const char *nul = memchr(e->message, '\0', sizeof(e->message));
	ck_assert_msg(nul != NULL, "line %d: %s: err.message not NUL-terminated", line, call);
	ck_assert_msg(e->status == rc, "line %d: %s: err.status %d, returned %d (%s)", line, call,
		      e->status, rc, e->message);
	ck_assert_msg(e->message[0] != '\0', "line %d: %s: empty err.message", line, call);
}

static inline void err_check_untouched(int rc, const ftsrt_error *e, const char *call, int line)
{
	ck_assert_msg(rc == FTSRT_OK, "line %d: %s returned %d: %.*s", line, call, rc,
		      (int)sizeof(e->message), e->message);
	const unsigned char *b = (const unsigned char *)e;
	for (size_t k = 0; k < sizeof(*e); k++)
		ck_assert_msg(b[k] == ERR_GARBAGE, "line %d: %s succeeded but wrote err byte %zu", line,
			      call, k);
}

#define FAILS(want, call)                                                                  \
	do {                                                                               \
		ftsrt_error *E = &err;                                                     \
		memset(&err, ERR_GARBAGE, sizeof(err));                                    \
		int rc_ = (call);                                                          \
		err_check_failed(rc_, (want), &err, #call, __LINE__);                      \
		E = NULL;                                                                  \
		rc_ = (call);                                                              \
		ck_assert_msg(rc_ == (want), "line %d: %s with a NULL err returned %d",    \
			      __LINE__, #call, rc_);                                       \
	} while (0)

#define SUCCEEDS(call)                                                                     \
	do {                                                                               \
		ftsrt_error *E = &err;                                                     \
		memset(&err, ERR_GARBAGE, sizeof(err));                                    \
		int rc_ = (call);                                                          \
		err_check_untouched(rc_, &err, #call, __LINE__);                           \
	} while (0)

#endif /* ERR_CHECK_H */
