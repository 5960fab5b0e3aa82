/* Tiny test helpers shared by the C tests (plain C11). Each test program prints one line
 * per check and ends with "RESULT passed=N failed=M"; run.sh adds them up. */
#ifndef MSL_TEST_CHECK_H
#define MSL_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "modsynclog.h"

static atomic_int checks_passed;
static atomic_int checks_failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            atomic_fetch_add(&checks_passed, 1);                              \
            printf("ok   - ");                                                \
        } else {                                                              \
            atomic_fetch_add(&checks_failed, 1);                              \
            printf("FAIL - %s:%d: ", __FILE__, __LINE__);                     \
        }                                                                     \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        fflush(stdout);                                                       \
    } while (0)

/* Checks that `call` returned `want`, printing msl_last_error() when it did not. */
#define CHECK_STATUS(call, want)                                              \
    do {                                                                      \
        msl_status got_ = (call);                                             \
        if (got_ == (want))                                                   \
            CHECK(1, "%s == %s", #call, #want);                               \
        else                                                                  \
            CHECK(0, "%s == %s (got %d: %s)", #call, #want, (int)got_,        \
                  msl_last_error());                                          \
    } while (0)

static inline int report(void) {
    int p = atomic_load(&checks_passed), f = atomic_load(&checks_failed);
    printf("RESULT passed=%d failed=%d\n", p, f);
    return f == 0 ? 0 : 1;
}

/* The payload of record `seq` from source `src`: a 4-byte little-endian seq, then
 * 12..211 bytes derived from both. Returns the length written to buf (>= 212 bytes). */
static inline size_t payload(int src, unsigned seq, unsigned char *buf) {
    size_t len = 16 + (seq * 7u + (unsigned)src * 13u) % 200u;
    buf[0] = (unsigned char)(seq & 0xff);
    buf[1] = (unsigned char)((seq >> 8) & 0xff);
    buf[2] = (unsigned char)((seq >> 16) & 0xff);
    buf[3] = (unsigned char)((seq >> 24) & 0xff);
    for (size_t i = 4; i < len; i++) buf[i] = (unsigned char)((unsigned)src * 31u + seq * 17u + i);
    return len;
}

#endif
