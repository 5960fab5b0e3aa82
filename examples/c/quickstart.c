/* Quickstart: the global SDK. Connects to a server, commits a few records, waits until
 * the server acknowledged them, and prints how many were committed.
 * Usage: quickstart [ADDR]   (default 127.0.0.1:1235)
 * The same example exists in Rust, Python, Node and Go (see scripts/examples.sh). */
#include <stdio.h>
#include <string.h>

#include <modsynclog.h>

#define COUNT 3

int main(int argc, char **argv) {
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:1235";

    if (msl_init(addr) != MSL_OK) { /* once per process; connects in the background */
        fprintf(stderr, "init: %s\n", msl_last_error());
        return 1;
    }
    for (int i = 0; i < COUNT; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "hello from c %d", i);
        if (msl_commit(1101 /* app log */, (const uint8_t *)line, (size_t)len) != MSL_OK) { /* only queues */
            fprintf(stderr, "commit: %s\n", msl_last_error());
            return 1;
        }
    }
    if (msl_flush(10000) != MSL_OK) { /* wait up to 10 s: the server has them all now */
        fprintf(stderr, "flush: %s\n", msl_last_error());
        return 1;
    }
    msl_close();
    printf("committed %d records\n", COUNT);
    return 0;
}
