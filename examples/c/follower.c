/* Follower: a reader that follows a store folder (a server's --data-dir, or a replica's)
 * and prints each new record as it arrives: `date id type len payload`, the payload as
 * text when it is printable ASCII, else `hex:...`. Records already there are skipped.
 * Stops after N records, or on Ctrl-C.
 * Usage: follower DIR [N] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsynclog.h>

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static void print_record(const msl_record *rec) {
    int printable = 1;
    for (size_t i = 0; i < rec->len; i++)
        if (rec->data[i] < 0x20 || rec->data[i] > 0x7e) printable = 0;
    printf("%s %llu %d %zu ", rec->date, (unsigned long long)rec->id, rec->type, rec->len);
    if (printable) {
        fwrite(rec->data, 1, rec->len, stdout);
    } else {
        fputs("hex:", stdout);
        for (size_t i = 0; i < rec->len; i++) printf("%02x", rec->data[i]);
    }
    putchar('\n');
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    long limit = argc > 2 ? atol(argv[2]) : -1; /* -1: until Ctrl-C */

    /* Skip what is there: read to the end once, then follow from the record after the last. */
    msl_reader *reader;
    if (msl_reader_open(dir, NULL, 0, false, &reader) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return 1;
    }
    msl_record rec;
    char date[11] = "";
    uint64_t next_id = 0;
    while (msl_reader_next(reader, &rec, -1) == MSL_OK) {
        memcpy(date, rec.date, sizeof date); /* rec is borrowed: copy what we keep */
        next_id = rec.id + 1;
    }
    msl_reader_free(reader);
    if (msl_reader_open(dir, date[0] ? date : NULL, next_id, true, &reader) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return 1;
    }

    signal(SIGINT, on_sigint);
    fprintf(stderr, "following %s\n", dir);
    long count = 0;
    msl_status st = MSL_OK;
    while (count != limit && !interrupted) {
        st = msl_reader_next(reader, &rec, 500); /* wake up twice a second to look at Ctrl-C */
        if (st == MSL_TIMEOUT) continue;
        if (st != MSL_OK) break;
        print_record(&rec);
        count++;
    }
    int failed = st != MSL_OK && st != MSL_TIMEOUT && st != MSL_END;
    if (failed) fprintf(stderr, "read: %s\n", msl_last_error());
    msl_reader_free(reader);
    fprintf(stderr, "stopped after %ld records\n", count);
    return failed;
}
