#!/bin/sh
# install_test.sh - what a user outside the project meets after `make install`:
#  1. `make install PREFIX=$tmp/p` writes an ftsrt.pc that names $tmp/p, and a
#     C program builds and runs against the installed library through
#     `pkg-config --cflags --libs ftsrt` alone;
#  2. `pip install ./python` gives an importable ftsrt that finds that library
#     through pkg-config, and the package `make install` copies finds the one
#     next to it;
#  3. the library is installed under its soname, libftsrt.so.MAJOR (from 1.0
#     the ABI is the major version), which is what programs record;
#  4. the binding's version is the library's, and it refuses a library of
#     another major version (or an older minor) with a clear message but
#     accepts a newer minor of its major.
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

# the version of the installed header names the library's files: the real one
# libftsrt.so.1.3.0, its soname libftsrt.so.1 (a link to it, and the SONAME
# the library records), the development link libftsrt.so
hdr="$tmp/p/include/ftsrt.h"
version=$(sed -n 's/^#define FTSRT_VERSION_STRING "\(.*\)"/\1/p' "$hdr")
major=$(sed -n 's/^#define FTSRT_VERSION_MAJOR \([0-9]*\)/\1/p' "$hdr")
minor=$(sed -n 's/^#define FTSRT_VERSION_MINOR \([0-9]*\)/\1/p' "$hdr")
[ "$version" = 1.3.0 ] && [ "$major" = 1 ] && [ "$minor" = 3 ] ||
	fail "ftsrt.h says version '$version', major '$major', minor '$minor': this test expects 1.3.0"
[ -f "$tmp/p/lib/libftsrt.so.1.3.0" ] && [ ! -L "$tmp/p/lib/libftsrt.so.1.3.0" ] ||
	fail "make install did not install lib/libftsrt.so.1.3.0"
for l in libftsrt.so.1 libftsrt.so; do
	[ "$(readlink "$tmp/p/lib/$l")" = libftsrt.so.1.3.0 ] || fail "lib/$l is not a link to libftsrt.so.1.3.0"
done
soname=$(LC_ALL=C readelf -d "$tmp/p/lib/libftsrt.so.1.3.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libftsrt.so.1 ] || fail "the library's SONAME is '$soname', not libftsrt.so.1"

cat >"$tmp/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <ftsrt.h>
int main(void)
{
	ftsrt_plan *p = NULL;
	ftsrt_error err = {0};
	struct ftsrt_run_options o = FTSRT_INIT(struct ftsrt_run_options);
	if (strcmp(ftsrt_version(), FTSRT_VERSION_STRING) != 0)
		return 2;
	/* a missing plan: a status and a message, no crash */
	if (ftsrt_plan_open(&p, "/nonexistent.ftsplan", NULL, &err) != FTSRT_EIO || p ||
	    err.status != FTSRT_EIO || !err.message[0])
		return 3;
	if (ftsrt_run_options_default(&o, &err) != FTSRT_OK || o.threads != 1 || o.scale != 1.0)
		return 4;
	printf("libftsrt %s: %s\n", ftsrt_version(), ftsrt_strerror(FTSRT_EIO));
	return 0;
}
C
flags=$(PKG_CONFIG_PATH="$tmp/p/lib/pkgconfig" pkg-config --cflags --libs ftsrt) || fail "pkg-config ftsrt"
# shellcheck disable=SC2086
"$CC" ${LDFLAGS:-} -o "$tmp/hello" "$tmp/hello.c" $flags -Wl,-rpath,"$tmp/p/lib" || fail "cc \$(pkg-config --cflags --libs ftsrt)"
out=$("$tmp/hello") || fail "the program built against the installed library failed ($?)"
[ "$out" = "libftsrt $version: input/output error" ] || fail "unexpected output: $out"
needed=$(LC_ALL=C readelf -d "$tmp/hello" | sed -n 's/.*(NEEDED).*\[\(libftsrt[^]]*\)\]/\1/p')
[ "$needed" = libftsrt.so.1 ] || fail "a program linked with -lftsrt needs '$needed', not libftsrt.so.1"

# the package make install copied, next to its library
PYTHONPATH="$tmp/p/lib/ftsc/python" FTSRT_LIBRARY= $PYTHON -c "
import ftsrt, sys
assert ftsrt.library_path() == '$tmp/p/lib/libftsrt.so', ftsrt.library_path()
assert ftsrt.library_version() == '$version', ftsrt.library_version()
assert ftsrt.__version__ == '$version', ftsrt.__version__
assert ftsrt._ABI == ($major, $minor), ftsrt._ABI
import ftsrt._torch_backend      # backend=\"torch\" is installed too
" || fail "the installed package does not load the installed library"

# pip install of python/ (a copy: setuptools writes build/ and *.egg-info beside it)
if $PYTHON -m pip --version >/dev/null 2>&1 && $PYTHON -c 'import setuptools' 2>/dev/null; then
	cp -r python "$tmp/src"
	$PYTHON -m pip install -q --no-build-isolation --no-deps --no-index --target "$tmp/site" "$tmp/src" \
		>"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; fail "pip install ./python"; }
	(cd "$tmp" && PYTHONPATH="$tmp/site" PKG_CONFIG_PATH="$tmp/p/lib/pkgconfig" FTSRT_LIBRARY= $PYTHON -c "
import ftsrt, importlib.metadata
assert ftsrt.__file__.startswith('$tmp/site/'), ftsrt.__file__
assert ftsrt.library_path() == '$tmp/p/lib/libftsrt.so', ftsrt.library_path()
assert ftsrt.__version__ == '$version', ftsrt.__version__
assert importlib.metadata.version('ftsrt') == '$version', importlib.metadata.version('ftsrt')
import ftsrt._torch_backend
assert ftsrt._torch_backend.__file__.startswith('$tmp/site/'), ftsrt._torch_backend.__file__
print('pip-installed ftsrt', ftsrt.__version__, 'loads', ftsrt.library_path(), ftsrt.library_version())
") || fail "the pip-installed package does not find the installed library"
else
	fail "$PYTHON has no pip or setuptools: run 'make deps' as root (python3-pip, python3-setuptools)"
fi

# a library of another major version, or an older minor, is refused, naming
# both versions; a newer minor of the same major passes the version check (the
# fake then lacks the rest of the interface, which is reported as such)
fake() {
	cat >"$tmp/fake.c" <<C
const char *ftsrt_version(void) { return "$1"; }
const char *ftsrt_strerror(int s) { (void)s; return "?"; }
C
	"$CC" -shared -fPIC -o "$tmp/libfake.so" "$tmp/fake.c" || fail "cc -shared fake.c"
	PYTHONPATH=python FTSRT_LIBRARY="$tmp/libfake.so" $PYTHON -c "
import ftsrt
try:
    ftsrt.library_version()
except ftsrt.FtsrtError as e:
    print(e)
else:
    print('accepted')
" || fail "python"
}
for v in 9.4.2 2.0.0 0.1.0 0.9.9 1.0.7 1.1.4 1.2.9; do
	msg=$(fake $v)
	case $msg in *"is libftsrt $v; "*"needs libftsrt 1.3 or a newer 1.x"*) ;; *) fail "a $v library: $msg" ;; esac
done
for v in 1.3.4 1.4.0; do
	msg=$(fake $v)
	case $msg in *"(libftsrt $v) lacks ftsrt_"*) ;; *) fail "a $v library (a newer minor or patch): $msg" ;; esac
done
echo "install_test: make install, soname, pkg-config, pip install and the version check: ok"
