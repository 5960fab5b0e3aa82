/* Sends N lines to a modsynclog server through the global SDK, then waits until the
 * server has acknowledged them all.  Usage: producer [ADDR [N]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsynclog.h>

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:1235";
    long n = argc > 2 ? atol(argv[2]) : 10;

    if (msl_init(addr) != MSL_OK) {
        fprintf(stderr, "init: %s\n", msl_last_error());
        return 1;
    }
    for (long i = 0; i < n; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "hello from C, line %ld", i);
        if (msl_commit(1101 /* app log */, (const uint8_t *)line, (size_t)len) != MSL_OK) {
            fprintf(stderr, "commit: %s\n", msl_last_error());
            return 1;
        }
    }
    /* Wait up to 10 s until the server acknowledged everything, then stop. */
    if (msl_flush(10000) != MSL_OK) {
        fprintf(stderr, "flush: %s\n", msl_last_error());
        return 1;
    }
    msl_close();
    printf("sent %ld records\n", n);
    return 0;
}
