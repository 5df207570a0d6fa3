#!/bin/sh
# man-lint.sh: the man pages are complete and mandoc -Tlint -Wwarning is
# silent on each of them.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
#
# Checks, in this order:
#  1. every function declared in include/uvm.h is named (.Nm) in the NAME
#     section of some page;
#  2. every name in a NAME section is the page itself or one of the links
#     man/Makefile.inc installs (UVM_MAN_LINKS), so that man NAME works;
#  3. groff, which renders the pages for man-db's man(1), prints no error
#     (it drops the text after a reference whose author is called "Li",
#     an mdoc macro, for instance); skipped without groff;
#  4. mandoc -Tlint -Wwarning prints nothing for any page.
# Without mandoc (UVM_MAN_MANDOC empty) 1 to 3 still run, and a pass is
# reported as a skip (77), since the lint itself did not run.

srcdir=${srcdir:-`dirname "$0"`/..}
MANDOC=${UVM_MAN_MANDOC-mandoc}
status=0

# NAME-section names of a page, one per line.
names() {
  sed -n '/^\.Sh NAME/,/^\.Sh /s/^\.Nm \([A-Za-z0-9_-]*\).*/\1/p' "$1"
}

all_names=
for page in "$srcdir"/man/*.[1-9]; do
  all_names="$all_names `names "$page" | tr '\n' ' '`"
done

# 1. The public functions all have a page.
fns=`sed -n 's/.*[ *]\(uvm_[a-z0-9_]*\)(.*/\1/p' "$srcdir/include/uvm.h" | sort -u`
test -n "$fns" || { echo "man-lint.sh: no function found in uvm.h" >&2; exit 99; }
for f in $fns; do
  case " $all_names " in
    *" $f "*) ;;
    *) echo "FAIL: $f (include/uvm.h) is named in no page's NAME section"; status=1 ;;
  esac
done

# 2. Every name is reachable with man(1) after make install.
if test -n "${UVM_MAN_LINKS+set}"; then
  for page in "$srcdir"/man/*.[1-9]; do
    base=`basename "$page"`
    sec=`echo "$base" | sed 's/.*\.//'`
    for n in `names "$page"`; do
      test "$n.$sec" = "$base" && continue
      case " `echo $UVM_MAN_LINKS` " in
        *" $base $n.$sec "*) ;;
        *) echo "FAIL: $base names $n, but man/Makefile.inc installs no link $n.$sec"; status=1 ;;
      esac
    done
  done
else
  echo "UVM_MAN_LINKS not set (not run by make check): link check skipped"
fi

# 3. groff.
if command -v groff >/dev/null 2>&1; then
  for page in "$srcdir"/man/*.[1-9]; do
    out=`groff -mdoc -Tutf8 -z "$page" 2>&1`
    if test -n "$out"; then
      echo "FAIL: groff -mdoc `basename "$page"`:"
      echo "$out"
      status=1
    fi
  done
else
  echo "groff is not installed: groff check skipped"
fi

# 4. mandoc -Tlint.
if test -z "$MANDOC" || ! command -v "$MANDOC" >/dev/null 2>&1; then
  echo "mandoc is not installed: lint skipped (names checked: status $status)"
  test $status -eq 0 && exit 77
  exit $status
fi
for page in "$srcdir"/man/*.[1-9]; do
  out=`"$MANDOC" -Tlint -Wwarning "$page" 2>&1`
  rc=$?
  if test $rc -ne 0 || test -n "$out"; then
    echo "FAIL: mandoc -Tlint -Wwarning `basename "$page"` (exit $rc):"
    echo "$out"
    status=1
  else
    echo "PASS: mandoc -Tlint -Wwarning `basename "$page"`"
  fi
done
exit $status
