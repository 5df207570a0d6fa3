/*
 * env.c: the environment variables libuvm reads, parsed in one place.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The libuvm authors.  See LICENSE.
 *
 * Owns: every UVM_* variable the library reads, its parsed value and its
 * warning.  No other file calls getenv (mimalloc's options, doc/conventions.md [conventions.env]).
 *
 *   UVM_BACKEND=auto|mprotect   protection mechanism (default auto).
 *
 * Parsing is strict: a value is one of the listed words exactly, with no
 * case folding, no blanks, no prefix or suffix.  Anything else (a typo,
 * trailing junk, a number, a megabyte of text, control characters) is
 * ignored: the default is used and one line is written to stderr, once per
 * variable and process.  An empty value means the default, silently, as an
 * unset one does: "UVM_BACKEND= prog" is how a shell says "default".
 *
 * Variables are read with secure_getenv: a set-user-ID or file-capability
 * program (AT_SECURE) ignores them, so the user who runs it cannot steer
 * the library inside it (glibc treats its own tunables the same way).
 *
 * Each variable is read once, on first use, never on the fault path,
 * which sees only the value parsed so far.
 *
 * Must never: crash or abort on any value; write the value to stderr raw
 * (it may hold newlines or be huge: the warning is one line, at most
 * ENV_SHOW bytes of the value, escaped); warn twice for one variable.
 */
#include "uvm-int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How much of a bad value the warning shows. */
#define ENV_SHOW 64

struct env_word {
    const char *word;
    int value;
};

/* Append s to the line buf[*len..cap), truncating. */
static void line_add(char *buf, size_t cap, size_t *len, const char *s)
{
    while (*s != '\0' && *len + 1 < cap)
        buf[(*len)++] = *s++;
    buf[*len] = '\0';
}

/* The value as the warning shows it: printable ASCII as is, every other
 * byte (and the backslash) escaped, cut after ENV_SHOW bytes. */
static void line_add_value(char *buf, size_t cap, size_t *len, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; v[i] != '\0' && i < ENV_SHOW; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[5] = { (char)c, 0 };
        if (c == '\\') {
            esc[1] = '\\';
        } else if (c < 0x20 || c > 0x7e) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
        }
        line_add(buf, cap, len, esc);
    }
    if (v[i] != '\0')
        line_add(buf, cap, len, "...");
}

/* One line, one write(2): lines of several threads never interleave. */
static void env_warn(const char *name, const char *value, const char *expect)
{
    char line[64 + 4 * ENV_SHOW + 128];
    size_t len = 0;
    line_add(line, sizeof line, &len, "libuvm: ignoring ");
    line_add(line, sizeof line, &len, name);
    line_add(line, sizeof line, &len, "=");
    line_add_value(line, sizeof line, &len, value);
    line_add(line, sizeof line, &len, " (expected ");
    line_add(line, sizeof line, &len, expect);
    line_add(line, sizeof line, &len, ")\n");
    ssize_t n = write(2, line, len);
    (void)n;                            /* nowhere to report a failure */
}

/* The value of the word the variable holds, or dflt (unset, empty or
 * unknown: the last warns). */
static int env_keyword(const char *name, const struct env_word *words,
                       size_t nwords, int dflt, const char *expect)
{
    const char *v = secure_getenv(name);
    if (v == NULL || v[0] == '\0')
        return dflt;
    for (size_t i = 0; i < nwords; i++)
        if (strcmp(v, words[i].word) == 0)
            return words[i].value;
    env_warn(name, v, expect);
    return dflt;
}

/* ---- UVM_BACKEND ---- */

static const struct env_word backend_words[] = {
    { "auto", UVM__BACKEND_AUTO },
    { "mprotect", UVM__BACKEND_MPROTECT },
};

static atomic_int env_backend = UVM__BACKEND_AUTO;  /* (c) after parse */

static void env_parse_backend(void)
{
    atomic_store(&env_backend,
                 env_keyword("UVM_BACKEND", backend_words,
                             sizeof backend_words / sizeof backend_words[0],
                             UVM__BACKEND_AUTO, "auto or mprotect"));
}

/* For the fault path, which may not run pthread_once: the value parsed so
 * far (AUTO before the first uvm__env_backend, which every way of creating
 * a region calls). */
UVM_AS_SAFE int uvm__env_backend_cached(void)
{
    return atomic_load(&env_backend);
}

int uvm__env_backend(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, env_parse_backend);
    return atomic_load(&env_backend);
}
