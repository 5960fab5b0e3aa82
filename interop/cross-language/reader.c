/* Prints every record of a store folder as "DATE ID TIME TYPE HEX". */
#include <stdio.h>

#include <modsynclog.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    msl_reader *r;
    if (msl_reader_open(argv[1], NULL, 0, false, &r) != MSL_OK) {
        fprintf(stderr, "open: %s\n", msl_last_error());
        return 1;
    }
    msl_record rec;
    msl_status st;
    while ((st = msl_reader_next(r, &rec, 0)) == MSL_OK) {
        printf("%s %llu %d %d ", rec.date, (unsigned long long)rec.id, rec.time, rec.type);
        for (size_t i = 0; i < rec.len; i++) printf("%02x", rec.data[i]);
        printf("\n");
    }
    msl_reader_free(r);
    if (st != MSL_END) {
        fprintf(stderr, "read: %s\n", msl_last_error());
        return 1;
    }
    return 0;
}
