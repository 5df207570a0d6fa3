#!/bin/sh
# man-examples.sh: compile and run every C program in the EXAMPLES section
# of every man page, so that no example can rot.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
#
# A program is a literal display (.Bd -literal ... .Ed) in EXAMPLES whose
# first line is an #include.  Other displays (shell sessions, output) are
# left alone.  The roff escapes allowed in a program are \e (a backslash),
# \& (nothing), \- (a minus) and \(aq (an apostrophe); any other escape is
# an error, so that nothing is extracted wrong in silence.
#
# A page whose functions are not implemented yet carries the line
#   .\" man-examples: compile-only: REASON
# and its programs are compiled and linked but not run.  Remove the line
# when the functions land.
#
# Run by make check from the top build directory, where lib/libuvm.la is;
# man/Makefile.inc exports UVM_MAN_CC, UVM_MAN_CPPFLAGS, UVM_MAN_CFLAGS,
# UVM_MAN_LDFLAGS and UVM_MAN_LIBTOOL.  Writes only to a temporary
# directory under the current one.  Exit status: 0 all passed, 1 a program
# failed to extract, compile or run, 99 a hard error.

srcdir=${srcdir:-`dirname "$0"`/..}
CC=${UVM_MAN_CC:-cc}
CPPFLAGS=${UVM_MAN_CPPFLAGS:--I$srcdir/include}
CFLAGS=${UVM_MAN_CFLAGS:--Wall -Wextra -Werror}
LDFLAGS=${UVM_MAN_LDFLAGS:-}
LIBTOOL=${UVM_MAN_LIBTOOL:-./libtool}

if test ! -f lib/libuvm.la; then
  echo "man-examples.sh: lib/libuvm.la not found: run me from the top build directory" >&2
  exit 99
fi

tmp=`mktemp -d ./man-examples.XXXXXX` || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 99' 1 2 13 15

# Seconds a program may run; timeout(1) is in coreutils, but be kind.
if command -v timeout >/dev/null 2>&1; then run='timeout 60'; else run=; fi

# extract PAGE PREFIX: write PREFIX.1.c, PREFIX.2.c, ... ; complain on
# stderr and exit 1 about anything it cannot turn back into C.
extract() {
  awk -v prefix="$2" -v page="$1" '
    function unescape(s,    out, i, c, rest) {
      out = ""
      while ((i = index(s, "\\")) > 0) {
        out = out substr(s, 1, i - 1)
        rest = substr(s, i + 1)
        if (substr(rest, 1, 1) == "e")        { out = out "\\"; s = substr(rest, 2) }
        else if (substr(rest, 1, 1) == "&")   { s = substr(rest, 2) }
        else if (substr(rest, 1, 1) == "-")   { out = out "-"; s = substr(rest, 2) }
        else if (substr(rest, 1, 3) == "(aq") { out = out "\047"; s = substr(rest, 4) }
        else {
          printf "%s:%d: unsupported roff escape \\%s in an example\n",
              page, NR, substr(rest, 1, 3) > "/dev/stderr"
          bad = 1
          return out
        }
      }
      return out s
    }
    /^\.Sh / { inex = ($0 == ".Sh EXAMPLES"); next }
    inex && /^\.Bd -literal/ { inbd = 1; nl = 0; next }
    inbd && /^\.Ed/ {
      inbd = 0
      if (nl > 0 && line[1] ~ /^#include/) {
        n++
        file = prefix "." n ".c"
        for (i = 1; i <= nl; i++)
          print line[i] > file
        close(file)
      }
      next
    }
    inbd && /^\.\\"/ { next }
    inbd && /^[.\047]/ {
      printf "%s:%d: a request inside an example: %s\n", page, NR, $0 > "/dev/stderr"
      bad = 1
      next
    }
    inbd { line[++nl] = unescape($0) }
    END { exit bad }
  ' "$1"
}

status=0
nprog=0
for page in "$srcdir"/man/*.[1-9]; do
  base=`basename "$page"`
  if ! extract "$page" "$tmp/$base"; then
    echo "FAIL: $base: examples could not be extracted"
    status=1
    continue
  fi
  only=`sed -n 's/^\.\\\\" man-examples: compile-only: *//p' "$page"`
  for src in "$tmp/$base".*.c; do
    test -f "$src" || continue
    n=`echo "$src" | sed 's/.*\.\([0-9]*\)\.c$/\1/'`
    name="$base example $n"
    nprog=`expr $nprog + 1`
    obj="$tmp/$base.$n.o"
    exe="$tmp/$base.$n"
    if ! $CC $CPPFLAGS $CFLAGS -c -o "$obj" "$src" ||
       ! $LIBTOOL --quiet --mode=link --tag=CC $CC $CFLAGS $LDFLAGS \
           -o "$exe" "$obj" lib/libuvm.la; then
      echo "FAIL: $name does not compile; the program was:"
      cat -n "$src"
      status=1
      continue
    fi
    if test -n "$only"; then
      echo "PASS: $name compiles (not run: $only)"
      continue
    fi
    echo "--- $name: output"
    $run "$exe"
    rc=$?
    if test $rc -ne 0; then
      echo "FAIL: $name exited with status $rc; the program was:"
      cat -n "$src"
      status=1
    else
      echo "PASS: $name runs"
    fi
  done
done

if test $status -eq 0 && test $nprog -eq 0; then
  echo "man-examples.sh: no example program found under $srcdir/man" >&2
  exit 99
fi
exit $status
