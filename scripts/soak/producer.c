/* Soak producer in C: commits numbered records "C 0000123 <filler>" (type 21) through the
 * global C SDK (one exactly-once producer identity per process) at about RATE records per
 * second, until it has committed at least N records AND the file STOP exists; then flushes,
 * closes, writes the number it committed to COUNT and exits 0. A full queue (the server
 * is down for a while) is waited out by retrying the same record; any other error exits 1.
 * Usage: producer ADDR N STOP COUNT RATE */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modsynclog.h>

static const char ALPHABET[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s ADDR N STOP COUNT RATE\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    const char *stop = argv[3], *count_file = argv[4];
    double rate = strtod(argv[5], NULL);
    if (msl_init(argv[1]) != MSL_OK) {
        fprintf(stderr, "C producer: init: %s\n", msl_last_error());
        return 1;
    }
    char buf[64];
    double start = now();
    long i = 0;
    for (;; i++) {
        if (i % 50 == 0) {
            if (i >= n && access(stop, F_OK) == 0) break;
            double ahead = (double)i / rate - (now() - start);
            if (ahead > 0) {
                struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        int len = snprintf(buf, sizeof buf, "C %07ld ", i);
        for (long j = 0; j < i % 32; j++) buf[len++] = ALPHABET[(i * 7 + j) % 36];
        for (;;) {
            msl_status st = msl_commit(21, (const uint8_t *)buf, (size_t)len);
            if (st == MSL_OK) break;
            if (st != MSL_QUEUE_FULL) {
                fprintf(stderr, "C producer: commit %ld: status %d: %s\n", i, (int)st, msl_last_error());
                return 1;
            }
            fprintf(stderr, "C producer: queue full at record %ld, retrying\n", i);
        }
    }
    if (msl_flush(120000) != MSL_OK) {
        fprintf(stderr, "C producer: flush: %s\n", msl_last_error());
        return 1;
    }
    if (msl_close() != MSL_OK) {
        fprintf(stderr, "C producer: close: %s\n", msl_last_error());
        return 1;
    }
    FILE *f = fopen(count_file, "w");
    if (f == NULL || fprintf(f, "%ld\n", i) < 0 || fclose(f) != 0) {
        perror(count_file);
        return 1;
    }
    return 0;
}
