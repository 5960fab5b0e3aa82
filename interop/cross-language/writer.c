/* Commits N records of type 11 through the C SDK: "c:<i>:" then (i % 40) bytes (i*7+j) % 256. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsynclog.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR N\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    if (msl_init(argv[1]) != MSL_OK) {
        fprintf(stderr, "init: %s\n", msl_last_error());
        return 1;
    }
    unsigned char buf[64];
    for (long i = 0; i < n; i++) {
        int len = snprintf((char *)buf, sizeof buf, "c:%ld:", i);
        for (long j = 0; j < i % 40; j++) buf[len++] = (unsigned char)((i * 7 + j) % 256);
        if (msl_commit(11, buf, (size_t)len) != MSL_OK) {
            fprintf(stderr, "commit: %s\n", msl_last_error());
            return 1;
        }
    }
    if (msl_flush(60000) != MSL_OK || msl_close() != MSL_OK) {
        fprintf(stderr, "flush: %s\n", msl_last_error());
        return 1;
    }
    return 0;
}
