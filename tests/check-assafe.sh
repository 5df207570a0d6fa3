#!/bin/sh
# check-assafe.sh: no forbidden call in a function marked UVM_AS_SAFE.
#
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The libuvm authors.  See LICENSE.
#
# The fault path runs in signal handlers (doc/conventions.md [conventions.assafe]): no malloc, no
# locks the interrupted thread could hold, no stdio.  Every function whose
# definition starts with UVM_AS_SAFE is read up to its closing brace in
# column 0 and searched for calls that are not async-signal-safe.
srcdir=${srcdir:-.}
forbidden='(^|[^A-Za-z0-9_])(malloc|calloc|realloc|free|strdup|printf|fprintf|sprintf|snprintf|puts|fputs|fwrite|fopen|fclose|perror|syslog|getenv|pthread_mutex_[a-z]+|pthread_once|pthread_cond_[a-z]+|pthread_rwlock_[a-z]+|exit|atexit|qsort|dlopen|dlsym)[[:space:]]*\('
status=0
checked=0
for f in "$srcdir"/lib/*.c "$srcdir"/lib/*.h; do
    [ -f "$f" ] || continue
    out=$(awk -v re="$forbidden" '
        /^UVM_AS_SAFE/ { in_fn = 1; name = $0 }
        in_fn && $0 ~ re { print FILENAME ":" FNR ": " $0 "   (in: " name ")" }
        in_fn && /^}/ { in_fn = 0; n++ }
        END { print "#count " n + 0 }' "$f")
    checked=$((checked + $(printf '%s\n' "$out" | sed -n 's/^#count //p')))
    bad=$(printf '%s\n' "$out" | grep -v '^#count')
    if [ -n "$bad" ]; then
        printf 'forbidden call on the fault path:\n%s\n' "$bad"
        status=1
    fi
done
if [ "$checked" -lt 20 ]; then
    echo "only $checked UVM_AS_SAFE functions found: is the marker still used?"
    exit 1
fi
echo "$checked async-signal-safe functions checked"
exit $status
