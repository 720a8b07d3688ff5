#!/bin/sh
# install_test.sh - what a user outside the project meets after `make install`:
#  1. `make install PREFIX=$tmp/p` writes an ftsrt.pc that names $tmp/p, and a
#     C program builds and runs against the installed library through
#     `pkg-config --cflags --libs ftsrt` alone;
#  2. `pip install ./python` gives an importable ftsrt that finds that library
#     through pkg-config, and the package `make install` copies finds the one
#     next to it;
#  3. the binding refuses a library of another version with a clear message.
# Run from the repository root by `make check` (the build must be done).
# Environment: CC, MAKE, LDFLAGS (the sanitizer flags of the build), PYTHON
# (a command: "env LD_PRELOAD=... python3" for a sanitized build).
set -eu
CC=${CC:-cc}
MAKE=${MAKE:-make}
PYTHON=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

"$MAKE" -s install PREFIX="$tmp/p" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
pc="$tmp/p/lib/pkgconfig/ftsrt.pc"
grep -qx "prefix=$tmp/p" "$pc" || { cat "$pc"; fail "ftsrt.pc does not say prefix=$tmp/p"; }
for f in bin/ftsc bin/ftsrun lib/libftsrt.a lib/libftsrt.so include/ftsrt.h share/man/man1/ftsc.1 \
	share/man/man3/libftsrt.3 lib/ftsc/python/ftsrt/__init__.py; do
	[ -e "$tmp/p/$f" ] || fail "make install did not install $f"
done

cat >"$tmp/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <ftsrt.h>
int main(void)
{
	ftsrt_plan *p = NULL;
	char msg[256];
	if (strcmp(ftsrt_version(), FTSRT_VERSION_STRING) != 0)
		return 2;
	/* a missing plan: a status and a message, no crash */
	if (ftsrt_plan_open(&p, "/nonexistent.ftsplan", msg, sizeof msg) == FTSRT_OK)
		return 3;
	printf("libftsrt %s: %s\n", ftsrt_version(), ftsrt_strerror(FTSRT_EIO));
	return 0;
}
C
flags=$(PKG_CONFIG_PATH="$tmp/p/lib/pkgconfig" pkg-config --cflags --libs ftsrt) || fail "pkg-config ftsrt"
# shellcheck disable=SC2086
"$CC" ${LDFLAGS:-} -o "$tmp/hello" "$tmp/hello.c" $flags -Wl,-rpath,"$tmp/p/lib" || fail "cc \$(pkg-config --cflags --libs ftsrt)"
out=$("$tmp/hello") || fail "the program built against the installed library failed"
case $out in "libftsrt "*) ;; *) fail "unexpected output: $out" ;; esac

# the package make install copied, next to its library
PYTHONPATH="$tmp/p/lib/ftsc/python" FTSRT_LIBRARY= $PYTHON -c "
import ftsrt, sys
assert ftsrt.library_path() == '$tmp/p/lib/libftsrt.so', ftsrt.library_path()
assert ftsrt.library_version() == ftsrt.__version__, ftsrt.library_version()
" || fail "the installed package does not load the installed library"

# pip install of python/ (a copy: setuptools writes build/ and *.egg-info beside it)
if $PYTHON -m pip --version >/dev/null 2>&1 && $PYTHON -c 'import setuptools' 2>/dev/null; then
	cp -r python "$tmp/src"
	$PYTHON -m pip install -q --no-build-isolation --no-deps --no-index --target "$tmp/site" "$tmp/src" \
		>"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; fail "pip install ./python"; }
	(cd "$tmp" && PYTHONPATH="$tmp/site" PKG_CONFIG_PATH="$tmp/p/lib/pkgconfig" FTSRT_LIBRARY= $PYTHON -c "
import ftsrt
assert ftsrt.__file__.startswith('$tmp/site/'), ftsrt.__file__
assert ftsrt.library_path() == '$tmp/p/lib/libftsrt.so', ftsrt.library_path()
print('pip-installed ftsrt', ftsrt.__version__, 'loads', ftsrt.library_path(), ftsrt.library_version())
") || fail "the pip-installed package does not find the installed library"
else
	fail "$PYTHON has no pip or setuptools: run 'make deps' as root (python3-pip, python3-setuptools)"
fi

# a library of another version is refused, naming both versions
cat >"$tmp/fake.c" <<'C'
const char *ftsrt_version(void) { return "9.4.2"; }
const char *ftsrt_strerror(int s) { (void)s; return "?"; }
C
"$CC" -shared -fPIC -o "$tmp/libfake.so" "$tmp/fake.c"
msg=$(PYTHONPATH=python FTSRT_LIBRARY="$tmp/libfake.so" $PYTHON -c "
import ftsrt
try:
    ftsrt.library_version()
except ftsrt.FtsrtError as e:
    print(e)
else:
    print('accepted')
") || fail "python"
case $msg in *"is libftsrt 9.4.2"*"needs libftsrt 0.1.x"*) ;; *) fail "a 9.4.2 library: $msg" ;; esac
echo "install_test: make install, pkg-config, pip install and the version check: ok"
